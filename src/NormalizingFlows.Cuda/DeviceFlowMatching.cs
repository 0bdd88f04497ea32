using NormalizingFlows.Flows;
using NormalizingFlows.Nn.Embeddings;
using NormalizingFlows.Optim;
using NormalizingFlows.Tensors;
using NormalizingFlows.Training;
using NormalizingFlows.Transforms.Continuous;

namespace NormalizingFlows.Cuda;

/// <summary>
/// <see cref="ComputeDevice"/>'s <see cref="IAcceleratedFlowMatching"/>: Training/FlowMatchingLoss's steps on a
/// <see cref="DeviceFlow"/> of the continuous flow (one <see cref="ContinuousTransform{T}"/> over its base, behind the
/// context embedding when there is one). The training events (context, weights) are uploaded once and each batch is
/// gathered from the host's row order (or streamed, over <see cref="ComputeDevice.ResidentDataLimit"/>); per step
/// the host's draws t [B] and x₀ [B, D] are uploaded (or, with FlowMatchingLoss.DeviceDraws, drawn on the device by
/// <see cref="FlowMatchingKernels.Draws"/>) and <c>DeviceFlow.MatchingStep</c> runs the path, the velocity
/// (cnf's <see cref="DeviceVectorField"/>), the loss into a device sum, the backward, clip and Adam. The validation
/// log-likelihood is the device flow's <see cref="DeviceFlow.LogProb(Tensor{float}, Tensor{float}?, int)"/> (the ODE
/// and its trace on the device, as the CPU's <c>ContinuousTransform</c> solves them).
/// </summary>
internal sealed class DeviceFlowMatching : IAcceleratedFlowMatching
{
    private readonly DeviceFlow _flow;
    private readonly ContextEmbedding<float>? _embedding; // the host embedding compiled with the flow
    private readonly DeviceWorkspace _scratch; // the step's x_t, u, g_v [rows, D] and per-row loss [rows]
    private readonly DeviceWorkspace _batch;   // the step's x₁, x₀ [rows, D], times [rows], context [rows, C], loss weights [rows]
    private readonly DeviceTensor _lossSum;
    private readonly float _keep;              // 1 − σ_min in float, as FlowMatchingLoss
    private DeviceTensor? _data, _context, _weights;
    private StreamedBatches? _streamed;
    private DeviceIndex? _rows;
    private DeviceTensor? _drawKey;            // with device draws: the (step, seed) they are keyed by [6] (FlowMatchingKernels.DrawKey)

    /// <summary>
    /// Compiles <paramref name="flow"/> (a <see cref="ContinuousTransform{T}"/> over its base; its current weights) behind
    /// <paramref name="embedding"/> when given, with <paramref name="optimizer"/>'s Adam state when given.
    /// </summary>
    public DeviceFlowMatching(ComputeDevice device, Flow<float> flow, double sigmaMin, Adam<float>? optimizer, ContextEmbedding<float>? embedding)
    {
        ArgumentNullException.ThrowIfNull(device);
        ArgumentNullException.ThrowIfNull(flow);
        if (flow.Transform is not ContinuousTransform<float>)
            throw new NotSupportedException($"flow matching on the device trains a flow whose transform is one ContinuousTransform, not {flow.Transform.GetType().Name}");
        if (!(sigmaMin >= 0 && sigmaMin < 1)) throw new ArgumentOutOfRangeException(nameof(sigmaMin), sigmaMin, "σ_min must lie in [0, 1)");
        _keep = 1f - (float)sigmaMin;
        _flow = DeviceFlow.Compile(flow, device, embedding);
        _embedding = embedding;
        try
        {
            _scratch = new DeviceWorkspace(device, _flow.Features, _flow.Features, _flow.Features, DeviceWorkspace.Vector);
            _batch = new DeviceWorkspace(device, _flow.Features, _flow.Features, DeviceWorkspace.Vector, Math.Max(1, _flow.ContextFeatures), DeviceWorkspace.Vector);
            _lossSum = DeviceTensor.Zeros(device, 1);
            if (optimizer is not null)
            {
                (_flow.Beta1, _flow.Beta2, _flow.Eps, _flow.WeightDecay, _flow.DecoupledWeightDecay) = (optimizer.Beta1, optimizer.Beta2, optimizer.Eps, optimizer.WeightDecay, optimizer.Decoupled);
                _flow.Steps = DeviceAdam.CopyMoments(_flow.Pairs(flow, embedding).ToList(), optimizer, 0, toHost: false, "flow matching on the device", _flow.ParameterPairs(flow, embedding));
            }
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>The compiled flow (for tests: its <c>Pairs</c> give the last step's gradients).</summary>
    internal DeviceFlow Flow => _flow;

    public void SetTrainingData(Tensor<float> x, Tensor<float>? context = null, Tensor<float>? weights = null)
    {
        ArgumentNullException.ThrowIfNull(x);
        int d = _flow.Features, c = _flow.ContextFeatures;
        if (x.Rank != 2 || x.Dim(1) != d) throw new ArgumentException($"training data must be [rows, {d}], got {x.ShapeString}", nameof(x));
        int n = x.Dim(0);
        if ((context is null) != (c == 0) || context is not null && (context.Rank != 2 || context.Dim(0) != n || context.Dim(1) != c))
            throw new ArgumentException($"the flow takes {c} context features: the training context must be {(c == 0 ? "absent" : $"[{n}, {c}]")}, got {context?.ShapeString ?? "none"}", nameof(context));
        if (weights is not null && weights.Length != n) throw new ArgumentException($"training weights must have one entry per event ({n}), got {weights.ShapeString}", nameof(weights));
        foreach (var t in new[] { _data, _context, _weights }) t?.Dispose();
        _data = _context = _weights = null;
        _streamed?.Dispose();
        _streamed = null;
        var lossWeights = weights is null ? null : AcceleratedDeviceFlow.LossWeights(weights);
        long bytes = sizeof(float) * (x.Length + (context?.Length ?? 0) + (weights?.Length ?? 0));
        if (bytes > _flow.Device.ResidentDataLimit)
        {
            _streamed = new StreamedBatches(_flow.Device, x, context, lossWeights);
            return;
        }
        _data = DeviceTensor.Upload(_flow.Device, x);
        if (context is not null) _context = DeviceTensor.Upload(_flow.Device, context);
        if (lossWeights is not null) _weights = DeviceTensor.Upload(_flow.Device, lossWeights);
    }

    public void Step(ReadOnlySpan<int> rows, Tensor<float> time, Tensor<float> x0, double learningRate, double? clipNorm)
    {
        ArgumentNullException.ThrowIfNull(time);
        ArgumentNullException.ThrowIfNull(x0);
        int n = rows.Length, d = _flow.Features;
        if (time.Length != n) throw new ArgumentException($"the step needs one time per row ({n}), got {time.ShapeString}", nameof(time));
        if (x0.Rank != 2 || x0.Dim(0) != n || x0.Dim(1) != d) throw new ArgumentException($"the step's base points must be [{n}, {d}], got {x0.ShapeString}", nameof(x0));
        GatherBatch(rows);
        _batch[1].CopyFrom(x0);
        _batch[2].CopyFrom(time);
        MatchingStep(learningRate, clipNorm);
    }

    public void Step(ReadOnlySpan<int> rows, long seed, long step, double learningRate, double? clipNorm)
    {
        GatherBatch(rows);
        int n = rows.Length;
        WriteDrawKey(seed, step);
        // the draws' launch is part of the step's launches (a captured graph replays it; it reads the key buffer)
        MatchingStep(learningRate, clipNorm, () => LaunchDraws(n));
    }

    /// <summary>
    /// The draws of (<paramref name="seed"/>, <paramref name="step"/>) for <paramref name="n"/> rows into the step's time
    /// [n] and base points [n, D] (<see cref="Time"/>, <see cref="BasePoints"/>): (seed, step) written into a device
    /// buffer (one tiny launch), then one launch of <see cref="FlowMatchingKernels.Draws"/> that reads it.
    /// </summary>
    internal void Draw(int n, long seed, long step)
    {
        if (n < 1) throw new ArgumentException("a training step needs at least one row", nameof(n));
        _batch.Prepare(n);
        WriteDrawKey(seed, step);
        LaunchDraws(n);
    }

    /// <summary>Writes (seed, step) into the draws' key buffer [6] (one tiny launch, outside a captured graph).</summary>
    private void WriteDrawKey(long seed, long step)
    {
        if (step < 0 || step >= 1L << 48) throw new ArgumentOutOfRangeException(nameof(step), step, "the step count must lie in [0, 2^48)");
        _drawKey ??= DeviceTensor.Zeros(_flow.Device, 6);
        ulong s = (ulong)seed;
        _flow.Device.Kernels.MatchingDrawKey(1, _drawKey.View, (int)(step & 0xFFFFFF), (int)(step >> 24),
            (int)(s & 0xFFFF), (int)(s >> 16 & 0xFFFF), (int)(s >> 32 & 0xFFFF), (int)(s >> 48));
    }

    private void LaunchDraws(int n) => _flow.Device.Kernels.MatchingDraws(n * (_flow.Features + 1), _batch[2].View, _batch[1].View, _drawKey!.View, n);

    /// <summary>The last step's times [rows] (for tests: the device's draws).</summary>
    internal DeviceTensor Time => _batch[2];

    /// <summary>The last step's base points x₀ [rows, D] (for tests: the device's draws).</summary>
    internal DeviceTensor BasePoints => _batch[1];

    private void GatherBatch(ReadOnlySpan<int> rows)
    {
        if (_data is null && _streamed is null) throw new InvalidOperationException("Step before SetTrainingData");
        int n = rows.Length;
        if (n < 1) throw new ArgumentException("a training step needs at least one row", nameof(rows));
        _batch.Prepare(n);
        bool context = _flow.ContextFeatures > 0;
        bool weights = _weights is not null || _streamed is { HasWeights: true };
        if (_streamed is not null) _streamed.Upload(rows, _batch[0], context ? _batch[3] : null, weights ? _batch[4] : null);
        else
        {
            if (_rows is null || _rows.Capacity < n) { _rows?.Dispose(); _rows = new DeviceIndex(_flow.Device, new int[n]); }
            _rows.CopyFrom(rows);
            DeviceOps.GatherRows(_data!, _batch[0], _rows);
            if (_context is not null) DeviceOps.GatherRows(_context, _batch[3], _rows);
            if (_weights is not null) DeviceOps.GatherRows(_weights, _batch[4], _rows);
        }
    }

    private void MatchingStep(double learningRate, double? clipNorm, Action? draws = null)
    {
        bool context = _flow.ContextFeatures > 0;
        bool weights = _weights is not null || _streamed is { HasWeights: true };
        _flow.ClipNorm = clipNorm;
        _flow.MatchingStep(_batch[0], _batch[2], _batch[1], context ? _batch[3] : null, weights ? _batch[4] : null, _keep, learningRate, readLoss: false, _lossSum, _scratch, draws);
    }

    /// <summary>One step on device tensors (the loss <paramref name="weights"/> already divided by the set's mean); the loss when <paramref name="readLoss"/>.</summary>
    internal float? Step(DeviceTensor x1, DeviceTensor time, DeviceTensor x0, DeviceTensor? context, DeviceTensor? weights, double learningRate, bool readLoss)
        => _flow.MatchingStep(x1, time, x0, context, weights, _keep, learningRate, readLoss, null, _scratch);

    public double TakeLossSum()
    {
        float sum = _lossSum.Download().ReadOnlySpan[0];
        DeviceOps.Fill(_lossSum, 0);
        return sum;
    }

    public float[] LogProb(Tensor<float> x, Tensor<float>? context = null) => _flow.LogProb(x, context);

    public void CopyTo(Flow<float> flow, Adam<float>? optimizer = null)
    {
        _flow.CopyTo(flow, _embedding);
        if (optimizer is not null)
            DeviceAdam.CopyMoments(_flow.Pairs(flow, _embedding).ToList(), optimizer, _flow.Steps, toHost: true, "flow matching on the device", _flow.ParameterPairs(flow, _embedding));
    }

    public void Dispose()
    {
        foreach (var t in new[] { _data, _context, _weights, _lossSum, _drawKey }) t?.Dispose();
        _streamed?.Dispose();
        _rows?.Dispose();
        _scratch?.Dispose();
        _batch?.Dispose();
        _flow.Dispose();
    }
}
