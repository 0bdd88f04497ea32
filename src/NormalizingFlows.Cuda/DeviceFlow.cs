using NormalizingFlows.Flows;
using NormalizingFlows.Models;
using NormalizingFlows.Nn.Embeddings;
using NormalizingFlows.Tensors;

namespace NormalizingFlows.Cuda;

/// <summary>
/// A flow compiled onto a <see cref="ComputeDevice"/>: its weights, gradients and Adam state live on the device;
/// <see cref="LogProb(DeviceTensor, DeviceTensor, DeviceTensor?)"/>, <see cref="Sample(int, long, DeviceTensor?)"/> and <see cref="TrainStep"/>
/// run as device kernels (and cuBLAS GEMMs on CUDA) with no host round trip except the loss when asked;
/// <see cref="CopyTo(Flow{float}, ContextEmbedding{float})"/> writes the trained weights back, so the model files stay the library's.
/// Supports RealNVP/affine couplings, rational-quadratic spline couplings (nsf_c), MAF and MAF with splines (maf_rqs)
/// and Glow (ActNorm, initialised from the first training batch as on the CPU, the LU-decomposed linear map, and
/// fixed permutations between layers), batch normalisation (BatchNormTransform layers and batch norm in ResidualNet
/// conditioners: the batch's statistics in <see cref="TrainStep"/>, the running averages when scoring and sampling) over ReLU conditioners, planar and radial flows (no conditioner), and a standard-normal base (or, for unit-hypercube flows such as i-flow's, the uniform base on
/// [0, 1]^D with unit-interval splines: <see cref="UnitCubeBase"/>; for flows with periodic features, circular splines
/// on the angle columns and the PeriodicNormal base), conditional or not, and inverse autoregressive layers (the
/// distillation student, InverseAutoregressiveTransform: sampling in one MADE pass per layer, log p in D passes; no
/// training): a conditional flow takes its context
/// [N, C] as a device tensor beside the events (the coupling MLPs read [x_a, context], the MADEs the context in their
/// first and output layers, as the library's conditioners do). A trainable context embedding (summary network: the
/// MLP and sum-pooling <see cref="ContextEmbedding{T}"/>s) runs there too, between the given context and the
/// conditioners, and trains with the flow. Scratch buffers are kept for the largest batch seen and reused for smaller
/// ones. Not thread-safe.
/// </summary>
/// <example><code>
/// using var dev = ComputeDevice.Cuda();
/// using var flow = DeviceFlow.Compile(model, dev);
/// using var batch = DeviceTensor.Upload(dev, x);
/// float loss = flow.TrainStep(batch, 1e-3, readLoss: true)!.Value;
/// flow.CopyTo(model);
/// </code></example>
public sealed partial class DeviceFlow : IDisposable
{
    private readonly List<IDeviceLayer> _layers;

    /// <summary>The device layers, one per flow step (for tests).</summary>
    internal IReadOnlyList<IDeviceLayer> Layers => _layers;

    private readonly DeviceLinear[] _linears; // every layer's and the embedding's linears: clipped and stepped together
    private readonly DeviceParameter[] _parameters; // the layers' own parameters outside networks (ActNorm, LU maps): clipped and stepped with them
    private readonly DeviceEmbedding? _embedding;
    private readonly DeviceWorkspace _contextGradient; // the loss's gradient with respect to the conditioners' context [rows, C']
    private readonly DeviceWorkspace _ws;  // the layers' outputs x_1 … x_L, then gA, gB [rows, D]; log|det|, log p, g log|det| [rows]
    private readonly DeviceWorkspace _blocks; // LogProb(Tensor)'s events, context and result [rows, ·] (Sample's base points in the first), kept for the next call
    private readonly DeviceTensor _sum;
    private readonly DeviceAdamStep _adam; // the step's Adam scalars (written by BeginStep) and the clip's buffers
    private readonly DeviceTensor? _dropoutStep; // with dropout in a conditioner: the step count its masks are drawn from (written by BeginStep)
    private readonly DeviceStepGraph _graph;    // the training step's launches, replayed as a captured graph when the device has graphs
    private DeviceWorkspace? _inverse; // Inverse(Tensor)'s base points, context and samples [rows, ·], kept for the next call

    private readonly PeriodicArgs? _periodic; // a PeriodicNormal base's periodic columns
    private readonly bool _eager; // a continuous layer (host-driven adaptive steps, probes drawn on the host, recorded states): never captured as a graph

    private DeviceFlow(ComputeDevice device, int features, int contextFeatures, List<IDeviceLayer> layers, DeviceEmbedding? embedding, int conditionerContext, bool unitCube,
        PeriodicArgs? periodic)
    {
        Device = device;
        UnitCubeBase = unitCube;
        _periodic = periodic;
        Features = features;
        ContextFeatures = contextFeatures;
        _layers = layers;
        _embedding = embedding;
        _linears = [.. layers.SelectMany(layer => layer.Network?.Layers ?? []), .. embedding?.Linears ?? []];
        _parameters = [.. layers.SelectMany(layer => layer.Parameters)];
        Trainable = !layers.Any(l => l is DeviceInverseAutoregressive);
        _eager = layers.Any(l => l is DeviceContinuous);
        _contextGradient = new DeviceWorkspace(device, Math.Max(1, conditionerContext));
        _ws = new DeviceWorkspace(device, [.. Enumerable.Repeat(features, layers.Count + 2), DeviceWorkspace.Vector, DeviceWorkspace.Vector, DeviceWorkspace.Vector]);
        _blocks = new DeviceWorkspace(device, features, Math.Max(1, contextFeatures), DeviceWorkspace.Vector);
        _sum = DeviceTensor.Zeros(device, 1);
        _adam = new DeviceAdamStep(device);
        if (layers.Any(l => l.Network?.Dropout is not null)) _dropoutStep = DeviceTensor.Zeros(device, 2);
        _graph = new DeviceStepGraph(device);
    }

    /// <summary>
    /// Compiles <paramref name="model"/>'s flow with its context embedding (<see cref="FlowModel{T}.Embedding"/>),
    /// if any. A model with preprocessing or context preprocessing is refused: compile <c>model.Inner</c> (with
    /// <c>model.Embedding</c>) and feed it <c>model.Preprocessing</c>'s (and <c>model.ContextPreprocessing</c>'s)
    /// output (the device computes the flow's density in its own units).
    /// </summary>
    public static DeviceFlow Compile(FlowModel<float> model, ComputeDevice device)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (model.Preprocessing is not null)
            throw new NotSupportedException("DeviceFlow: the model's preprocessing runs on the host: compile model.Inner and feed it model.Preprocessing's output");
        if (model.ContextPreprocessing is not null)
            throw new NotSupportedException("DeviceFlow: the model's context preprocessing runs on the host: compile model.Inner with model.Embedding and feed it model.ContextPreprocessing's output");
        return Compile(model.Inner, device, model.Embedding);
    }

    /// <summary>
    /// Compiles <paramref name="flow"/> (its current weights) onto <paramref name="device"/>, behind the trainable
    /// context <paramref name="embedding"/> when given (its output must be the flow's context): the device flow's
    /// context is then the embedding's input [N, <see cref="ContextEmbedding{T}.InputFeatures"/>], and
    /// <see cref="TrainStep"/> trains the embedding with the flow. A flow whose transform is an
    /// <see cref="Transforms.EmbeddedContextTransform{T}"/> over a context embedding compiles the same way. The MLP and
    /// sum-pooling embeddings are supported (a set embedding's standardisation constants are copied as they are at
    /// compile time); another kind is refused with a <see cref="NotSupportedException"/> naming it.
    /// </summary>
    public static DeviceFlow Compile(Flow<float> flow, ComputeDevice device, ContextEmbedding<float>? embedding = null)
    {
        ArgumentNullException.ThrowIfNull(flow);
        ArgumentNullException.ThrowIfNull(device);
        (flow, embedding) = DeviceFlowLayers.Unwrap(flow, embedding);
        int conditionerContext = flow.Transform.ContextFeatures;
        if (embedding is not null && embedding.OutputFeatures != conditionerContext)
            throw new ArgumentException($"DeviceFlow: the context embedding gives {embedding.OutputFeatures} features, the flow reads {conditionerContext} context features", nameof(embedding));
        var periodic = DeviceFlowLayers.PeriodicBaseOf(flow); // before any device buffer: it may refuse
        var layers = DeviceFlowLayers.Compile(flow, device);
        DeviceEmbedding? compiled = null;
        try
        {
            if (layers.Count == 0) throw new NotSupportedException("DeviceFlow: the flow has no coupling or autoregressive layer to run on the device");
            if (embedding is not null) compiled = DeviceEmbedding.Compile(embedding, device);
        }
        catch
        {
            foreach (var l in layers) l.Dispose();
            throw;
        }
        return new DeviceFlow(device, flow.Features, embedding?.InputFeatures ?? conditionerContext, layers, compiled, conditionerContext, DeviceFlowLayers.BaseOf(flow), periodic);
    }

    /// <summary>The device.</summary>
    public ComputeDevice Device { get; }

    /// <summary>Data dimension D.</summary>
    public int Features { get; }

    /// <summary>Context features C the device flow takes (0: unconditional); with a context embedding, the embedding's input width.</summary>
    public int ContextFeatures { get; }

    /// <summary>Whether a trainable context embedding runs before the conditioners.</summary>
    public bool HasEmbedding => _embedding is not null;

    /// <summary>
    /// Computes the gradient of the loss with respect to the conditioners' context in every <see cref="TrainStep"/>
    /// (<see cref="ContextGradient"/>), also without an embedding (for checks against autograd).
    /// </summary>
    internal bool TrackContextGradient { get; set; }

    /// <summary>The last step's gradient of the loss with respect to the conditioners' context [N, C'] (summed over the layers), when computed.</summary>
    internal DeviceTensor? ContextGradient { get; private set; }

    /// <summary>The last clipped step's (or <see cref="BackwardLogProb"/>'s) squared global gradient norm [1] (every parameter's, the embedding's too); null before one.</summary>
    internal DeviceTensor? GradientSquares => _adam.GradientSquares;

    /// <summary>
    /// True when the base is the uniform distribution on [0, 1]^D (a unit-hypercube flow, e.g. i-flow's): its base
    /// draws are uniform, its log-density is the flow's log|det| inside the cube (−∞ outside), and its samples are
    /// clamped to [0, 1]^D (float rounding of the inverse can leave the cube by an ulp; the log-density is that of the
    /// unclamped point, as FlowIntegrator computes it). False: a standard normal.
    /// </summary>
    public bool UnitCubeBase { get; }

    /// <summary>Adam's β1 (default 0.9).</summary>
    public double Beta1 { get; set; } = 0.9;

    /// <summary>Adam's β2 (default 0.999).</summary>
    public double Beta2 { get; set; } = 0.999;

    /// <summary>Adam's ε (default 1e−8), added to √v̂ as Optim/Adam does.</summary>
    public double Eps { get; set; } = 1e-8;

    /// <summary>Adam's weight decay (default 0): an L2 term on the gradient, or with <see cref="DecoupledWeightDecay"/> AdamW's shrinking of the weights.</summary>
    public double WeightDecay
    {
        get => _weightDecay;
        set => _weightDecay = value >= 0 ? value : throw new ArgumentOutOfRangeException(nameof(value), value, "weight decay must be ≥ 0");
    }

    private double _weightDecay;

    /// <summary>True for AdamW's decoupled weight decay (θ ← θ·(1 − lr·wd) before the update), as Optim/AdamW.</summary>
    public bool DecoupledWeightDecay { get; set; }

    /// <summary>Global gradient-norm clip of <see cref="TrainStep"/> (as Optim/GradientClipping: max/(norm + 1e−6) above max); null (default): none.</summary>
    public double? ClipNorm { get; set; }

    /// <summary>
    /// When true, MAF layers sample with D full MADE passes each (as CaloFlow v1 and nflows do; for timing comparisons)
    /// instead of the incremental MADE (about one pass of work in D small steps, the default); the samples agree
    /// within float rounding.
    /// </summary>
    public bool FullPassSampling
    {
        get => _layers.OfType<DeviceAutoregressive>().Any(l => !l.Incremental);
        set { foreach (var l in _layers.OfType<DeviceAutoregressive>()) l.Incremental = !value; }
    }

    /// <summary>Optimizer steps taken (Adam's bias corrections count from it).</summary>
    public long Steps { get; internal set; }

    private DeviceTensor X(int l) => _ws[l - 1];
    private DeviceTensor GA => _ws[_layers.Count];
    private DeviceTensor GB => _ws[_layers.Count + 1];
    private DeviceTensor LogDet => _ws[_layers.Count + 2];
    private DeviceTensor LogP => _ws[_layers.Count + 3];
    private DeviceTensor GLogDet => _ws[_layers.Count + 4];

    private void Check(DeviceTensor x, string what, params int[] shape)
    {
        ArgumentNullException.ThrowIfNull(x, what);
        if (x.Device != Device) throw new ArgumentException($"{what} lives on another device", what);
        x.Check(what, shape);
    }

    /// <summary>Checks the events (and the context against them: [rows, C] exactly when the flow is conditional).</summary>
    private void CheckInput(DeviceTensor x, string what, DeviceTensor? context)
    {
        ArgumentNullException.ThrowIfNull(x, what);
        Check(x, what, x.Rows, Features);
        if (ContextFeatures == 0)
        {
            if (context is not null) throw new ArgumentException($"the flow has no context features, but a context {Tensor<float>.FormatShape(context.Shape.ToArray())} was given", nameof(context));
            return;
        }
        if (context is null) throw new ArgumentException($"the flow is conditional: give a context [{x.Rows}, {ContextFeatures}] (one row per event)", nameof(context));
        Check(context, nameof(context), x.Rows, ContextFeatures);
    }

    /// <summary>log p(x | context) per row of x [N, D] into <paramref name="result"/> [N] (all on the device); the context [N, C] for a conditional flow.</summary>
    public void LogProb(DeviceTensor x, DeviceTensor result, DeviceTensor? context = null)
    {
        CheckInput(x, nameof(x), context);
        ArgumentNullException.ThrowIfNull(result);
        result.Check(nameof(result), x.Rows);
        Forward(x, context);
        BaseLogProb(X(_layers.Count), LogDet, result);
    }

    /// <summary>logp = logDet + log p_base(z) per row.</summary>
    private void BaseLogProb(DeviceTensor z, DeviceTensor logDet, DeviceTensor logp)
    {
        if (UnitCubeBase) DeviceOps.UnitCubeLogProb(z, logDet, logp);
        else if (_periodic is { } p) DeviceOps.PeriodicNormalLogProb(z, logDet, logp, p);
        else DeviceOps.NormalLogProb(z, logDet, logp);
    }

    /// <summary>
    /// The rows of host input <paramref name="x"/> ([rows, D], named <paramref name="what"/> in errors) after checking it,
    /// its <paramref name="context"/> ([rows, C] for a conditional flow, none otherwise) and the <paramref name="batch"/> size.
    /// </summary>
    private int CheckHostInput(Tensor<float> x, string name, string what, Tensor<float>? context, int batch)
    {
        ArgumentNullException.ThrowIfNull(x, name);
        if (x.Rank != 2 || x.Dim(1) != Features) throw new ArgumentException($"{what} must be [rows, {Features}], got {x.ShapeString}", name);
        int n = x.Dim(0);
        if (ContextFeatures == 0 && context is not null) throw new ArgumentException($"the flow has no context features, but a context {context.ShapeString} was given", nameof(context));
        if (ContextFeatures > 0 && (context is null || context.Rank != 2 || context.Dim(0) != n || context.Dim(1) != ContextFeatures))
            throw new ArgumentException($"the flow is conditional: the context must be [{n}, {ContextFeatures}] (one row per event), got {context?.ShapeString ?? "none"}", nameof(context));
        if (batch < 1) throw new ArgumentOutOfRangeException(nameof(batch), batch, "must be ≥ 1");
        return n;
    }

    /// <summary>
    /// log p(x | context) per row of the host tensor x [N, D] (context [N, C] for a conditional flow), computed on
    /// the device in batches of <paramref name="batch"/> rows.
    /// </summary>
    public float[] LogProb(Tensor<float> x, Tensor<float>? context = null, int batch = 10_000)
    {
        int n = CheckHostInput(x, nameof(x), "input", context, batch);
        var result = new float[n];
        // device blocks for the events, their context and the result (kept between calls), filled from the host spans
        for (int r0 = 0; r0 < n; r0 += batch)
        {
            int rows = Math.Min(batch, n - r0);
            _blocks.Prepare(rows);
            _blocks[0].CopyFrom(x.ReadOnlySpan.Slice(r0 * Features, rows * Features));
            if (context is not null) _blocks[1].CopyFrom(context.ReadOnlySpan.Slice(r0 * ContextFeatures, rows * ContextFeatures));
            var lp = _blocks[2];
            LogProb(_blocks[0], lp, context is null ? null : _blocks[1]);
            lp.CopyTo(result.AsSpan(r0, rows));
        }
        return result;
    }

    /// <summary>
    /// The forward pass; a <paramref name="training"/> pass first initialises an ActNorm still uninitialised from its
    /// input (the CPU's first training batch) and runs batch norm on the batch's statistics (otherwise the running ones).
    /// </summary>
    private void Forward(DeviceTensor x, DeviceTensor? context, bool training = false)
    {
        _ws.Prepare(x.Rows);
        DeviceOps.Fill(LogDet, 0);
        context = Embed(context);
        DeviceBatchNorm.SetTraining(_layers, training); // batch norm: the batch's statistics in a training step, else the running ones
        SetDropout(training);
        for (int l = 0; l < _layers.Count; l++)
        {
            var input = l == 0 ? x : X(l);
            if (training && _layers[l] is DeviceActNorm { NeedsInitialization: true } actNorm) actNorm.Initialize(input);
            _layers[l].Forward(input, ContextOf(l, context), X(l + 1), LogDet);
        }
    }

    /// <summary>Dropout in the conditioners on (a training step's forward: masks drawn from the step count) or off (evaluation mode).</summary>
    private void SetDropout(bool training)
    {
        if (_dropoutStep is null) return;
        foreach (var layer in _layers) layer.Network?.SetDropout(training ? _dropoutStep : null);
    }

    /// <summary>The conditioners' context: the embedding of <paramref name="context"/>, or the context itself without an embedding.</summary>
    private DeviceTensor? Embed(DeviceTensor? context) => _embedding is null || context is null ? context : _embedding.Forward(context);

    private DeviceTensor? ContextOf(int layer, DeviceTensor? context) => (_layers[layer].Network?.ContextFeatures ?? 0) == 0 ? null : context;

    /// <summary>x = T⁻¹(z | context) for base points z [N, D] into <paramref name="x"/> [N, D] (MAF layers: the incremental MADE, or D full passes each; IAF layers: one).</summary>
    public void Inverse(DeviceTensor z, DeviceTensor x, DeviceTensor? context = null) => Inverse(z, x, context, withLogDet: false);

    /// <summary>The inverse; with <paramref name="withLogDet"/> also LogDet[r] = log|det ∂x/∂z| of row r.</summary>
    private void Inverse(DeviceTensor z, DeviceTensor x, DeviceTensor? context, bool withLogDet)
    {
        CheckInput(z, nameof(z), context);
        Check(x, nameof(x), z.Rows, Features);
        _ws.Prepare(z.Rows);
        context = Embed(context);
        DeviceBatchNorm.SetTraining(_layers, false); // sampling: batch norm's running statistics
        SetDropout(false);
        if (withLogDet) DeviceOps.Fill(LogDet, 0);
        var current = z;
        for (int l = _layers.Count - 1; l >= 0; l--)
        {
            var target = l == 0 ? x : (current == GA ? GB : GA);
            _layers[l].Inverse(current, ContextOf(l, context), target, withLogDet ? LogDet : null);
            current = target;
        }
    }

    /// <summary>
    /// x = T⁻¹(z | context) for the host's base points z [N, D] (context [N, C] for a conditional flow), computed on
    /// the device in batches of <paramref name="batch"/> rows: the flow's samples from given base draws.
    /// </summary>
    public Tensor<float> Inverse(Tensor<float> z, Tensor<float>? context = null, int batch = 10_000)
    {
        int n = CheckHostInput(z, nameof(z), "base points", context, batch);
        var x = Tensor<float>.Empty(n, Features);
        _inverse ??= new DeviceWorkspace(Device, Features, Math.Max(1, ContextFeatures), Features);
        for (int r0 = 0; r0 < n; r0 += batch)
        {
            int rows = Math.Min(batch, n - r0);
            _inverse.Prepare(rows);
            _inverse[0].CopyFrom(z.ReadOnlySpan.Slice(r0 * Features, rows * Features));
            if (context is not null) _inverse[1].CopyFrom(context.ReadOnlySpan.Slice(r0 * ContextFeatures, rows * ContextFeatures));
            Inverse(_inverse[0], _inverse[2], context is null ? null : _inverse[1]);
            _inverse[2].CopyTo(x.Span.Slice(r0 * Features, rows * Features));
        }
        return x;
    }

    /// <summary>
    /// <paramref name="n"/> samples [n, D] on the device (one per row of the <paramref name="context"/> [n, C] of a
    /// conditional flow); the base draws come from a counter-based generator seeded by <paramref name="seed"/>.
    /// </summary>
    public DeviceTensor Sample(int n, long seed, DeviceTensor? context = null)
    {
        if (n < 1) throw new ArgumentOutOfRangeException(nameof(n), n, "must be ≥ 1");
        var x = DeviceTensor.Zeros(Device, n, Features);
        try
        {
            Sample(x, seed, 0, context);
            return x;
        }
        catch
        {
            x.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Fills <paramref name="x"/> [N, D] with rows <paramref name="firstRow"/> … <paramref name="firstRow"/> + N − 1 of
    /// the sample stream seeded by <paramref name="seed"/> (one per row of the <paramref name="context"/> [N, C] of a
    /// conditional flow): blocks drawn one after another into one reused buffer hold what
    /// <see cref="Sample(int, long, DeviceTensor?)"/> draws at once, so any number of samples streams through bounded
    /// device memory.
    /// </summary>
    public void Sample(DeviceTensor x, long seed, long firstRow = 0, DeviceTensor? context = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(firstRow);
        Sample(x, context, NoiseArgs.Rows(seed, firstRow, Features));
    }

    /// <summary>
    /// As <see cref="Sample(DeviceTensor, long, long, DeviceTensor?)"/>, and <paramref name="logProb"/> [N] gets each
    /// sample's log-density log p(x) = log p_base(z) − log|det ∂x/∂z| from the same pass (no forward pass).
    /// </summary>
    public void Sample(DeviceTensor x, DeviceTensor logProb, long seed, long firstRow = 0, DeviceTensor? context = null)
    {
        ArgumentNullException.ThrowIfNull(logProb);
        ArgumentOutOfRangeException.ThrowIfNegative(firstRow);
        Check(logProb, nameof(logProb), x.Rows);
        Sample(x, context, NoiseArgs.Rows(seed, firstRow, Features), logProb);
    }

    /// <summary>
    /// Fills <paramref name="x"/> [N, D] with samples from the base draws (normal, or uniform for a unit-cube base) of
    /// the stream rows <paramref name="noise"/> maps its rows to, and <paramref name="logProb"/> with their log-density when given.
    /// </summary>
    internal void Sample(DeviceTensor x, DeviceTensor? context, NoiseArgs noise, DeviceTensor? logProb = null)
    {
        ArgumentNullException.ThrowIfNull(x);
        CheckInput(x, nameof(x), context);
        if (x.Rows == 0) return;
        _blocks.Prepare(x.Rows);
        var z = _blocks[0];
        if (UnitCubeBase) DeviceOps.UniformNoise(z, noise);
        else DeviceOps.NormalNoise(z, noise);
        if (_periodic is { } periodic) DeviceOps.PeriodicNoise(z, noise, periodic);
        Inverse(z, x, context, withLogDet: logProb is not null);
        if (logProb is not null)
        {
            DeviceOps.Scale(LogDet, LogDet, -1); // log|det ∂z/∂x|
            BaseLogProb(z, LogDet, logProb);
        }
        if (UnitCubeBase) DeviceOps.ClampUnit(x);
    }

    /// <summary>
    /// One maximum-likelihood step on <paramref name="batch"/> [N, D] (and its <paramref name="context"/> [N, C] for a
    /// conditional flow; the context gets no gradient): loss = −(1/N) Σ wᵣ log p(xᵣ) with the per-row
    /// <paramref name="weights"/> [N] (all 1 when null: −mean log p), backward through the layers, Adam with
    /// <paramref name="learningRate"/> (the arithmetic of Optim/Adam). Weights divided by the training set's mean
    /// weight give Training/MaximumLikelihoodLoss's weighted loss. Returns the loss (before the step) only when
    /// <paramref name="readLoss"/>, which waits for the device; otherwise null and nothing is read back. On a device
    /// opened with CUDA graphs (<see cref="ComputeDevice.Cuda"/>), a step that does not read its loss and has the
    /// batch size and buffers of an earlier step is replayed as one captured graph.
    /// </summary>
    public float? TrainStep(DeviceTensor batch, double learningRate, bool readLoss = false, DeviceTensor? context = null, DeviceTensor? weights = null)
        => Step(batch, context, weights, learningRate, readLoss, null);

    /// <summary>False for a flow with inverse autoregressive layers, which samples and scores on the device but does not train.</summary>
    internal bool Trainable { get; }

    /// <summary>Why a flow with inverse autoregressive layers does not train on the device.</summary>
    internal const string IafTrainingRefusal = "DeviceFlow: maximum-likelihood training through an inverse autoregressive layer (InverseAutoregressiveTransform) is not supported (its density direction takes D sequential passes); it samples and scores on the device";

    /// <summary>As <see cref="TrainStep"/>; also adds the loss to <paramref name="lossSum"/>[0] on the device when given.</summary>
    internal float? Step(DeviceTensor batch, DeviceTensor? context, DeviceTensor? weights, double learningRate, bool readLoss, DeviceTensor? lossSum)
    {
        if (!Trainable) throw new NotSupportedException(IafTrainingRefusal);
        CheckInput(batch, nameof(batch), context);
        if (weights is not null) Check(weights, nameof(weights), batch.Rows);
        if (!(learningRate >= 0)) throw new ArgumentOutOfRangeException(nameof(learningRate), learningRate, "must be ≥ 0");
        int n = batch.Rows;
        BeginStep(learningRate);
        if (readLoss)
        {
            // eager (a step that reads back is never a graph): the loss of the batch before the step into _sum
            LikelihoodStep(batch, context, weights, lossSum, _sum);
            return -_sum.Download().ReadOnlySpan[0] / n;
        }
        if (Device.GraphCapture is null || _eager) LikelihoodStep(batch, context, weights, lossSum, null); // no closures on the eager path
        else LikelihoodStepAsGraph(batch, context, weights, lossSum);
        return null;
    }

    // the closures live here, so that the eager path allocates none (a captured parameter's closure class is made at method entry)
    private void LikelihoodStepAsGraph(DeviceTensor batch, DeviceTensor? context, DeviceTensor? weights, DeviceTensor? lossSum) =>
        _graph.Run(() => new StepKey(0, batch.Rows, batch.Pointer, context?.Pointer ?? 0, weights?.Pointer ?? 0, lossSum?.Pointer ?? 0, 0, 0, ClipNorm is not null,
            TrackContextGradient, Device.Allocations), () => LikelihoodStep(batch, context, weights, lossSum, null));

    /// <summary>
    /// Steps taken from the training step's captured graph and graphs captured (tests: with a graph capture on the
    /// device, a step replays when its launches equal the captured ones).
    /// </summary>
    internal (long Replays, long Captures) GraphSteps => (_graph.Replays, _graph.Captures);

    /// <summary>
    /// Counts the step and writes its Adam scalars (the learning rate, bias corrections, weight decay, clip norm) into
    /// the device buffer the Adam and clip kernels read: one tiny launch, so that the step's other launches do not
    /// change from step to step (and can be replayed as a captured graph).
    /// </summary>
    private void BeginStep(double learningRate)
    {
        Steps++;
        var args = DeviceAdam.Args(learningRate, Beta1, Beta2, Eps, Steps, WeightDecay, DecoupledWeightDecay);
        _adam.WriteScalars(args, ClipNorm);
        if (_dropoutStep is not null) DeviceDropout.WriteStep(_dropoutStep, Steps); // a replayed graph reads it: fresh masks every step
    }

    /// <summary>
    /// The launches of a maximum-likelihood step (nothing read back, nothing allocated once warm): forward, the loss
    /// added to <paramref name="lossSum"/> and Σ w log p into <paramref name="logpSum"/> when given, backward, clip, Adam.
    /// </summary>
    private void LikelihoodStep(DeviceTensor batch, DeviceTensor? context, DeviceTensor? weights, DeviceTensor? lossSum, DeviceTensor? logpSum)
    {
        int n = batch.Rows;
        Forward(batch, context, training: true);
        var z = X(_layers.Count);
        var w = weights ?? Device.Ones(n);
        if (logpSum is not null || lossSum is not null) BaseLogProb(z, LogDet, LogP);
        if (logpSum is not null) DeviceOps.Gemm(w, false, LogP, false, logpSum, 1, 1, n);
        if (lossSum is not null) DeviceOps.Gemm(w, false, LogP, false, lossSum, 1, 1, n, -1f / n, 1);
        // d(−(1/N) Σ w log p)/dz = w·z/N (0 for the unit cube's constant density), d/d logdet = −w/N for every layer
        if (UnitCubeBase) DeviceOps.Fill(GA, 0);
        else if (weights is null) DeviceOps.Scale(GA, z, 1f / n);
        else DeviceOps.ScaleRows(GA, z, weights, 1f / n);
        if (_periodic is { } pa) DeviceOps.ZeroPeriodic(GA, pa);
        if (weights is null) DeviceOps.Fill(GLogDet, -1f / n);
        else DeviceOps.Scale(GLogDet, weights, -1f / n);
        BackwardAndStep(batch, context);
    }

    /// <summary>
    /// One Adam step on a sampled-divergence loss (Training/SampledDivergenceLoss) of a unit-cube flow on the stored
    /// sample <paramref name="x"/> [N, D]: log q(x) = the flow's log|det| (the base density is 1 on the cube), and with
    /// the round's per-row coefficients c and aux a the loss is (1/N) Σ of −c·log q (KL), c·exp(a − log q) (χ²) or
    /// c·(a − log q)² (exponential). A conditional flow takes the points' <paramref name="context"/> [N, C] (it gets
    /// no gradient; a context embedding trains with the flow). The loss is added to <paramref name="lossSum"/>[0] when given.
    /// </summary>
    internal void DivergenceStep(DeviceTensor x, DeviceTensor coefficient, DeviceTensor aux, int kind, double learningRate, DeviceTensor? lossSum, DeviceTensor? context = null)
    {
        if (!Trainable) throw new NotSupportedException(IafTrainingRefusal);
        if (!UnitCubeBase) throw new NotSupportedException("DeviceFlow: sampled-divergence steps need a unit-cube (BoxUniform [0, 1]^D) base");
        CheckInput(x, nameof(x), context);
        Check(coefficient, nameof(coefficient), x.Rows);
        Check(aux, nameof(aux), x.Rows);
        if (!(learningRate >= 0)) throw new ArgumentOutOfRangeException(nameof(learningRate), learningRate, "must be ≥ 0");
        BeginStep(learningRate);
        if (Device.GraphCapture is null || _eager) DivergenceLaunches(x, coefficient, aux, kind, lossSum, context); // no closures on the eager path
        else DivergenceStepAsGraph(x, coefficient, aux, kind, lossSum, context);
    }

    // the closures live here, so that the eager path allocates none (a captured parameter's closure class is made at method entry)
    private void DivergenceStepAsGraph(DeviceTensor x, DeviceTensor coefficient, DeviceTensor aux, int kind, DeviceTensor? lossSum, DeviceTensor? context) =>
        _graph.Run(() => new StepKey(1 + kind, x.Rows, x.Pointer, context?.Pointer ?? 0, 0, lossSum?.Pointer ?? 0, coefficient.Pointer, aux.Pointer,
            ClipNorm is not null, TrackContextGradient, Device.Allocations), () => DivergenceLaunches(x, coefficient, aux, kind, lossSum, context));

    /// <summary>The launches of a sampled-divergence step (after <see cref="BeginStep"/>): forward, the per-row loss and its log-det gradient, backward, clip, Adam.</summary>
    private void DivergenceLaunches(DeviceTensor x, DeviceTensor coefficient, DeviceTensor aux, int kind, DeviceTensor? lossSum, DeviceTensor? context)
    {
        int n = x.Rows;
        Forward(x, context, training: true);
        DeviceOps.DivergenceRows(LogDet, coefficient, aux, LogP, GLogDet, kind, 1f / n);
        if (lossSum is not null) DeviceOps.Gemm(Device.Ones(n), false, LogP, false, lossSum, 1, 1, n, 1, 1);
        DeviceOps.Fill(GA, 0); // the loss depends on z only through log|det|
        BackwardAndStep(x, context);
    }

    /// <summary>
    /// Backward from GA (d loss/dz) and GLogDet through the layers after a Forward of <paramref name="batch"/> (and
    /// <paramref name="context"/>: its gradient, summed over the layers, feeds the embedding's backward), clipping, Adam
    /// with the scalars <see cref="BeginStep"/> wrote.
    /// </summary>
    private void BackwardAndStep(DeviceTensor batch, DeviceTensor? context)
    {
        Backward(batch, context);
        _adam.Apply(_linears, ClipNorm is not null, _parameters);
    }

    /// <summary>
    /// Backward from GA (d loss/dz) and GLogDet through the layers after a Forward of <paramref name="batch"/> (and
    /// <paramref name="context"/>, as <see cref="BackwardAndStep"/>): every linear's gradients, assigned.
    /// </summary>
    private void Backward(DeviceTensor batch, DeviceTensor? context)
    {
        int n = batch.Rows;
        // the context's gradient, summed over the layers, feeds the embedding's backward
        DeviceTensor? gContext = null;
        if (context is not null && (_embedding is not null || TrackContextGradient))
        {
            _contextGradient.Prepare(n);
            gContext = _contextGradient[0];
            DeviceOps.Fill(gContext, 0);
        }
        ContextGradient = gContext;
        var g = GA; var gx = GB;
        for (int l = _layers.Count - 1; l >= 0; l--)
        {
            _layers[l].Backward(l == 0 ? batch : X(l), g, GLogDet, gx, (_layers[l].Network?.ContextFeatures ?? 0) == 0 ? null : gContext);
            (g, gx) = (gx, g);
        }
        _embedding?.Backward(context!, gContext!);
    }

    /// <summary>Writes the device weights into <paramref name="model"/>'s flow (same architecture) and its context embedding, e.g. the model compiled from.</summary>
    public void CopyTo(FlowModel<float> model)
    {
        ArgumentNullException.ThrowIfNull(model);
        CopyTo(model.Inner, model.Embedding);
    }

    /// <summary>
    /// Writes the device weights into <paramref name="flow"/> (same architecture) and, for a device flow with a
    /// context embedding, into <paramref name="embedding"/> (or the flow's own, as compiled); a MADE's masked weights stay as they are.
    /// </summary>
    public void CopyTo(Flow<float> flow, ContextEmbedding<float>? embedding = null)
    {
        foreach (var (host, device) in Pairs(flow, embedding, nameof(CopyTo))) device.CopyTo(host.Weight, host.Bias!, host.Mask);
        DeviceParameterLayers.CopyTo(DeviceFlowLayers.Steps(DeviceFlowLayers.Unwrap(flow, embedding).Flow), _layers);
    }

    /// <summary>Each trainable parameter of the layers outside networks (ActNorm, LU maps) beside the host flow's, in layer order.</summary>
    internal List<(Autograd.Parameter<float> Host, DeviceParameter Device)> ParameterPairs(Flow<float> flow, ContextEmbedding<float>? embedding = null)
        => DeviceParameterLayers.Pairs(DeviceFlowLayers.Steps(DeviceFlowLayers.Unwrap(flow, embedding).Flow), _layers);

    /// <summary>
    /// Each device linear layer beside the host flow's (same architecture), in parameter order (the flow's, then its
    /// context embedding's): the last <see cref="TrainStep"/>'s weight and bias gradients are <c>Device.GW</c>,
    /// <c>Device.GB</c> (for checks against autograd).
    /// </summary>
    internal IEnumerable<(DeviceFlowLayers.HostLinear Host, DeviceLinear Device)> Pairs(Flow<float> flow, ContextEmbedding<float>? embedding = null, string caller = "DeviceFlow")
    {
        (flow, embedding) = DeviceFlowLayers.Unwrap(flow, embedding);
        if ((embedding is null) != (_embedding is null))
            throw new ArgumentException($"DeviceFlow.{caller}: the device flow has {(_embedding is null ? "no" : "a")} context embedding, the host {(embedding is null ? "none" : "one")}", nameof(embedding));
        var steps = DeviceFlowLayers.Steps(flow);
        if (steps.Count != _layers.Count) throw new ArgumentException($"DeviceFlow.{caller}: the flow has {steps.Count} layers, the device flow {_layers.Count}", nameof(flow));
        var pairs = new List<(DeviceFlowLayers.HostLinear, DeviceLinear)>();
        for (int l = 0; l < steps.Count; l++)
        {
            var hosts = DeviceFlowLayers.Linears(steps[l]);
            var device = _layers[l].Network?.Layers ?? [];
            if (hosts.Count != device.Length) throw new ArgumentException($"DeviceFlow.{caller}: layer {l} has {hosts.Count} linear layers on the host, {device.Length} on the device", nameof(flow));
            for (int i = 0; i < hosts.Count; i++) pairs.Add((hosts[i], device[i]));
        }
        if (embedding is not null)
        {
            var hosts = DeviceEmbedding.HostLinears(embedding);
            var device = _embedding!.Linears.ToList();
            if (hosts.Count != device.Count) throw new ArgumentException($"DeviceFlow.{caller}: the context embedding has {hosts.Count} linear layers on the host, {device.Count} on the device", nameof(embedding));
            for (int i = 0; i < hosts.Count; i++) pairs.Add((hosts[i], device[i]));
        }
        return pairs;
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        _ws.Dispose();
        _blocks.Dispose();
        _contextGradient.Dispose();
        _embedding?.Dispose();
        _inverse?.Dispose();
        _graph.Dispose();
        _sum?.Dispose();
        _adam.Dispose();
        _dropoutStep?.Dispose();
        foreach (var l in _layers) l.Dispose();
    }
}
