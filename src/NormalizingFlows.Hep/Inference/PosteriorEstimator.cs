using System.Diagnostics;
using System.Globalization;
using System.Numerics;
using System.Text.Json;
using System.Text.Json.Serialization;
using NormalizingFlows.Autograd;
using NormalizingFlows.Data.Preprocessing;
using NormalizingFlows.Flows;
using NormalizingFlows.Nn;
using NormalizingFlows.Optim;
using NormalizingFlows.IO;
using NormalizingFlows.Models;
using NormalizingFlows.Tensors;
using NormalizingFlows.Training;
using NormalizingFlows.Transforms;

namespace NormalizingFlows.Hep.Inference;

/// <summary>
/// Everything needed to rebuild a <see cref="PosteriorEstimator{T}"/>: the flow over the standardised parameters (its
/// <see cref="FlowSpec.ContextFeatures"/> is the summary's output size), the summary network, and the names of the
/// parameters and observation features.
/// </summary>
public sealed record PosteriorSpec
{
    /// <summary>The conditional flow p(θ' | context) over standardised parameters θ'.</summary>
    public required FlowSpec Flow { get; init; }

    /// <summary>The summary network between the standardised observation and the flow's context.</summary>
    public SummarySpec Summary { get; init; } = new();

    /// <summary>Parameter names (θ columns).</summary>
    public required string[] ParameterNames { get; init; }

    /// <summary>Observation feature names (x columns).</summary>
    public required string[] ObservationNames { get; init; }

    /// <summary>Throws an <see cref="ArgumentException"/> naming the first inconsistency.</summary>
    public void Validate()
    {
        ArgumentNullException.ThrowIfNull(Flow);
        ArgumentNullException.ThrowIfNull(Summary);
        if (ParameterNames is null || ParameterNames.Length == 0) throw new ArgumentException("a posterior needs at least one parameter");
        if (ObservationNames is null || ObservationNames.Length == 0) throw new ArgumentException("a posterior needs at least one observation feature");
        Flow.Validate();
        Summary.Validate(ObservationNames.Length);
        if (Flow.Features != ParameterNames.Length) throw new ArgumentException($"the flow models {Flow.Features} features but there are {ParameterNames.Length} parameters");
        int context = Summary.ContextFeatures(ObservationNames.Length);
        if (Flow.ContextFeatures != context) throw new ArgumentException($"the flow takes {Flow.ContextFeatures} context features but the summary gives {context}");
    }

    internal static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.CamelCase) },
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };
}

/// <summary>
/// Amortised posterior estimation with a conditional flow (cINN): p(θ | x) learned once from simulated (θ, x) pairs,
/// then evaluated or sampled for any observation in one batched pass. θ and x are standardised (means and standard
/// deviations stored with the model as buffers); an optional summary network (<see cref="SummarySpec"/>) compresses x
/// into the flow's context and is trained jointly with the flow. Densities are in the original units of θ.
/// </summary>
public sealed class PosteriorEstimator<T> : Module<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>The safetensors metadata "kind" of a posterior model file.</summary>
    public const string FileKind = "nflow-posterior";
    private const int FileFormat = 1;
    private const int MaxRowsPerPass = 1 << 18;

    private readonly Tensor<T> _thetaMean, _thetaStd, _xMean, _xStd;
    private readonly EmbeddedContextTransform<T>? _summarised;

    /// <summary>Builds a fresh (untrained, identity-standardised) estimator from <paramref name="spec"/>.</summary>
    public PosteriorEstimator(PosteriorSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        spec.Validate();
        Spec = spec;
        int d = spec.ParameterNames.Length, m = spec.ObservationNames.Length;
        var rng = new Rng(spec.Flow.Seed ^ 0x5A33A27L);
        var inner = spec.Flow.Build<T>();
        var summary = spec.Summary.Build<T>(m, rng);
        if (summary is null) Flow = inner;
        else
        {
            _summarised = new EmbeddedContextTransform<T>(inner.Transform, summary, spec.Summary.InputFeatures(m));
            Flow = new ConditionalFlow<T>(_summarised, inner.Base);
        }
        RegisterModule("flow", Flow);
        _thetaMean = RegisterBuffer("theta_mean", Tensor<T>.Zeros(d));
        _thetaStd = RegisterBuffer("theta_std", Tensor<T>.Full(T.One, d));
        _xMean = RegisterBuffer("x_mean", Tensor<T>.Zeros(m));
        _xStd = RegisterBuffer("x_std", Tensor<T>.Full(T.One, m));
    }

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

    /// <summary>
    /// The conditional flow p(θ' | x') over standardised parameters given the standardised observation (with the
    /// summary network inside its transform, see <see cref="EmbeddedContextTransform{T}"/>); what the trainer fits.
    /// </summary>
    public Flow<T> Flow { get; }

    /// <summary>Number of parameters d.</summary>
    public int ParameterDimension => Spec.ParameterNames.Length;

    /// <summary>Number of observation features m.</summary>
    public int ObservationFeatures => Spec.ObservationNames.Length;

    /// <summary>The training history (set by Fit, restored by <see cref="Load"/>), or null.</summary>
    public TrainingHistory? History { get; private set; }

    /// <summary>Free string metadata saved with the model (e.g. the simulator's name).</summary>
    public Dictionary<string, string> Metadata { get; } = new(StringComparer.Ordinal);

    // ------------------------------------------------------------------------------------------------ standardisation

    /// <summary>
    /// Sets the standardisation from training pairs: per-column mean and standard deviation of θ and of x (for a
    /// sum-pooling summary, per element feature shared by all elements, over the present elements only). Columns
    /// with zero spread get σ = 1.
    /// </summary>
    public void FitStandardisation(Tensor<T> theta, Tensor<T> x)
    {
        CheckPairs(theta, x);
        SetStats(theta, ParameterDimension, 1, _thetaMean, _thetaStd, "theta");
        int f = Spec.Summary.Kind == SummaryKind.SumPooling ? Spec.Summary.ElementFeatures : ObservationFeatures;
        SetStats(x, f, ObservationFeatures / f, _xMean, _xStd, "x");
    }

    private static void SetStats(Tensor<T> data, int width, int repeat, Tensor<T> mean, Tensor<T> std, string what)
    {
        var moments = ColumnMoments.Of(data.ToDoubleArray(), width * repeat, width);
        for (int j = 0; j < width; j++)
            if (moments.Count[j] == 0) throw new ArgumentException($"{what} column {j} has no finite values");
        var ms = mean.Span;
        var ss = std.Span;
        for (int c = 0; c < width * repeat; c++)
        {
            int j = c % width;
            double sd = moments.SampleStd(j);
            ms[c] = T.CreateTruncating(moments.Mean[j]);
            ss[c] = T.CreateTruncating(sd > 0 && double.IsFinite(sd) ? sd : 1.0);
        }
    }

    /// <summary>(θ − μ_θ)/σ_θ, a new tensor.</summary>
    private Tensor<T> StandardiseTheta(Tensor<T> theta) => Affine(theta, _thetaMean, _thetaStd, forward: true);

    /// <summary>
    /// The standardised observation the flow's context reads: (x − μ_x)/σ_x; for a sum-pooling summary each element
    /// becomes [presence flag, standardised features] with an absent element (all features NaN) as zeros.
    /// </summary>
    private Tensor<T> StandardiseX(Tensor<T> x)
    {
        if (Spec.Summary.Kind != SummaryKind.SumPooling)
        {
            CheckFinite(x, "observation");
            return Affine(x, _xMean, _xStd, forward: true);
        }
        int f = Spec.Summary.ElementFeatures, m = ObservationFeatures, k = m / f, n = x.Rows;
        var r = Tensor<T>.Empty(n, k * (f + 1));
        var s = x.ReadOnlySpan;
        var d = r.Span;
        var mu = _xMean.ReadOnlySpan;
        var sd = _xStd.ReadOnlySpan;
        for (int i = 0; i < n; i++)
            for (int e = 0; e < k; e++)
            {
                int src = i * m + e * f, dst = (i * k + e) * (f + 1);
                int nan = 0;
                for (int j = 0; j < f; j++)
                {
                    if (T.IsNaN(s[src + j])) nan++;
                    else if (!T.IsFinite(s[src + j])) throw new ArgumentException($"observation row {i}, column {e * f + j} is {s[src + j]}: values must be finite (NaN marks an absent set element)");
                }
                if (nan == f)
                {
                    d.Slice(dst, f + 1).Clear();
                    continue;
                }
                if (nan > 0) throw new ArgumentException($"observation row {i}, set element {e}: {nan} of {f} features are NaN; an absent element has all its features NaN");
                d[dst] = T.One;
                for (int j = 0; j < f; j++) d[dst + 1 + j] = (s[src + j] - mu[e * f + j]) / sd[e * f + j];
            }
        return r;
    }

    private static Tensor<T> Affine(Tensor<T> v, Tensor<T> mean, Tensor<T> std, bool forward)
    {
        int c = mean.Length, n = v.Length / c;
        var r = Tensor<T>.Empty(n, c);
        var s = v.ReadOnlySpan;
        var d = r.Span;
        var mu = mean.ReadOnlySpan;
        var sd = std.ReadOnlySpan;
        for (int i = 0; i < n; i++)
            for (int j = 0; j < c; j++)
            {
                int k = i * c + j;
                d[k] = forward ? (s[k] - mu[j]) / sd[j] : s[k] * sd[j] + mu[j];
            }
        return r;
    }

    private double LogJacobianTheta()
    {
        double s = 0;
        foreach (var v in _thetaStd.ReadOnlySpan) s += Math.Log(double.CreateTruncating(v));
        return s;
    }

    // ------------------------------------------------------------------------------------------------ evaluation

    /// <summary>Differentiable log p(θ' | x') of standardised pairs (the training objective), one value per row.</summary>
    private Var<T> LogProbStandardised(Tensor<T> thetaStd, Tensor<T> xStd) => Flow.LogProb(new Var<T>(thetaStd), new Var<T>(xStd));

    /// <summary>
    /// log p(θᵢ | xᵢ) for every row i of <paramref name="theta"/> ([N, d]) and <paramref name="x"/> ([N, m]), in the
    /// original units of θ, in evaluation mode without gradients, in batches (one context per row).
    /// </summary>
    public double[] LogPosterior(Tensor<T> theta, Tensor<T> x)
    {
        CheckPairs(theta, x);
        CheckFinite(theta, "parameter");
        int n = theta.Rows;
        var result = new double[n];
        double jac = LogJacobianTheta();
        using var _ = EvalScope();
        for (int start = 0; start < n; start += MaxRowsPerPass)
        {
            using var scope = TensorScope.Begin();
            int rows = Math.Min(MaxRowsPerPass, n - start);
            var lp = LogProbStandardised(StandardiseTheta(theta.CopyRows(start, rows)), StandardiseX(x.CopyRows(start, rows))).Value.ReadOnlySpan;
            for (int i = 0; i < rows; i++) result[start + i] = double.CreateTruncating(lp[i]) - jac;
        }
        return result;
    }

    /// <summary>
    /// <paramref name="samplesPerObservation"/> posterior samples for each row of <paramref name="x"/> ([N, m]): a
    /// [N·n, d] tensor in original units whose rows i·n … i·n + n − 1 belong to observation i. The summary network runs
    /// once per observation; its context is repeated n times (one context per row) and the flow samples all rows at
    /// once (in passes of at most 262 144 rows), without a per-observation loop.
    /// </summary>
    public Tensor<T> SamplePosterior(Tensor<T> x, int samplesPerObservation, Rng rng)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(rng);
        ArgumentOutOfRangeException.ThrowIfLessThan(samplesPerObservation, 1);
        if (x.Rank != 2 || x.Cols != ObservationFeatures)
            throw new ArgumentException($"observations must be [N, {ObservationFeatures}] ({string.Join(", ", Spec.ObservationNames)}), got {x.ShapeString}", nameof(x));
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
            // the summary network runs once per observation, not once per sample
            var xs = new Var<T>(StandardiseX(x.CopyRows(start, rows)));
            var context = (_summarised is null ? xs : _summarised.MapContext(xs)).Value;
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
            var thetaStd = (_summarised is null ? Flow.Transform.Inverse(z, ctx) : _summarised.Inner.Inverse(z, ctx)).X.Value;
            var theta = Affine(thetaStd, _thetaMean, _thetaStd, forward: false);
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
        FitStandardisation(theta, x);
        using var thetaS = StandardiseTheta(theta).Untrack();
        using var xS = StandardiseX(x).Untrack();
        var trainer = new MaximumLikelihoodTrainer<T>(Flow, options) { Progress = progress };
        Train();
        History = trainer.Fit(new TrainingData<T>(thetaS, xS), cancellation: cancellation, resumeFrom: resumeFrom);
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

    // ------------------------------------------------------------------------------------------------ files

    /// <summary>
    /// Writes the model atomically as one safetensors file: the state (flow, summary network, standardisation buffers)
    /// and metadata "kind" = <see cref="FileKind"/>, "posterior.format", "posterior.spec" (JSON <see cref="PosteriorSpec"/>),
    /// "posterior.history", the free <see cref="Metadata"/> and a <see cref="FileChecksum"/>.
    /// </summary>
    public void Save(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var meta = new Dictionary<string, string>(Metadata, StringComparer.Ordinal)
        {
            ["kind"] = FileKind,
            ["posterior.format"] = FileFormat.ToString(CultureInfo.InvariantCulture),
            ["posterior.spec"] = JsonSerializer.Serialize(Spec, PosteriorSpec.Json),
            ["posterior.dtype"] = FlowSpec.DTypeOf<T>(),
        };
        if (History is { } h) meta["posterior.history"] = ModelFile.HistoryToJson(h);
        var state = StateDict();
        SafeTensors.Save(path, state, FileChecksum.Stamp(state, meta));
    }

    /// <summary>
    /// Loads a model written by <see cref="Save"/>; throws <see cref="ModelFileException"/> naming the file and the
    /// problem (not a posterior file — <see cref="ModelFileException.FileKind"/> names what it is —, corrupt (checksum),
    /// newer format, bad spec, missing or misshapen tensors, non-finite values).
    /// </summary>
    public static PosteriorEstimator<T> Load(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: no such posterior model file", path);
        SafeTensorsFile file;
        try { file = SafeTensors.Load(path); }
        catch (SafeTensorsFormatException ex) { throw new ModelFileException(path, $"not a valid model file (truncated or corrupt?): {ex.Problem}", ex); }
        var m = file.Metadata;
        if (ModelFile.KindOf(m) is var kind && kind != FileKind)
            throw new ModelFileException(path, $"not a posterior model (the file's kind is {(kind is null ? "missing" : $"'{kind}'")}, expected '{FileKind}'); train one with 'nflow infer train'") { FileKind = kind };
        FileChecksum.Verify(file, path, "posterior model");
        if (!m.TryGetValue("posterior.format", out var fmt) || !int.TryParse(fmt, CultureInfo.InvariantCulture, out int version) || version < 1)
            throw new ModelFileException(path, "missing or invalid 'posterior.format'");
        if (version > FileFormat) throw new ModelFileException(path, $"posterior format {version} is newer than this library reads (up to {FileFormat})");
        PosteriorSpec spec;
        try
        {
            spec = JsonSerializer.Deserialize<PosteriorSpec>(m.TryGetValue("posterior.spec", out var js) ? js : throw new JsonException("missing 'posterior.spec'"), PosteriorSpec.Json)
                ?? throw new JsonException("null spec");
            spec.Validate();
        }
        catch (Exception ex) when (ex is JsonException or ArgumentException or FormatException)
        { throw new ModelFileException(path, $"invalid posterior spec: {ex.Message}", ex); }
        var model = new PosteriorEstimator<T>(spec with { Flow = spec.Flow with { DType = FlowSpec.DTypeOf<T>() } });
        var own = model.StateDict();
        var state = new Dictionary<string, Tensor<T>>(StringComparer.Ordinal);
        foreach (var (name, target) in own)
        {
            if (!file.Contains(name)) throw new ModelFileException(path, $"tensor '{name}' (shape {target.ShapeString}) is missing");
            var t = file[name].As<T>(convert: true);
            if (!t.SameShape(target)) throw new ModelFileException(path, $"tensor '{name}' has shape {t.ShapeString}, the architecture needs {target.ShapeString}");
            foreach (var v in t.ReadOnlySpan)
                if (!T.IsFinite(v)) throw new ModelFileException(path, $"tensor '{name}' holds a non-finite value");
            state[name] = t;
        }
        foreach (var e in file.Tensors)
            if (!own.ContainsKey(e.Name)) throw new ModelFileException(path, $"unexpected tensor '{e.Name}'");
        model.LoadStateDict(state);
        foreach (var (k, v) in m)
            if (k != "kind" && k != FileChecksum.MetadataKey && !k.StartsWith("posterior.", StringComparison.Ordinal)) model.Metadata[k] = v;
        if (m.TryGetValue("posterior.history", out var hj))
        {
            try { model.History = ModelFile.HistoryFromJson(hj); }
            catch (Exception ex) when (ex is JsonException or FormatException or InvalidOperationException or KeyNotFoundException)
            { throw new ModelFileException(path, $"invalid 'posterior.history': {ex.Message}", ex); }
        }
        model.Eval();
        return model;
    }
}
