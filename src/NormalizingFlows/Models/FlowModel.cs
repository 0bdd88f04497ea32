using System.Numerics;
using NormalizingFlows.Autograd;
using NormalizingFlows.Data;
using NormalizingFlows.Data.Preprocessing;
using NormalizingFlows.Flows;
using NormalizingFlows.IO;
using NormalizingFlows.Nn;
using NormalizingFlows.Nn.Embeddings;
using NormalizingFlows.Tensors;
using NormalizingFlows.Training;
using NormalizingFlows.Transforms;

namespace NormalizingFlows.Models;

/// <summary>
/// What a user keeps: a flow built from a <see cref="FlowSpec"/>, the fitted preprocessing in front of it, the column
/// names, the training history, the seed and free metadata — everything <see cref="ModelFile"/> saves in one file.
/// <see cref="Flow"/> is the full flow in ORIGINAL units: its transform is preprocessing → the builder's transform, so
/// <c>Flow.LogProb</c> includes the preprocessing's log|det| (a density of the original units, −∞ outside the
/// preprocessing's domain) and sampling runs back through the preprocessing. A conditional model reads its context in
/// original units too: an optional <see cref="ContextPreprocessing"/> (e.g. standardisation of the context columns)
/// and an optional <see cref="Embedding"/> (a summary network, trained with the flow) map it to the builder's context
/// features inside <see cref="Flow"/> (an <see cref="EmbeddedContextTransform{T}"/>). Train <see cref="Flow"/> (the
/// preprocessing has no parameters) on <see cref="MakeTrainingData"/>'s output.
/// </summary>
public sealed class FlowModel<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>
    /// Builds the flow of <paramref name="spec"/> (freshly initialised) behind <paramref name="preprocessing"/> (null:
    /// none). <paramref name="columns"/> defaults to the preprocessing's names, else "x0", "x1", …. A conditional
    /// spec may take its context through <paramref name="contextPreprocessing"/> and then an embedding built from
    /// <paramref name="embedding"/> (initialised from the spec's seed); the spec's <see cref="FlowSpec.ContextFeatures"/>
    /// is then the embedding's output size, and the raw context width comes from the context preprocessing or
    /// <paramref name="contextColumns"/> (names default to the context preprocessing's, else "c0", "c1", …).
    /// </summary>
    public FlowModel(FlowSpec spec, PreprocessingPipeline<T>? preprocessing = null, IReadOnlyList<string>? columns = null,
        PreprocessingPipeline<T>? contextPreprocessing = null, EmbeddingSpec? embedding = null, IReadOnlyList<string>? contextColumns = null)
        : this(spec, spec?.Build<T>() ?? throw new ArgumentNullException(nameof(spec)), preprocessing, columns, contextPreprocessing, embedding, contextColumns)
    {
    }

    /// <summary>
    /// Wraps <paramref name="flow"/>, assembled by hand from library parts (or registered user parts), with its weights
    /// as they are; its spec is <see cref="FlowSpec.Describe{T}"/>'s, so <see cref="ModelFile"/> saves and loads it.
    /// </summary>
    public static FlowModel<T> FromFlow(Flow<T> flow, PreprocessingPipeline<T>? preprocessing = null, IReadOnlyList<string>? columns = null, long seed = 0)
        => new(FlowSpec.Describe(flow ?? throw new ArgumentNullException(nameof(flow)), seed), flow, preprocessing, columns);

    /// <summary>Wraps an already built flow <paramref name="inner"/>, which must be what <paramref name="spec"/> builds.</summary>
    internal FlowModel(FlowSpec spec, Flow<T> inner, PreprocessingPipeline<T>? preprocessing, IReadOnlyList<string>? columns,
        PreprocessingPipeline<T>? contextPreprocessing = null, EmbeddingSpec? embedding = null, IReadOnlyList<string>? contextColumns = null)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(inner);
        spec.Validate();
        if (inner.Features != spec.Features) throw new ArgumentException($"the flow has {inner.Features} features, the spec {spec.Features}");
        if (preprocessing is not null && preprocessing.Features != spec.Features)
            throw new ArgumentException($"the preprocessing has {preprocessing.Features} columns, the flow {spec.Features} features");
        var names = CheckNames(columns ?? preprocessing?.ColumnNames ?? Table.DefaultNames(spec.Features), spec.Features, preprocessing, "column");
        Spec = spec;
        Inner = inner;
        Preprocessing = preprocessing;
        Columns = names;
        Seed = spec.Seed;
        ContextPreprocessing = contextPreprocessing;
        EmbeddingSpec = embedding;
        int width = contextPreprocessing?.Features ?? contextColumns?.Count ?? (embedding is null ? spec.ContextFeatures : 0);
        if (spec.ContextFeatures == 0 && (contextPreprocessing is not null || embedding is not null || contextColumns is { Count: > 0 }))
            throw new ArgumentException("the spec is unconditional (ContextFeatures 0) but a context preprocessing, embedding or context columns were given");
        if (embedding is not null)
        {
            if (width < 1) throw new ArgumentException("an embedding needs the raw context width: give the context preprocessing or the context columns", nameof(contextColumns));
            embedding.Validate(width);
            if (embedding.Features != spec.ContextFeatures)
                throw new ArgumentException($"the embedding gives {embedding.Features} features but the flow takes {spec.ContextFeatures} context features", nameof(embedding));
        }
        else if (width != spec.ContextFeatures)
            throw new ArgumentException($"the context has {width} columns but the flow takes {spec.ContextFeatures} context features (without an embedding they must agree)");
        ContextFeatures = width;
        ContextColumns = width == 0 ? [] : CheckNames(contextColumns ?? contextPreprocessing?.ColumnNames ?? Enumerable.Range(0, width).Select(i => $"c{i}").ToArray(),
            width, contextPreprocessing, "context column");
        Transform<T> transform = preprocessing is null ? inner.Transform : new CompositeTransform<T>(preprocessing, inner.Transform);
        if (contextPreprocessing is not null || embedding is not null)
        {
            Embedding = embedding?.Build<T>(width, new Rng(spec.Seed ^ EmbeddingSeedSalt));
            transform = new EmbeddedContextTransform<T>(transform, new ContextMap(contextPreprocessing, Embedding), width);
        }
        Flow = ReferenceEquals(transform, inner.Transform) ? inner
            : inner is ConditionalFlow<T> ? new ConditionalFlow<T>(transform, inner.Base) : new Flow<T>(transform, inner.Base);
    }

    // the embedding's initialisation stream: the spec's seed mixed with a constant (the posterior estimator's choice)
    private const long EmbeddingSeedSalt = 0x5A33A27L;

    private static string[] CheckNames(IReadOnlyList<string> given, int count, PreprocessingPipeline<T>? pipeline, string what)
    {
        var names = given.ToArray();
        if (names.Length != count) throw new ArgumentException($"{names.Length} {what} names for {count} {what}s");
        if (names.Distinct(StringComparer.Ordinal).Count() != names.Length) throw new ArgumentException($"{what} names must be distinct");
        if (pipeline is not null && !names.SequenceEqual(pipeline.ColumnNames))
            throw new ArgumentException($"the {what} names ({string.Join(", ", names)}) differ from the preprocessing's ({string.Join(", ", pipeline.ColumnNames)})");
        return names;
    }

    // context preprocessing (its log|det| is no part of the density) followed by the embedding, as one layer
    internal sealed class ContextMap : Module<T>, ILayer<T>, IStagedContextMap<T>
    {
        private readonly PreprocessingPipeline<T>? _pre;
        private readonly ContextEmbedding<T>? _embedding;

        public ContextMap(PreprocessingPipeline<T>? pre, ContextEmbedding<T>? embedding)
        {
            if (pre is not null) _pre = RegisterModule("preprocessing", pre);
            if (embedding is not null) _embedding = RegisterModule("embedding", embedding);
        }

        public Module<T>? Leading => _pre;

        public Var<T> ApplyLeading(Var<T> context) => _pre is null ? context : _pre.Forward(context).Y;

        public ContextEmbedding<T>? Embedding => _embedding;

        public Var<T> Forward(Var<T> x)
        {
            var c = _pre is null ? x : _pre.Forward(x).Y;
            return _embedding is null ? c : _embedding.Forward(c);
        }
    }

    /// <summary>The fitted preprocessing of the context columns (null: the context is read as it is).</summary>
    public PreprocessingPipeline<T>? ContextPreprocessing { get; }

    /// <summary>The context embedding (null: none), inside <see cref="Flow"/>.</summary>
    public ContextEmbedding<T>? Embedding { get; }

    /// <summary>The recipe of <see cref="Embedding"/> (null without one).</summary>
    public EmbeddingSpec? EmbeddingSpec { get; }

    /// <summary>Context values per row the model reads (0: unconditional).</summary>
    public int ContextFeatures { get; }

    /// <summary>Context column names, one per context value (empty when unconditional).</summary>
    public IReadOnlyList<string> ContextColumns { get; }

    /// <summary>The architecture.</summary>
    public FlowSpec Spec { get; }

    /// <summary>The fitted preprocessing (null: the flow sees the data as they are).</summary>
    public PreprocessingPipeline<T>? Preprocessing { get; }

    /// <summary>The per-column preprocessing choices (null without preprocessing).</summary>
    public PreprocessingSpec? PreprocessingSpec => Preprocessing?.Spec;

    /// <summary>The flow the builder made (it models the preprocessed data).</summary>
    public Flow<T> Inner { get; }

    /// <summary>The full flow in original units (= <see cref="Inner"/> when there is no preprocessing). Train and evaluate this one.</summary>
    public Flow<T> Flow { get; }

    /// <summary>Column names, one per feature.</summary>
    public IReadOnlyList<string> Columns { get; }

    /// <summary>The training history to store with the model (null: untrained or not recorded).</summary>
    public TrainingHistory? History { get; set; }

    /// <summary>The seed to record (defaults to the spec's initialisation seed; set it to the training seed if different).</summary>
    public long Seed { get; set; }

    /// <summary>Free string metadata saved with the model (keys must not start with "nflow.", which the file format reserves).</summary>
    public Dictionary<string, string> Metadata { get; } = new(StringComparer.Ordinal);

    /// <summary>Number of features.</summary>
    public int Features => Spec.Features;

    /// <summary>Number of trainable parameter elements.</summary>
    public long ParameterCount() => Flow.ParameterCount();

    /// <summary>
    /// Training rows for <see cref="Flow"/>: a copy of <paramref name="x"/> (original units) with U(0, 1) noise added to
    /// the dequantized columns (draw a fresh copy per run or per epoch for fresh noise).
    /// </summary>
    public TrainingData<T> MakeTrainingData(Tensor<T> x, Rng rng, Tensor<T>? context = null, Tensor<T>? weights = null)
    {
        ArgumentNullException.ThrowIfNull(x);
        return MakeTrainingDataOwning(x.Clone(), rng, context, weights);
    }

    // as MakeTrainingData, but adds the noise to x itself: for callers that built x for this purpose (no second copy)
    internal TrainingData<T> MakeTrainingDataOwning(Tensor<T> x, Rng rng, Tensor<T>? context = null, Tensor<T>? weights = null)
    {
        ArgumentNullException.ThrowIfNull(rng);
        x.Untrack();
        if (Preprocessing is not null) Dequantize.AddNoise(x, Preprocessing.DequantizedColumns, rng);
        return new TrainingData<T>(x, context, weights);
    }

    /// <summary>
    /// log p(x) per row in original units, in evaluation mode without gradients; −∞ for rows outside the preprocessing's
    /// domain (beyond a bounded side of a column: the walls of a minmax-logit column, at or below a log column's shift,
    /// at or above a log-upper column's shift) and for rows so far out that their density underflows: a value that
    /// is infinite in <typeparamref name="T"/> (e.g. 1e300 read into a float model), or a row beyond
    /// <see cref="FarOutside"/> standard units after preprocessing (without preprocessing: beyond √(max of T)/10⁴,
    /// about 1.8e15 for float), where the flow's arithmetic would overflow. A NaN input throws an
    /// <see cref="ArgumentException"/> naming the row and column; a NaN result throws an
    /// <see cref="InvalidOperationException"/> (never returned silently).
    /// </summary>
    public double[] LogProb(Tensor<T> x, Tensor<T>? context = null)
    {
        ValidateInput(x);
        int n = x.Dim(0);
        bool wasTraining = Flow.Training;
        Flow.Eval();
        try
        {
            using var _ = GradMode.Disable();
            using var scope = TensorScope.Begin();
            var far = FarRows(x);
            var input = WithCentreRows(x, far);
            var lp = Flow.LogProb(new Var<T>(input), context is null ? null : new Var<T>(context)).Value.ToDoubleArray();
            for (int r = 0; r < n; r++)
            {
                if (far[r]) lp[r] = double.NegativeInfinity;
                else if (double.IsNaN(lp[r]))
                    throw new InvalidOperationException($"log p of row {r} is NaN although its values are finite and within {FarOutside:G} standard units of the training data: a numerical fault of the model");
            }
            return lp;
        }
        finally
        {
            if (wasTraining) Flow.Train();
        }
    }

    /// <summary>
    /// Throws an <see cref="ArgumentException"/> unless <paramref name="x"/> is [rows, <see cref="Features"/>] without
    /// NaN, naming the first NaN's row and column (what <see cref="LogProb"/> checks first).
    /// </summary>
    public void ValidateInput(Tensor<T> x)
    {
        ArgumentNullException.ThrowIfNull(x);
        if (x.Rank != 2 || x.Dim(1) != Features) throw new ArgumentException($"input must be [rows, {Features}], got {x.ShapeString}");
        int n = x.Dim(0), d = Features;
        var xs = x.ReadOnlySpan;
        for (int r = 0; r < n; r++)
            for (int j = 0, k = r * d; j < d; j++, k++)
                if (T.IsNaN(xs[k])) throw new ArgumentException($"row {r}, column {j} ('{Columns[j]}') is NaN: flows need numbers (drop or impute such rows first)");
    }

    /// <summary>
    /// |value| of the flow's own input (after preprocessing) beyond which <see cref="LogProb"/> counts a row as so far
    /// out that its density underflows (log p = −∞): <see cref="FarOutside"/> with preprocessing; without it √(max of
    /// T)/10⁴ (about 1.8e15 for float), where the flow's arithmetic would overflow.
    /// </summary>
    public double FarLimit => Preprocessing is null ? Math.Sqrt(typeof(T) == typeof(float) ? float.MaxValue : double.MaxValue) / 1e4 : FarOutside;

    /// <summary>
    /// Distance in standard units after preprocessing (|z| of the flow's own input) beyond which a row's density
    /// counts as zero (log p = −∞): 10⁴, where a standard normal's log-density is already about −5·10⁷.
    /// </summary>
    public const double FarOutside = 1e4;

    // per row: true when a value is infinite in T or lies beyond FarOutside standard units (inside the domain)
    private bool[] FarRows(Tensor<T> x)
    {
        int n = x.Dim(0), d = Features;
        var far = new bool[n];
        var xs = x.ReadOnlySpan;
        for (int r = 0; r < n; r++)
            for (int j = 0, k = r * d; j < d; j++, k++)
                if (T.IsInfinity(xs[k])) far[r] = true;
        double limit = FarLimit;
        var z = x;
        if (Preprocessing is not null) z = Preprocessing.Forward(new Var<T>(WithCentreRows(x, far))).Y.Value;
        var zs = z.ReadOnlySpan;
        for (int r = 0; r < n; r++)
            for (int j = 0, k = r * d; j < d && !far[r]; j++, k++)
            {
                double v = double.CreateTruncating(zs[k]);
                if (!(Math.Abs(v) <= limit)) far[r] = true;
            }
        return far;
    }

    // x itself when no row is marked, else a copy with the marked rows replaced by CentreRow
    private Tensor<T> WithCentreRows(Tensor<T> x, bool[] rows)
    {
        if (Array.IndexOf(rows, true) < 0) return x;
        var copy = x.Clone();
        var centre = CentreRow();
        var s = copy.Span;
        for (int r = 0; r < rows.Length; r++)
            if (rows[r]) centre.CopyTo(s.Slice(r * Features, Features));
        return copy;
    }

    /// <summary>A row inside the domain, where far rows are evaluated: the data-space image of z = 0.</summary>
    internal T[] CentreRow()
    {
        var zero = Tensor<T>.Zeros(1, Features);
        return (Preprocessing is null ? zero : Preprocessing.Inverse(new Var<T>(zero)).X.Value).ReadOnlySpan.ToArray();
    }

    /// <summary>
    /// <paramref name="n"/> samples in original units (one per context row when conditional), in evaluation mode:
    /// dequantized columns floored back to integers. The samples follow the model's density, also beyond the
    /// training range on open sides; only with <paramref name="clampToTrainingRange"/> (opt-in, off by default) is
    /// every column clamped into its training range, which piles the tails up at the range's ends as point masses.
    /// </summary>
    public Tensor<T> Sample(int n, Rng rng, Tensor<T>? context = null, bool clampToTrainingRange = false)
    {
        ArgumentNullException.ThrowIfNull(rng);
        bool wasTraining = Flow.Training;
        Flow.Eval();
        try
        {
            var x = Flow.Sample(n, rng, context is null ? null : new Var<T>(context)).Value;
            Preprocessing?.Postprocess(x, clampToTrainingRange);
            return x;
        }
        finally
        {
            if (wasTraining) Flow.Train();
        }
    }
}
