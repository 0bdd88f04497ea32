using NormalizingFlows.Autograd;
using NormalizingFlows.Flows;
using NormalizingFlows.Nn.Embeddings;
using NormalizingFlows.Optim;
using NormalizingFlows.Tensors;
using NormalizingFlows.Training;

namespace NormalizingFlows.Cuda;

/// <summary>
/// <see cref="ComputeDevice"/>'s <see cref="IAcceleratedFlow"/> for <see cref="TrainingLoop{T}"/>: a
/// <see cref="DeviceFlow"/>, the training events (with their context and weights) uploaded once, batches gathered on
/// the device from the host's row order into buffers reused across batch sizes (or, for a set over
/// <see cref="ComputeDevice.ResidentDataLimit"/>, kept on the host and each step's rows streamed:
/// <see cref="StreamedBatches"/>), the loss summed on the device, and
/// Adam's moments moved to and from the host optimizer; for a unit-cube flow also FlowIntegrator's rounds (samples
/// with log q, a round's points and coefficients uploaded once, sampled-divergence steps on them).
/// </summary>
internal sealed class AcceleratedDeviceFlow : IAcceleratedFlow
{
    private readonly DeviceFlow _flow;
    private readonly ContextEmbedding<float>? _embedding; // the host embedding compiled with the flow
    private readonly DeviceTensor _lossSum;
    private readonly DeviceWorkspace _batch; // the step's events, context and loss weights [rows, ·]: views over the largest batch's buffers
    private DeviceTensor? _data, _context, _weights;
    private StreamedBatches? _streamed; // the training data on the host when it is over the device's ResidentDataLimit
    private DeviceIndex? _rows;
    private DeviceWorkspace? _round; // a divergence round's points, coefficients, aux and context [rows, ·]
    private bool _roundContext;      // whether the round has a context (a conditional flow)
    private int _divergence = -1;    // its kind for DeviceKernels.DivergenceRows (−1: none set)
    private DeviceWorkspace? _logProbRows; // ForwardLogProb's points, context, log q and BackwardLogProb's gradient [rows, ·]
    private bool _logProbContext, _backwardReady, _gradientsReady;

    public AcceleratedDeviceFlow(ComputeDevice device, Flow<float> flow, Adam<float>? optimizer, ContextEmbedding<float>? embedding = null)
    {
        _flow = DeviceFlow.Compile(flow, device, embedding);
        _embedding = embedding;
        try
        {
            if (optimizer is not null)
                (_flow.Beta1, _flow.Beta2, _flow.Eps, _flow.WeightDecay, _flow.DecoupledWeightDecay) = (optimizer.Beta1, optimizer.Beta2, optimizer.Eps, optimizer.WeightDecay, optimizer.Decoupled);
            _lossSum = DeviceTensor.Zeros(device, 1);
            _batch = new DeviceWorkspace(device, _flow.Features, Math.Max(1, _flow.ContextFeatures), DeviceWorkspace.Vector);
            if (optimizer is not null) _flow.Steps = DeviceAdam.CopyMoments(_flow.Pairs(flow, _embedding).ToList(), optimizer, 0, toHost: false, "DeviceFlow", _flow.ParameterPairs(flow, _embedding));
        }
        catch
        {
            // what was allocated before the failure (e.g. an optimizer whose moments do not match the flow)
            _batch?.Dispose();
            _lossSum?.Dispose();
            _flow.Dispose();
            throw;
        }
    }

    public void SetTrainingData(Tensor<float> x, Tensor<float>? context = null, Tensor<float>? weights = null)
    {
        ArgumentNullException.ThrowIfNull(x);
        if (!_flow.Trainable) throw new NotSupportedException(DeviceFlow.IafTrainingRefusal); // refused at the start of a run, not at its first step
        if (x.Rank != 2 || x.Dim(1) != _flow.Features) throw new ArgumentException($"training data must be [rows, {_flow.Features}], got {x.ShapeString}", nameof(x));
        int n = x.Dim(0);
        if ((context is null) != (_flow.ContextFeatures == 0) || context is not null && (context.Rank != 2 || context.Dim(0) != n || context.Dim(1) != _flow.ContextFeatures))
            throw new ArgumentException($"the flow has {_flow.ContextFeatures} context features: the training context must be {(_flow.ContextFeatures == 0 ? "absent" : $"[{n}, {_flow.ContextFeatures}]")}, got {context?.ShapeString ?? "none"}", nameof(context));
        if (weights is not null && weights.Length != n) throw new ArgumentException($"training weights must have one entry per event ({n}), got {weights.ShapeString}", nameof(weights));
        foreach (var t in new[] { _data, _context, _weights }) t?.Dispose();
        _data = _context = _weights = null;
        _streamed?.Dispose();
        _streamed = null;
        long bytes = sizeof(float) * (x.Length + (context?.Length ?? 0) + (weights?.Length ?? 0));
        if (bytes > _flow.Device.ResidentDataLimit)
        {
            _streamed = new StreamedBatches(_flow.Device, x, context, weights is null ? null : LossWeights(weights));
            return;
        }
        _data = DeviceTensor.Upload(_flow.Device, x);
        if (context is not null) _context = DeviceTensor.Upload(_flow.Device, context);
        if (weights is not null) _weights = DeviceTensor.Upload(_flow.Device, LossWeights(weights));
    }

    /// <summary>
    /// The weights divided by their mean w̄ (summed in double as TrainingData.WeightSum), so that −(1/B) Σ_batch
    /// (w/w̄) log p is MaximumLikelihoodLoss's weighted loss −Σ_batch w log p / (B·w̄).
    /// </summary>
    internal static Tensor<float> LossWeights(Tensor<float> weights)
    {
        var w = weights.ReadOnlySpan;
        double sum = 0;
        foreach (float v in w) sum += v;
        double mean = sum / w.Length;
        if (!(Math.Abs(mean) > 0)) throw new ArgumentException("training weights sum to zero: the weighted likelihood is undefined", nameof(weights));
        var scaled = new float[w.Length];
        for (int i = 0; i < w.Length; i++) scaled[i] = (float)(w[i] / mean);
        return Tensor<float>.From(scaled, w.Length);
    }

    /// <summary>Whether the training data stays on the host, each step's rows streamed (for the tests).</summary>
    internal bool Streaming => _streamed is not null;

    public void TrainStep(ReadOnlySpan<int> rows, double learningRate, double? clipNorm)
    {
        if (_data is null && _streamed is null) throw new InvalidOperationException("TrainStep before SetTrainingData");
        if (rows.Length < 1) throw new ArgumentException("a training step needs at least one row", nameof(rows));
        Invalidate();
        _batch.Prepare(rows.Length);
        bool context = _context is not null || _streamed is not null && _flow.ContextFeatures > 0;
        bool weights = _weights is not null || _streamed is { HasWeights: true };
        if (_streamed is not null) _streamed.Upload(rows, _batch[0], context ? _batch[1] : null, weights ? _batch[2] : null);
        else
        {
            if (_rows is null || _rows.Capacity < rows.Length) { _rows?.Dispose(); _rows = new DeviceIndex(_flow.Device, new int[rows.Length]); }
            _rows.CopyFrom(rows);
            DeviceOps.GatherRows(_data!, _batch[0], _rows);
            if (_context is not null) DeviceOps.GatherRows(_context, _batch[1], _rows);
            if (_weights is not null) DeviceOps.GatherRows(_weights, _batch[2], _rows);
        }
        _flow.ClipNorm = clipNorm;
        _flow.Step(_batch[0], context ? _batch[1] : null, weights ? _batch[2] : null, learningRate, readLoss: false, _lossSum);
    }

    public double TakeLossSum()
    {
        float sum = _lossSum.Download().ReadOnlySpan[0];
        DeviceOps.Fill(_lossSum, 0);
        return sum;
    }

    public float[] LogProb(Tensor<float> x, Tensor<float>? context = null)
    {
        Invalidate();
        return _flow.LogProb(x, context);
    }

    /// <summary>Another pass overwrites ForwardLogProb's (and a step BackwardLogProb's gradients): their successors refuse until called again.</summary>
    private void Invalidate() => _backwardReady = _gradientsReady = false;

    public Tensor<float> Sample(int n, long seed, Tensor<float>? context = null)
    {
        Invalidate();
        using var c = context is null ? null : DeviceTensor.Upload(_flow.Device, context);
        using var x = _flow.Sample(n, seed, c);
        return x.Download();
    }

    public Tensor<float> Inverse(Tensor<float> z, Tensor<float>? context = null, bool fullPasses = false)
    {
        Invalidate();
        _flow.FullPassSampling = fullPasses;
        try { return _flow.Inverse(z, context); }
        finally { _flow.FullPassSampling = false; }
    }

    public (Tensor<float> X, Tensor<float> LogQ) SampleUnitCube(int n, long seed, long firstRow = 0, Tensor<float>? context = null)
    {
        if (!_flow.UnitCubeBase) throw new NotSupportedException("DeviceFlow: sampling a unit-cube flow needs the BoxUniform [0, 1]^D base; this flow's base is a standard normal");
        if (n < 1) throw new ArgumentOutOfRangeException(nameof(n), n, "must be ≥ 1");
        CheckContext(context, n, nameof(context));
        Invalidate();
        _batch.Prepare(n);
        if (context is not null) _batch[1].CopyFrom(context);
        _flow.Sample(_batch[0], _batch[2], seed, firstRow, context is null ? null : _batch[1]);
        return (_batch[0].Download(), _batch[2].Download());
    }

    /// <summary>Throws unless <paramref name="context"/> is [rows, C] for a conditional flow and absent otherwise.</summary>
    private void CheckContext(Tensor<float>? context, int rows, string name)
    {
        if ((context is null) != (_flow.ContextFeatures == 0) || context is not null && (context.Rank != 2 || context.Dim(0) != rows || context.Dim(1) != _flow.ContextFeatures))
            throw new ArgumentException($"the flow has {_flow.ContextFeatures} context features: the context must be {(_flow.ContextFeatures == 0 ? "absent" : $"[{rows}, {_flow.ContextFeatures}] (one row per point)")}, got {context?.ShapeString ?? "none"}", name);
    }

    public void SetDivergenceRound(Tensor<float> x, Divergence divergence, Tensor<float> coefficient, Tensor<float> aux, Tensor<float>? context = null)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(coefficient);
        ArgumentNullException.ThrowIfNull(aux);
        if (x.Rank != 2 || x.Dim(1) != _flow.Features) throw new ArgumentException($"the round's points must be [rows, {_flow.Features}], got {x.ShapeString}", nameof(x));
        int n = x.Dim(0);
        if (coefficient.Length != n || aux.Length != n) throw new ArgumentException($"the round's coefficients and aux need one entry per point ({n}), got {coefficient.ShapeString} and {aux.ShapeString}");
        CheckContext(context, n, nameof(context));
        if (!Enum.IsDefined(divergence)) throw new ArgumentOutOfRangeException(nameof(divergence), divergence, "not a divergence");
        _round ??= new DeviceWorkspace(_flow.Device, _flow.Features, DeviceWorkspace.Vector, DeviceWorkspace.Vector, Math.Max(1, _flow.ContextFeatures));
        _round.Prepare(n);
        _round[0].CopyFrom(x);
        _round[1].CopyFrom(coefficient);
        _round[2].CopyFrom(aux);
        if (context is not null) _round[3].CopyFrom(context);
        _roundContext = context is not null;
        _divergence = divergence switch { Divergence.Variance => 1, Divergence.Exponential => 2, _ => 0 };
    }

    public void DivergenceStep(double learningRate, double? clipNorm)
    {
        if (_divergence < 0 || _round is null) throw new InvalidOperationException("DivergenceStep before SetDivergenceRound");
        Invalidate();
        _flow.ClipNorm = clipNorm;
        _flow.DivergenceStep(_round[0], _round[1], _round[2], _divergence, learningRate, _lossSum, _roundContext ? _round[3] : null);
    }

    public float[] ForwardLogProb(Tensor<float>? x, Tensor<float>? context = null)
    {
        if (x is null)
        {
            if (_logProbRows is null) throw new InvalidOperationException("ForwardLogProb without points before a call with points");
            if (context is not null) throw new ArgumentException("a context without points: give both, or neither to reuse the previous call's", nameof(context));
        }
        else
        {
            if (x.Rank != 2 || x.Dim(1) != _flow.Features) throw new ArgumentException($"the points must be [rows, {_flow.Features}], got {x.ShapeString}", nameof(x));
            CheckContext(context, x.Dim(0), nameof(context));
            _logProbRows ??= new DeviceWorkspace(_flow.Device, _flow.Features, Math.Max(1, _flow.ContextFeatures), DeviceWorkspace.Vector, DeviceWorkspace.Vector);
            _logProbRows.Prepare(x.Dim(0));
            _logProbRows[0].CopyFrom(x);
            if (context is not null) _logProbRows[1].CopyFrom(context);
            _logProbContext = context is not null;
        }
        _backwardReady = false;
        _flow.ForwardLogProb(_logProbRows[0], _logProbContext ? _logProbRows[1] : null, _logProbRows[2]);
        _backwardReady = true;
        return _logProbRows[2].Download().ReadOnlySpan.ToArray();
    }

    public double BackwardLogProb(Tensor<float> gradient)
    {
        ArgumentNullException.ThrowIfNull(gradient);
        if (!_backwardReady || _logProbRows is null) throw new InvalidOperationException("BackwardLogProb without a ForwardLogProb just before it");
        int n = _logProbRows[0].Rows;
        if (gradient.Length != n) throw new ArgumentException($"the gradient needs one entry per point ({n}), got {gradient.ShapeString}", nameof(gradient));
        _backwardReady = false;
        _logProbRows[3].CopyFrom(gradient);
        double squares = _flow.BackwardLogProb(_logProbRows[0], _logProbContext ? _logProbRows[1] : null, _logProbRows[3]);
        _gradientsReady = true;
        return squares;
    }

    public void ApplyGradients(double learningRate, double gradientScale = 1)
    {
        if (!_gradientsReady) throw new InvalidOperationException("ApplyGradients without a BackwardLogProb before it");
        _flow.ApplyGradients(learningRate, gradientScale);
        _gradientsReady = false;
    }

    public void CopyTo(Flow<float> flow, Adam<float>? optimizer = null)
    {
        _flow.CopyTo(flow, _embedding);
        if (optimizer is not null) DeviceAdam.CopyMoments(_flow.Pairs(flow, _embedding).ToList(), optimizer, _flow.Steps, toHost: true, "DeviceFlow", _flow.ParameterPairs(flow, _embedding));
    }
    public void Dispose()
    {
        foreach (var t in new[] { _data, _context, _weights }) t?.Dispose();
        _streamed?.Dispose();
        _batch.Dispose(); _rows?.Dispose(); _round?.Dispose(); _logProbRows?.Dispose(); _lossSum.Dispose();
        _flow.Dispose();
    }
}
