using NormalizingFlows.Nn.Embeddings;
using NormalizingFlows.Optim;
using NormalizingFlows.Tensors;
using NormalizingFlows.Training;
using NormalizingFlows.Transforms.Continuous;

namespace NormalizingFlows.Cuda;

/// <summary>
/// <see cref="ComputeDevice"/>'s <see cref="IAcceleratedFlowMatching"/>: Training/FlowMatchingLoss's step on the
/// device. The training events (context, weights) are uploaded once and each batch gathered from the host's row
/// order (or streamed, over <see cref="ComputeDevice.ResidentDataLimit"/>); per step the host's draws t [B] and x₀
/// [B, D] are uploaded, then kernels form x_t = (1 − (1 − σ_min)t)x₀ + t·x₁ and the target u = x₁ − (1 − σ_min)x₀, the
/// velocity v_θ(x_t, t, c) runs forward (<see cref="DeviceFlowMatchingVelocity"/>; c through the context embedding
/// when there is one), the loss Σ w‖v − u‖² / (B·D) (weights divided by the set's mean) is added to a device sum, and
/// its gradient runs back through the velocity (and the embedding), then the global-norm clip and Adam of
/// <see cref="DeviceFlow"/>. Nothing is read back but the loss sum when asked.
/// </summary>
internal sealed class DeviceFlowMatching : IAcceleratedFlowMatching
{
    private readonly DeviceFlowMatchingVelocity _velocity;
    private readonly DeviceEmbedding? _embedding;
    private readonly DeviceLinear[] _linears; // the velocity's, then the embedding's: clipped and stepped together
    private readonly DeviceAdamStep _adam;
    private readonly DeviceWorkspace _ws;    // x_t, u, g_v [rows, D]; the per-row loss [rows]; the embedded context's gradient [rows, C']
    private readonly DeviceWorkspace _batch; // the step's x₁, x₀ [rows, D], times [rows], context [rows, C], weights [rows]
    private readonly DeviceTensor _lossSum, _sum;
    private readonly float _keep;            // 1 − σ_min in float, as FlowMatchingLoss
    private DeviceTensor? _data, _context, _weights;
    private StreamedBatches? _streamed;
    private DeviceIndex? _rows;

    public DeviceFlowMatching(ComputeDevice device, VectorField<float> field, double sigmaMin, Adam<float>? optimizer, ContextEmbedding<float>? embedding)
    {
        ArgumentNullException.ThrowIfNull(device);
        ArgumentNullException.ThrowIfNull(field);
        if (!(sigmaMin >= 0 && sigmaMin < 1)) throw new ArgumentOutOfRangeException(nameof(sigmaMin), sigmaMin, "σ_min must lie in [0, 1)");
        if (embedding is not null && embedding.OutputFeatures != field.ContextFeatures)
            throw new ArgumentException($"flow matching on the device: the context embedding gives {embedding.OutputFeatures} features, the velocity field reads {field.ContextFeatures} context features", nameof(embedding));
        Device = device;
        Features = field.Features;
        ContextFeatures = embedding?.InputFeatures ?? field.ContextFeatures;
        _keep = 1f - (float)sigmaMin;
        _velocity = new DeviceFlowMatchingVelocity(device, field);
        try
        {
            if (embedding is not null) _embedding = DeviceEmbedding.Compile(embedding, device);
            _linears = [.. _velocity.Linears, .. _embedding?.Linears ?? []];
            _adam = new DeviceAdamStep(device);
            _ws = new DeviceWorkspace(device, Features, Features, Features, DeviceWorkspace.Vector, Math.Max(1, field.ContextFeatures));
            _batch = new DeviceWorkspace(device, Features, Features, DeviceWorkspace.Vector, Math.Max(1, ContextFeatures), DeviceWorkspace.Vector);
            _lossSum = DeviceTensor.Zeros(device, 1);
            _sum = DeviceTensor.Zeros(device, 1);
            if (optimizer is not null)
            {
                (Beta1, Beta2, Eps, WeightDecay, DecoupledWeightDecay) = (optimizer.Beta1, optimizer.Beta2, optimizer.Eps, optimizer.WeightDecay, optimizer.Decoupled);
                Steps = DeviceAdam.CopyMoments(Pairs(field, embedding), optimizer, 0, toHost: false, "flow matching on the device");
            }
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public ComputeDevice Device { get; }

    /// <summary>Data features D.</summary>
    public int Features { get; }

    /// <summary>Context features per event the steps take (the embedding's input width when there is one; 0: none).</summary>
    public int ContextFeatures { get; }

    public double Beta1 { get; set; } = 0.9;
    public double Beta2 { get; set; } = 0.999;
    public double Eps { get; set; } = 1e-8;
    public double WeightDecay { get; set; }
    public bool DecoupledWeightDecay { get; set; }

    /// <summary>Global gradient-norm clip (as Optim/GradientClipping); null: none.</summary>
    public double? ClipNorm { get; set; }

    /// <summary>Optimizer steps taken (Adam's bias corrections count from it).</summary>
    public long Steps { get; private set; }

    /// <summary>The host's linears (the field's, then the embedding's) beside the device's: after a step, <c>Device.GW</c>, <c>Device.GB</c> are its gradients.</summary>
    internal List<(DeviceFlowLayers.HostLinear Host, DeviceLinear Device)> Pairs(VectorField<float> field, ContextEmbedding<float>? embedding)
    {
        if ((embedding is null) != (_embedding is null))
            throw new ArgumentException($"flow matching on the device: compiled with {(_embedding is null ? "no" : "a")} context embedding, given {(embedding is null ? "none" : "one")}", nameof(embedding));
        var hosts = DeviceFlowMatchingVelocity.HostLinears(field);
        if (embedding is not null) hosts.AddRange(DeviceEmbedding.HostLinears(embedding));
        if (hosts.Count != _linears.Length) throw new ArgumentException($"flow matching on the device: {hosts.Count} linear layers on the host, {_linears.Length} on the device", nameof(field));
        return [.. hosts.Zip(_linears)];
    }

    public void SetTrainingData(Tensor<float> x, Tensor<float>? context = null, Tensor<float>? weights = null)
    {
        ArgumentNullException.ThrowIfNull(x);
        if (x.Rank != 2 || x.Dim(1) != Features) throw new ArgumentException($"training data must be [rows, {Features}], got {x.ShapeString}", nameof(x));
        int n = x.Dim(0);
        if ((context is null) != (ContextFeatures == 0) || context is not null && (context.Rank != 2 || context.Dim(0) != n || context.Dim(1) != ContextFeatures))
            throw new ArgumentException($"the velocity field takes {ContextFeatures} context features: the training context must be {(ContextFeatures == 0 ? "absent" : $"[{n}, {ContextFeatures}]")}, got {context?.ShapeString ?? "none"}", nameof(context));
        if (weights is not null && weights.Length != n) throw new ArgumentException($"training weights must have one entry per event ({n}), got {weights.ShapeString}", nameof(weights));
        foreach (var t in new[] { _data, _context, _weights }) t?.Dispose();
        _data = _context = _weights = null;
        _streamed?.Dispose();
        _streamed = null;
        var lossWeights = weights is null ? null : AcceleratedDeviceFlow.LossWeights(weights);
        long bytes = sizeof(float) * (x.Length + (context?.Length ?? 0) + (weights?.Length ?? 0));
        if (bytes > Device.ResidentDataLimit)
        {
            _streamed = new StreamedBatches(Device, x, context, lossWeights);
            return;
        }
        _data = DeviceTensor.Upload(Device, x);
        if (context is not null) _context = DeviceTensor.Upload(Device, context);
        if (lossWeights is not null) _weights = DeviceTensor.Upload(Device, lossWeights);
    }

    public void Step(ReadOnlySpan<int> rows, Tensor<float> time, Tensor<float> x0, double learningRate, double? clipNorm)
    {
        ArgumentNullException.ThrowIfNull(time);
        ArgumentNullException.ThrowIfNull(x0);
        if (_data is null && _streamed is null) throw new InvalidOperationException("Step before SetTrainingData");
        int n = rows.Length;
        if (n < 1) throw new ArgumentException("a training step needs at least one row", nameof(rows));
        if (time.Length != n) throw new ArgumentException($"the step needs one time per row ({n}), got {time.ShapeString}", nameof(time));
        if (x0.Rank != 2 || x0.Dim(0) != n || x0.Dim(1) != Features) throw new ArgumentException($"the step's base points must be [{n}, {Features}], got {x0.ShapeString}", nameof(x0));
        _batch.Prepare(n);
        bool context = ContextFeatures > 0;
        bool weights = _weights is not null || _streamed is { HasWeights: true };
        if (_streamed is not null) _streamed.Upload(rows, _batch[0], context ? _batch[3] : null, weights ? _batch[4] : null);
        else
        {
            if (_rows is null || _rows.Capacity < n) { _rows?.Dispose(); _rows = new DeviceIndex(Device, new int[n]); }
            _rows.CopyFrom(rows);
            DeviceOps.GatherRows(_data!, _batch[0], _rows);
            if (_context is not null) DeviceOps.GatherRows(_context, _batch[3], _rows);
            if (_weights is not null) DeviceOps.GatherRows(_weights, _batch[4], _rows);
        }
        _batch[1].CopyFrom(x0);
        _batch[2].CopyFrom(time);
        ClipNorm = clipNorm;
        Step(_batch[0], _batch[2], _batch[1], context ? _batch[3] : null, weights ? _batch[4] : null, learningRate, readLoss: false, _lossSum);
    }

    /// <summary>
    /// One step on the events x₁ [N, D] with the draws t [N], x₀ [N, D], the context [N, C] for a conditional field and
    /// the loss weights [N] (already divided by the set's mean; null: all 1); the loss is added to
    /// <paramref name="lossSum"/>[0] when given and returned (before the step) when <paramref name="readLoss"/>.
    /// </summary>
    internal float? Step(DeviceTensor x1, DeviceTensor time, DeviceTensor x0, DeviceTensor? context, DeviceTensor? weights, double learningRate, bool readLoss, DeviceTensor? lossSum)
    {
        int n = x1.Rows;
        x1.Check(nameof(x1), n, Features);
        x0.Check(nameof(x0), n, Features);
        time.Check(nameof(time), n);
        weights?.Check(nameof(weights), n);
        if ((context is null) != (ContextFeatures == 0)) throw new ArgumentException($"the velocity field takes {ContextFeatures} context features, got {(context is null ? "none" : $"{context.Cols}")}", nameof(context));
        context?.Check(nameof(context), n, ContextFeatures);
        if (!(learningRate >= 0)) throw new ArgumentOutOfRangeException(nameof(learningRate), learningRate, "must be ≥ 0");
        Steps++;
        _adam.WriteScalars(DeviceAdam.Args(learningRate, Beta1, Beta2, Eps, Steps, WeightDecay, DecoupledWeightDecay), ClipNorm);
        _ws.Prepare(n);
        var (xt, target, gv, rowLoss) = (_ws[0], _ws[1], _ws[2], _ws[3]);
        Device.Kernels.MatchingInterpolate((int)x1.Length, x0.View, x1.View, time.View, xt.View, target.View, Features, _keep);
        var embedded = _embedding is null || context is null ? context : _embedding.Forward(context);
        var v = _velocity.Forward(xt, time, embedded);
        var ones = Device.Ones(n);
        Device.Kernels.MatchingSquaredError(n, v.View, target.View, (weights ?? ones).View, gv.View, rowLoss.View, Features, 1f / ((float)n * Features));
        if (lossSum is not null) DeviceOps.Gemm(ones, false, rowLoss, false, lossSum, 1, 1, n, 1, 1);
        if (readLoss) DeviceOps.Gemm(ones, false, rowLoss, false, _sum, 1, 1, n);
        var gEmbedded = _embedding is null ? null : _ws[4];
        _velocity.Backward(xt, gv, gEmbedded);
        if (_embedding is not null) _embedding.Backward(context!, gEmbedded!);
        _adam.Apply(_linears, ClipNorm is not null);
        return readLoss ? _sum.Download().ReadOnlySpan[0] : null;
    }

    public double TakeLossSum()
    {
        float sum = _lossSum.Download().ReadOnlySpan[0];
        DeviceOps.Fill(_lossSum, 0);
        return sum;
    }

    public void CopyTo(VectorField<float> field, ContextEmbedding<float>? embedding = null, Adam<float>? optimizer = null)
    {
        var pairs = Pairs(field, embedding);
        foreach (var (host, device) in pairs) device.CopyTo(host.Weight, host.Bias!, null);
        if (optimizer is not null) DeviceAdam.CopyMoments(pairs, optimizer, Steps, toHost: true, "flow matching on the device");
    }

    public void Dispose()
    {
        foreach (var t in new[] { _data, _context, _weights, _lossSum, _sum }) t?.Dispose();
        _streamed?.Dispose();
        _rows?.Dispose();
        _ws?.Dispose();
        _batch?.Dispose();
        _adam?.Dispose();
        _embedding?.Dispose();
        _velocity.Dispose();
    }
}
