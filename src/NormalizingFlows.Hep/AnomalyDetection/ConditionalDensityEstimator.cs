using NormalizingFlows.Autograd;
using NormalizingFlows.Data;
using NormalizingFlows.Data.Preprocessing;
using NormalizingFlows.Models;
using NormalizingFlows.Tensors;
using NormalizingFlows.Training;

namespace NormalizingFlows.Hep.AnomalyDetection;

/// <summary>
/// The fixed maps in front of the bump-hunt density estimators: by default (<see cref="DefaultSpec"/>) the jet
/// masses go through log → standardise and the τ21 through min-max → logit → standardise (CATHODE's preprocessing);
/// the context is c = (ln m_jj − μ)/σ. Fitted once on ALL events (sidebands and signal region: only ranges, means and
/// widths, no labels), so that the outer and inner flows share it, every event lies in its domain, and its Jacobian
/// cancels in the ANODE ratio.
/// </summary>
public sealed class BumpHuntPreprocessing
{
    private BumpHuntPreprocessing(PreprocessingPipeline<float> pipeline, double mean, double std)
    {
        Pipeline = pipeline; ContextMean = mean; ContextStd = std;
    }

    /// <summary>The feature pipeline (columns <see cref="BumpHuntEvents.FeatureNames"/>).</summary>
    public PreprocessingPipeline<float> Pipeline { get; }

    /// <summary>Mean of ln m_jj.</summary>
    public double ContextMean { get; }

    /// <summary>Standard deviation of ln m_jj.</summary>
    public double ContextStd { get; }

    /// <summary>
    /// The default per-feature choices: log for m_j1 and for Δm_j (shifted by −5 GeV, as Δm_j ≥ 0 reaches 0), min-max →
    /// logit for the τ21 (bounded in (0, 1)). Min-max → logit on the masses, as CATHODE does on the LHCO data, squeezes
    /// the bulk of our unbounded log-normal masses against the lower edge and pushes the signal's Δm_j ≈ 0.4 TeV beyond
    /// the splines' ±bound, where the flow's tails are Gaussian: measured at the default 10⁶ events (seed 0), CATHODE's
    /// max SIC was 5.8 with min-max → logit on every feature and 26.0 with this spec (idealized detector: 25.8).
    /// </summary>
    public static PreprocessingSpec DefaultSpec { get; } = new([
        new ColumnPreprocessing("mj1", PreprocessingKind.Log),
        new ColumnPreprocessing("dmj", PreprocessingKind.Log) { Shift = -0.005 },
        new ColumnPreprocessing("tau21_j1", PreprocessingKind.MinMaxLogit),
        new ColumnPreprocessing("tau21_j2", PreprocessingKind.MinMaxLogit),
    ]);

    /// <summary>Fits the maps on <paramref name="events"/> with <paramref name="spec"/> (default <see cref="DefaultSpec"/>).</summary>
    public static BumpHuntPreprocessing Fit(BumpHuntEvents events, PreprocessingSpec? spec = null)
    {
        ArgumentNullException.ThrowIfNull(events);
        if (events.Count < 2) throw new ArgumentException($"preprocessing needs at least 2 events, got {events.Count}");
        spec ??= DefaultSpec;
        var pipeline = PreprocessingPipeline.Fit<float>(FeatureTable(events.Features), spec);
        var moments = ColumnMoments.Of(events.Mjj.Select(v => Math.Log(v)).ToArray(), 1);
        double s = Math.Sqrt(moments.PopulationVariance(0));
        return new BumpHuntPreprocessing(pipeline, moments.Mean[0], s > 0 ? s : 1);
    }

    /// <summary>The context tensor [N, 1] of the given m_jj values.</summary>
    public Tensor<float> Context(ReadOnlySpan<double> mjj)
    {
        var t = Tensor<float>.Empty(mjj.Length, 1);
        var s = t.Span;
        for (int i = 0; i < mjj.Length; i++)
        {
            if (!(mjj[i] > 0)) throw new ArgumentException($"m_jj of event {i} is {mjj[i]}: must be positive");
            s[i] = (float)((Math.Log(mjj[i]) - ContextMean) / ContextStd);
        }
        return t;
    }

    internal static Table FeatureTable(double[][] features, int start = 0, int count = -1)
    {
        int n = count < 0 ? features[0].Length - start : count, d = features.Length;
        var v = new double[n * d];
        for (int i = 0; i < n; i++)
            for (int j = 0; j < d; j++) v[i * d + j] = features[j][start + i];
        return new Table([.. BumpHuntEvents.FeatureNames], v, n);
    }
}

/// <summary>Settings of a conditional density estimator p(x | m_jj) (<see cref="ConditionalDensityEstimator"/>).</summary>
public sealed record DensityEstimatorOptions
{
    /// <summary>Flow builder (a <see cref="FlowSpec"/> name; default "maf-rqs": MAF with rational-quadratic splines, as CATHODE's MAF family).</summary>
    public string Builder { get; init; } = "maf-rqs";

    /// <summary>Flow layers.</summary>
    public int Layers { get; init; } = 4;

    /// <summary>Hidden units of each MADE.</summary>
    public int Hidden { get; init; } = 64;

    /// <summary>Spline bins (spline builders).</summary>
    public int Bins { get; init; } = 8;

    /// <summary>Splines act on [−Bound, Bound] of the standardised features (identity tails outside).</summary>
    public double Bound { get; init; } = 4.0;

    /// <summary>Maximum passes over the training events (early stopping may end sooner).</summary>
    public int Epochs { get; init; } = 30;

    /// <summary>Events per minibatch.</summary>
    public int BatchSize { get; init; } = 256;

    /// <summary>Adam's starting learning rate (cosine decay).</summary>
    public double LearningRate { get; init; } = 1e-3;

    /// <summary>Fraction of the events held out to pick the best epoch.</summary>
    public double ValidationFraction { get; init; } = 0.2;

    /// <summary>Epochs without validation improvement before stopping (0: never).</summary>
    public int Patience { get; init; } = 6;

    /// <summary>Seed of the initialisation, split and shuffling.</summary>
    public long Seed { get; init; }
}

/// <summary>
/// A conditional normalizing flow p(x | m_jj) over the four bump-hunt features, trained by maximum likelihood with a
/// held-out validation part (best epoch restored). Densities are in the ORIGINAL feature units (the preprocessing's
/// Jacobian included) — the "outer" (sideband) and "inner" (signal region) estimators of ANODE and CATHODE.
/// </summary>
public sealed class ConditionalDensityEstimator
{
    private const int Chunk = 16_384;

    private ConditionalDensityEstimator(FlowModel<float> model, BumpHuntPreprocessing prep, TrainingHistory history)
    {
        Model = model; Preprocessing = prep; History = history;
    }

    /// <summary>The flow with its preprocessing.</summary>
    public FlowModel<float> Model { get; }

    /// <summary>The shared preprocessing.</summary>
    public BumpHuntPreprocessing Preprocessing { get; }

    /// <summary>The training run.</summary>
    public TrainingHistory History { get; }

    /// <summary>Best validation log-likelihood per event (NaN without validation).</summary>
    public double BestValidationLogLikelihood =>
        History.Epochs.Select(e => e.ValidationLogLikelihood ?? double.NaN).DefaultIfEmpty(double.NaN).Max();

    /// <summary>Trains p(x | m_jj) on <paramref name="train"/> (labels unused).</summary>
    public static ConditionalDensityEstimator Fit(BumpHuntEvents train, BumpHuntPreprocessing preprocessing, DensityEstimatorOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(train);
        ArgumentNullException.ThrowIfNull(preprocessing);
        options ??= new DensityEstimatorOptions();
        if (train.Count < 10) throw new ArgumentException($"a density estimator needs at least 10 training events, got {train.Count}");
        var spec = new FlowSpec
        {
            Builder = options.Builder, Features = 4, Layers = options.Layers, Hidden = options.Hidden, Bins = options.Bins, Bound = options.Bound,
            ContextFeatures = 1, Seed = options.Seed,
        };
        var model = new FlowModel<float>(spec, preprocessing.Pipeline);
        using var x = BumpHuntPreprocessing.FeatureTable(train.Features).ToTensor<float>().Untrack();
        using var c = preprocessing.Context(train.Mjj).Untrack();
        var inside = preprocessing.Pipeline.InDomain(x);
        int outside = inside.Count(ok => !ok);
        if (outside > 0)
            throw new ArgumentException($"{outside} of {train.Count} training events (first: row {Array.IndexOf(inside, false)}) lie outside the preprocessing's feature range: fit the preprocessing on all events (BumpHuntPreprocessing.Fit)");
        var trainer = new MaximumLikelihoodTrainer<float>(model.Flow, new TrainingOptions
        {
            Epochs = options.Epochs, BatchSize = options.BatchSize, LearningRate = options.LearningRate,
            ValidationFraction = options.ValidationFraction, Patience = options.Patience, Seed = options.Seed,
            ReportEverySteps = int.MaxValue,
        });
        var history = trainer.Fit(new TrainingData<float>(x, c));
        model.History = history;
        return new ConditionalDensityEstimator(model, preprocessing, history);
    }

    /// <summary>log p(x | m_jj) of each event (original units; −∞ outside the preprocessing's domain).</summary>
    public double[] LogProb(double[][] features, double[] mjj)
    {
        ArgumentNullException.ThrowIfNull(features);
        ArgumentNullException.ThrowIfNull(mjj);
        int n = mjj.Length;
        if (features.Length != 4 || features.Any(f => f.Length != n)) throw new ArgumentException($"need 4 feature columns of {n} events");
        var lp = new double[n];
        for (int start = 0; start < n; start += Chunk)
        {
            int rows = Math.Min(Chunk, n - start);
            using var scope = TensorScope.Begin();
            var x = BumpHuntPreprocessing.FeatureTable(features, start, rows).ToTensor<float>();
            var c = Preprocessing.Context(mjj.AsSpan(start, rows));
            Model.LogProb(x, c).CopyTo(lp, start);
        }
        return lp;
    }

    /// <summary>log p(x | m_jj) of the events.</summary>
    public double[] LogProb(BumpHuntEvents events)
    {
        ArgumentNullException.ThrowIfNull(events);
        return LogProb(events.Features, events.Mjj);
    }

    /// <summary>One sample x ~ p(x | m_jj) per given m_jj, as feature columns (clamped into the preprocessing's training range).</summary>
    public double[][] Sample(double[] mjj, Rng rng)
    {
        ArgumentNullException.ThrowIfNull(mjj);
        ArgumentNullException.ThrowIfNull(rng);
        int n = mjj.Length;
        var f = Enumerable.Range(0, 4).Select(_ => new double[n]).ToArray();
        using var _ = GradMode.Disable();
        for (int start = 0; start < n; start += Chunk)
        {
            int rows = Math.Min(Chunk, n - start);
            using var scope = TensorScope.Begin();
            var c = Preprocessing.Context(mjj.AsSpan(start, rows));
            var x = Model.Sample(rows, rng, c, clampToTrainingRange: true).ReadOnlySpan;
            for (int i = 0; i < rows; i++)
                for (int j = 0; j < 4; j++) f[j][start + i] = x[i * 4 + j];
        }
        return f;
    }
}
