using NormalizingFlows.Autograd;
using NormalizingFlows.Data;
using NormalizingFlows.Data.Preprocessing;
using NormalizingFlows.Models;
using NormalizingFlows.Tensors;
using NormalizingFlows.Training;

namespace NormalizingFlows.Hep.AnomalyDetection;

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
        var model = new FlowModel<float>(spec, preprocessing.Pipeline, contextPreprocessing: preprocessing.ContextPipeline);
        using var x = BumpHuntPreprocessing.FeatureTable(train.Features).ToTensor<float>().Untrack();
        using var c = BumpHuntPreprocessing.Context(train.Mjj).Untrack();
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
            var c = BumpHuntPreprocessing.Context(mjj.AsSpan(start, rows));
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
            var c = BumpHuntPreprocessing.Context(mjj.AsSpan(start, rows));
            var x = Model.Sample(rows, rng, c, clampToTrainingRange: true).ReadOnlySpan;
            for (int i = 0; i < rows; i++)
                for (int j = 0; j < 4; j++) f[j][start + i] = x[i * 4 + j];
        }
        return f;
    }
}
