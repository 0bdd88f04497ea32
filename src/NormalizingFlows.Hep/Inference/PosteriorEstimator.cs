using System.Numerics;
using NormalizingFlows.Autograd;
using NormalizingFlows.Data;
using NormalizingFlows.Data.Preprocessing;
using NormalizingFlows.Flows;
using NormalizingFlows.IO;
using NormalizingFlows.Models;
using NormalizingFlows.Nn;
using NormalizingFlows.Nn.Embeddings;
using NormalizingFlows.Tensors;
using NormalizingFlows.Training;
using NormalizingFlows.Transforms;

namespace NormalizingFlows.Hep.Inference;

/// <summary>
/// Amortised posterior estimation with a conditional flow (cINN): p(θ | x) learned once from simulated (θ, x) pairs,
/// then evaluated or sampled for any observation in one batched pass. The estimator is a <see cref="FlowModel{T}"/>
/// (<see cref="Model"/>): θ standardised by its preprocessing, x by its context preprocessing (for a sum-pooling
/// summary, by the set embedding's per-feature constants), an optional summary network (<see cref="SummarySpec"/>)
/// as its context embedding, trained jointly with the flow. Densities are in the original units of θ. It saves as
/// an ordinary model file (<see cref="ModelFile"/>, metadata "role" = "posterior").
/// </summary>
public sealed class PosteriorEstimator<T> : Module<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>The "kind" of the posterior files of older versions (their own format, refused on load).</summary>
    public const string LegacyFileKind = "nflow-posterior";

    /// <summary>The metadata key marking a model file as a posterior, and its value.</summary>
    public const string RoleKey = "role", Role = "posterior";

    private const int MaxRowsPerPass = 1 << 18;

    /// <summary>Builds a fresh (untrained, identity-standardised) estimator from <paramref name="spec"/>.</summary>
    public PosteriorEstimator(PosteriorSpec spec) : this(Validated(spec), Build(spec))
    {
    }

    private PosteriorEstimator(PosteriorSpec spec, FlowModel<T> model)
    {
        Spec = spec;
        Model = model;
        _map = (EmbeddedContextTransform<T>)model.Flow.Transform;
        RegisterModule("flow", model.Flow);
    }

    private readonly EmbeddedContextTransform<T> _map;

    private static PosteriorSpec Validated(PosteriorSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        spec.Validate();
        return spec;
    }

    // θ and x standardisation (identity until fitted); a set summary standardises its elements itself
    private static FlowModel<T> Build(PosteriorSpec spec)
    {
        var theta = PreprocessingPipeline.Create<T>(PreprocessingSpec.Uniform(spec.ParameterNames, PreprocessingKind.Standardize));
        var x = spec.Summary.Kind == SummaryKind.SumPooling ? null
            : PreprocessingPipeline.Create<T>(PreprocessingSpec.Uniform(spec.ObservationNames, PreprocessingKind.Standardize));
        return new FlowModel<T>(spec.Flow with { DType = FlowSpec.DTypeOf<T>() }, theta, spec.ParameterNames, x, spec.Summary.Embedding, ContextNames(spec));
    }

    // the model's context columns: the observation names, with a presence flag before each set element
    private static string[] ContextNames(PosteriorSpec spec)
    {
        if (spec.Summary.Kind != SummaryKind.SumPooling) return spec.ObservationNames;
        int f = spec.Summary.ElementFeatures;
        return [.. spec.ObservationNames.Chunk(f).SelectMany((names, e) => names.Prepend(PresenceName(e)))];
    }

    private static string PresenceName(int element) => $"element{element}.present";

    // the observations as the model reads them: set elements in the presence-flag layout
    private Tensor<T> Context(Tensor<T> x) => Spec.Summary.Kind == SummaryKind.SumPooling ? SetEmbedding<T>.WithPresenceFlags(x, Spec.Summary.ElementFeatures) : x;

    /// <summary>
    /// A fresh estimator: flow <paramref name="flow"/> (a <see cref="FlowSpec.KnownBuilders"/> name with context) over
    /// the parameters, summary <paramref name="summary"/> (default none).
    /// </summary>
    public static PosteriorEstimator<T> Create(IReadOnlyList<string> parameterNames, IReadOnlyList<string> observationNames, string flow = "nsf",
        int layers = 5, int hidden = 64, int? bins = null, double bound = 4.0, SummarySpec? summary = null, long seed = 0)
    {
        ArgumentNullException.ThrowIfNull(parameterNames);
        ArgumentNullException.ThrowIfNull(observationNames);
        summary ??= new SummarySpec();
        return new PosteriorEstimator<T>(new PosteriorSpec
        {
            Flow = new FlowSpec
            {
                Builder = flow, Features = parameterNames.Count, Layers = layers, Hidden = hidden, Bins = bins, Bound = bound,
                ContextFeatures = summary.ContextFeatures(observationNames.Count), DType = FlowSpec.DTypeOf<T>(), Seed = seed,
            },
            Summary = summary,
            ParameterNames = parameterNames.ToArray(),
            ObservationNames = observationNames.ToArray(),
        });
    }

    /// <summary>The architecture.</summary>
    public PosteriorSpec Spec { get; }

    /// <summary>The model: columns θ, context columns x, standardisations, summary embedding, history and metadata.</summary>
    public FlowModel<T> Model { get; }

    /// <summary>The conditional flow p(θ | x) in original units (<see cref="FlowModel{T}.Flow"/>); what the trainer fits.</summary>
    public Flow<T> Flow => Model.Flow;

    /// <summary>Number of parameters d.</summary>
    public int ParameterDimension => Spec.ParameterNames.Length;

    /// <summary>Number of observation features m.</summary>
    public int ObservationFeatures => Spec.ObservationNames.Length;

    /// <summary>The training history (set by Fit, restored by <see cref="Load"/>), or null.</summary>
    public TrainingHistory? History { get => Model.History; private set => Model.History = value; }

    /// <summary>Free string metadata saved with the model (e.g. the simulator's name).</summary>
    public Dictionary<string, string> Metadata => Model.Metadata;

    // ------------------------------------------------------------------------------------------------ standardisation

    /// <summary>
    /// Sets the standardisation from training pairs: per-column mean and standard deviation of θ and of x (for a
    /// sum-pooling summary, per element feature shared by all elements, over the present elements only, with
    /// σ = 1 for a feature without spread). A constant θ or x column is refused (leave it out).
    /// </summary>
    public void FitStandardisation(Tensor<T> theta, Tensor<T> x)
    {
        CheckPairs(theta, x);
        Fit(Model.Preprocessing!, theta);
        if (Model.ContextPreprocessing is { } xPre) Fit(xPre, x);
        else
        {
            int f = Spec.Summary.ElementFeatures;
            var m = ColumnMoments.Of(x.ToDoubleArray(), ObservationFeatures, f);
            for (int j = 0; j < f; j++)
                if (m.Count[j] == 0) throw new ArgumentException($"x column {j} has no finite values");
            var std = Enumerable.Range(0, f).Select(j => m.SampleStd(j) is var s && s > 0 && double.IsFinite(s) ? s : 1.0).ToArray();
            ((SetEmbedding<T>)Model.Embedding!).SetStandardization(m.Mean, std);
        }
    }

    // fits the standardisation of pipeline p's columns on the rows of data and takes its constants over
    private static void Fit(PreprocessingPipeline<T> p, Tensor<T> data)
        => p.LoadStateDict(PreprocessingPipeline.Fit<T>(Table.FromTensor(data, p.ColumnNames), p.Spec).StateDict());

    // ------------------------------------------------------------------------------------------------ evaluation

    /// <summary>
    /// log p(θᵢ | xᵢ) for every row i of <paramref name="theta"/> ([N, d]) and <paramref name="x"/> ([N, m]), in the
    /// original units of θ, in evaluation mode without gradients, in batches (one context per row).
    /// </summary>
    public double[] LogPosterior(Tensor<T> theta, Tensor<T> x)
    {
        CheckPairs(theta, x);
        CheckFinite(theta, "parameter");
        CheckObservations(x);
        int n = theta.Rows;
        var result = new double[n];
        for (int start = 0; start < n; start += MaxRowsPerPass)
        {
            using var scope = TensorScope.Begin();
            int rows = Math.Min(MaxRowsPerPass, n - start);
            Model.LogProb(theta.CopyRows(start, rows), Context(x.CopyRows(start, rows))).CopyTo(result, start);
        }
        return result;
    }

    /// <summary>
    /// <paramref name="samplesPerObservation"/> posterior samples for each row of <paramref name="x"/> ([N, m]): a
    /// [N·n, d] tensor in original units whose rows i·n … i·n + n − 1 belong to observation i. The context
    /// preprocessing and summary network run once per observation; the mapped context is repeated n times (one per
    /// row) and the flow samples all rows at once (in passes of at most 262 144 rows), without a per-observation loop.
    /// </summary>
    public Tensor<T> SamplePosterior(Tensor<T> x, int samplesPerObservation, Rng rng)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(rng);
        ArgumentOutOfRangeException.ThrowIfLessThan(samplesPerObservation, 1);
        if (x.Rank != 2 || x.Cols != ObservationFeatures)
            throw new ArgumentException($"observations must be [N, {ObservationFeatures}] ({string.Join(", ", Spec.ObservationNames)}), got {x.ShapeString}", nameof(x));
        CheckObservations(x);
        int n = x.Rows, k = samplesPerObservation, d = ParameterDimension;
        if ((long)n * k > int.MaxValue / Math.Max(1, d)) throw new ArgumentException($"{n} observations × {k} samples is too many for one call; split the observations");
        var result = Tensor<T>.Empty(n * k, d).Untrack();
        var outSpan = result.Span;
        using var _ = EvalScope();
        int obsPerPass = Math.Max(1, MaxRowsPerPass / k);
        for (int start = 0; start < n; start += obsPerPass)
        {
            using var scope = TensorScope.Begin();
            int rows = Math.Min(obsPerPass, n - start);
            // the context map runs once per observation, not once per sample
            var context = _map.MapContext(new Var<T>(Context(x.CopyRows(start, rows)))).Value;
            int c = context.Cols;
            var repeated = Tensor<T>.Empty(rows * k, c);
            var src = context.ReadOnlySpan;
            var dst = repeated.Span;
            for (int i = 0; i < rows; i++)
            {
                var row = src.Slice(i * c, c);
                for (int j = 0; j < k; j++) row.CopyTo(dst.Slice((i * k + j) * c, c));
            }
            var ctx = new Var<T>(repeated);
            var z = Flow.Base.Sample(rows * k, rng, ctx);
            var theta = _map.Inner.Inverse(z, ctx).X.Value;
            theta.ReadOnlySpan.CopyTo(outSpan.Slice(start * k * d, rows * k * d));
        }
        return result;
    }

    private EvalRestore EvalScope()
    {
        var restore = new EvalRestore(this, Training, GradMode.Disable());
        Eval();
        return restore;
    }

    private readonly struct EvalRestore(Module<T> module, bool wasTraining, GradMode.NoGradScope noGrad) : IDisposable
    {
        public void Dispose()
        {
            noGrad.Dispose();
            if (wasTraining) module.Train();
        }
    }

    // ------------------------------------------------------------------------------------------------ training

    /// <summary>
    /// Simulates <paramref name="pairs"/> (θ, x) pairs with <paramref name="simulator"/> and trains on them (the
    /// tensor overload of Fit).
    /// </summary>
    public TrainingHistory Fit(ISimulator simulator, int pairs, Rng rng, TrainingOptions? options = null, IProgress<TrainingProgress>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(simulator);
        ArgumentNullException.ThrowIfNull(rng);
        ArgumentOutOfRangeException.ThrowIfLessThan(pairs, 2);
        CheckSimulator(simulator);
        var (theta, x) = simulator.Sample(pairs, rng);
        using var thetaT = Tensor<T>.FromDoubles(theta, pairs, ParameterDimension).Untrack();
        using var xT = Tensor<T>.FromDoubles(x, pairs, ObservationFeatures).Untrack();
        return Fit(thetaT, xT, options, progress);
    }

    /// <summary>Throws when <paramref name="simulator"/>'s parameter or observation count differs from the model's.</summary>
    public void CheckSimulator(ISimulator simulator)
    {
        ArgumentNullException.ThrowIfNull(simulator);
        if (simulator.ParameterNames.Count != ParameterDimension || simulator.ObservationNames.Count != ObservationFeatures)
            throw new ArgumentException($"the simulator gives {simulator.ParameterNames.Count} parameters and {simulator.ObservationNames.Count} observation features; the model needs {ParameterDimension} and {ObservationFeatures}");
    }

    /// <summary>
    /// Fits the standardisation on the pairs, then the flow and the summary network jointly by maximum likelihood of
    /// θ given x with <see cref="MaximumLikelihoodTrainer{T}"/> (minibatches, Adam, schedule, clipping, validation
    /// fraction with the best epoch restored, early stopping, checkpoints and cancellation as set in
    /// <paramref name="options"/>; <paramref name="resumeFrom"/> continues from a checkpoint of the same run). Leaves
    /// the model in evaluation mode.
    /// </summary>
    public TrainingHistory Fit(Tensor<T> theta, Tensor<T> x, TrainingOptions? options = null, IProgress<TrainingProgress>? progress = null,
        CancellationToken cancellation = default, string? resumeFrom = null)
    {
        CheckPairs(theta, x);
        CheckFinite(theta, "parameter");
        CheckObservations(x);
        FitStandardisation(theta, x);
        var trainer = new MaximumLikelihoodTrainer<T>(Flow, options) { Progress = progress };
        Train();
        using var context = Context(x).Untrack();
        History = trainer.Fit(new TrainingData<T>(theta, context), cancellation: cancellation, resumeFrom: resumeFrom);
        Eval();
        return History;
    }

    /// <summary>
    /// Mean log posterior density log p(θ | x) per pair (original units of θ) and its standard error, in evaluation
    /// mode: the held-out figure of merit (higher is better).
    /// </summary>
    public (double Mean, double StandardError) MeanLogPosterior(Tensor<T> theta, Tensor<T> x)
    {
        var lp = LogPosterior(theta, x);
        double mean = lp.Average(), s2 = 0;
        foreach (var v in lp) s2 += (v - mean) * (v - mean);
        return (mean, lp.Length > 1 ? Math.Sqrt(s2 / (lp.Length - 1) / lp.Length) : double.NaN);
    }

    // ------------------------------------------------------------------------------------------------ checks

    private void CheckPairs(Tensor<T> theta, Tensor<T> x)
    {
        ArgumentNullException.ThrowIfNull(theta);
        ArgumentNullException.ThrowIfNull(x);
        if (theta.Rank != 2 || theta.Cols != ParameterDimension)
            throw new ArgumentException($"parameters must be [N, {ParameterDimension}] ({string.Join(", ", Spec.ParameterNames)}), got {theta.ShapeString}", nameof(theta));
        if (x.Rank != 2 || x.Cols != ObservationFeatures)
            throw new ArgumentException($"observations must be [N, {ObservationFeatures}] ({string.Join(", ", Spec.ObservationNames)}), got {x.ShapeString}", nameof(x));
        if (theta.Rows != x.Rows) throw new ArgumentException($"{theta.Rows} parameter rows but {x.Rows} observation rows");
    }

    private static void CheckFinite(Tensor<T> t, string what)
    {
        var s = t.ReadOnlySpan;
        int c = Math.Max(1, t.Cols);
        for (int i = 0; i < s.Length; i++)
            if (!T.IsFinite(s[i])) throw new ArgumentException($"{what} row {i / c}, column {i % c} is {s[i]}: values must be finite");
    }

    // finite observations, except the NaN of absent set elements (checked by SetEmbedding.WithPresenceFlags)
    private void CheckObservations(Tensor<T> x)
    {
        if (Spec.Summary.Kind != SummaryKind.SumPooling) CheckFinite(x, "observation");
    }

    // ------------------------------------------------------------------------------------------------ files

    /// <summary>
    /// Writes the model atomically as a <see cref="ModelFile"/> (flow, standardisations, summary network, history,
    /// the free <see cref="Metadata"/> and "role" = "posterior").
    /// </summary>
    public void Save(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        Model.Metadata[RoleKey] = Role;
        try { ModelFile.Save(path, Model); }
        finally { Model.Metadata.Remove(RoleKey); }
    }

    /// <summary>
    /// Loads a model written by <see cref="Save"/> (a float32 file loads as double and vice versa); throws
    /// <see cref="ModelFileException"/> naming the file and the problem: everything <see cref="ModelFile.Load{T}(string, bool)"/>
    /// checks, a model file that is not a posterior, and a posterior file of an older version (retrain it).
    /// </summary>
    public static PosteriorEstimator<T> Load(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: no such posterior model file", path);
        FlowModel<T> model;
        try { model = ModelFile.Load<T>(path, convert: true); }
        catch (ModelFileException ex) when (ex.FileKind == LegacyFileKind)
        {
            throw new ModelFileException(path, $"this posterior model was written by an older version of NormalizingFlows (a '{LegacyFileKind}' file, before posteriors became model files); retrain it with 'nflow infer train'", ex) { FileKind = LegacyFileKind };
        }
        if (!model.Metadata.Remove(RoleKey, out var role) || role != Role)
            throw new ModelFileException(path, $"not a posterior model (a flow model file without \"{RoleKey}\": \"{Role}\" metadata); train one with 'nflow infer train'") { FileKind = ModelFile.Kind };
        PosteriorSpec spec;
        try
        {
            spec = new PosteriorSpec
            {
                Flow = model.Spec, Summary = SummarySpec.From(model.EmbeddingSpec),
                ParameterNames = [.. model.Columns],
                ObservationNames = model.EmbeddingSpec is { Kind: EmbeddingSpec.Set } e
                    ? [.. model.ContextColumns.Where((_, j) => j % (e.ElementFeatures + 1) != 0)] : [.. model.ContextColumns],
            };
            spec.Validate();
        }
        catch (ArgumentException ex) { throw new ModelFileException(path, $"invalid posterior model: {ex.Message}", ex); }
        bool set = spec.Summary.Kind == SummaryKind.SumPooling;
        if (!IsStandardization(model.Preprocessing) || (set ? model.ContextPreprocessing is not null : !IsStandardization(model.ContextPreprocessing))
            || !model.ContextColumns.SequenceEqual(ContextNames(spec)))
            throw new ModelFileException(path, "invalid posterior model: its parameters (and observations, unless a set summary reads them) must be standardised");
        return new PosteriorEstimator<T>(spec, model);
    }

    private static bool IsStandardization(PreprocessingPipeline<T>? p) => p is not null && p.Spec.Columns.All(c => c.Kind == PreprocessingKind.Standardize);
}
