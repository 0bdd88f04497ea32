using NormalizingFlows.Flows;
using NormalizingFlows.Models;
using NormalizingFlows.Tensors;

namespace NormalizingFlows.Cuda;

/// <summary>
/// A flow compiled onto a <see cref="ComputeDevice"/>: its weights, gradients and Adam state live on the device;
/// <see cref="LogProb(DeviceTensor, DeviceTensor)"/>, <see cref="Sample(int, long)"/> and <see cref="TrainStep"/> run
/// as device kernels (and cuBLAS GEMMs on CUDA) with no host round trip except the loss when asked;
/// <see cref="CopyTo(Flow{float})"/> writes the trained weights back, so the model files stay the library's.
/// Supports RealNVP/affine couplings, rational-quadratic spline couplings (nsf_c), MAF and MAF with splines (maf_rqs)
/// over ReLU conditioners and a standard-normal base, without context. Not thread-safe.
/// </summary>
/// <example><code>
/// using var dev = ComputeDevice.Cuda();
/// using var flow = DeviceFlow.Compile(model, dev);
/// using var batch = DeviceTensor.Upload(dev, x);
/// float loss = flow.TrainStep(batch, 1e-3, readLoss: true)!.Value;
/// flow.CopyTo(model);
/// </code></example>
public sealed class DeviceFlow : IDisposable
{
    private readonly List<IDeviceLayer> _layers;
    private DeviceTensor[] _xs = [];
    private DeviceTensor? _logDet, _logp, _gA, _gB, _gld, _sum, _squares, _clip;
    private int _rows = -1;

    private DeviceFlow(ComputeDevice device, int features, List<IDeviceLayer> layers)
    {
        Device = device;
        Features = features;
        _layers = layers;
    }

    /// <summary>
    /// Compiles <paramref name="model"/>'s flow. A model with preprocessing is refused: compile <c>model.Inner</c>
    /// and feed it preprocessed data (the device computes the flow's density in its own units).
    /// </summary>
    public static DeviceFlow Compile(FlowModel<float> model, ComputeDevice device)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (model.Preprocessing is not null)
            throw new NotSupportedException("DeviceFlow: the model's preprocessing runs on the host: compile model.Inner and feed it model.Preprocessing's output");
        if (model.ContextFeatures > 0) throw new NotSupportedException("DeviceFlow: conditional models are not supported yet");
        return Compile(model.Flow, device);
    }

    /// <summary>Compiles <paramref name="flow"/> (its current weights) onto <paramref name="device"/>.</summary>
    public static DeviceFlow Compile(Flow<float> flow, ComputeDevice device)
    {
        ArgumentNullException.ThrowIfNull(flow);
        ArgumentNullException.ThrowIfNull(device);
        return new DeviceFlow(device, flow.Features, DeviceFlowLayers.Compile(flow, device));
    }

    /// <summary>The device.</summary>
    public ComputeDevice Device { get; }

    /// <summary>Data dimension D.</summary>
    public int Features { get; }

    /// <summary>Adam's β1 (default 0.9).</summary>
    public double Beta1 { get; set; } = 0.9;

    /// <summary>Adam's β2 (default 0.999).</summary>
    public double Beta2 { get; set; } = 0.999;

    /// <summary>Adam's ε (default 1e−8), added to √v̂ as Optim/Adam does.</summary>
    public double Eps { get; set; } = 1e-8;

    /// <summary>Global gradient-norm clip of <see cref="TrainStep"/> (as Optim/GradientClipping: max/(norm + 1e−6) above max); null (default): none.</summary>
    public double? ClipNorm { get; set; }

    /// <summary>Optimizer steps taken (Adam's bias corrections count from it).</summary>
    public long Steps { get; internal set; }

    private void Prepare(int rows)
    {
        if (rows == _rows) return;
        foreach (var t in _xs.Skip(1)) t.Dispose();
        foreach (var t in new[] { _logDet, _logp, _gA, _gB, _gld, _sum }) t?.Dispose();
        _xs = new DeviceTensor[_layers.Count + 1];
        for (int l = 1; l <= _layers.Count; l++) _xs[l] = DeviceTensor.Zeros(Device, rows, Features);
        _logDet = DeviceTensor.Zeros(Device, rows); _logp = DeviceTensor.Zeros(Device, rows); _gld = DeviceTensor.Zeros(Device, rows);
        _gA = DeviceTensor.Zeros(Device, rows, Features); _gB = DeviceTensor.Zeros(Device, rows, Features);
        _sum = DeviceTensor.Zeros(Device, 1);
        _rows = rows;
    }

    private void CheckInput(DeviceTensor x, string what)
    {
        ArgumentNullException.ThrowIfNull(x, what);
        if (x.Device != Device) throw new ArgumentException($"{what} lives on another device", what);
        x.Check(what, x.Rows, Features);
    }

    /// <summary>log p(x) per row of x [N, D] into <paramref name="result"/> [N] (all on the device).</summary>
    public void LogProb(DeviceTensor x, DeviceTensor result)
    {
        CheckInput(x, nameof(x));
        result.Check(nameof(result), x.Rows);
        Forward(x);
        DeviceOps.NormalLogProb(_xs[^1], _logDet!, result);
    }

    /// <summary>log p(x) per row of the host tensor x [N, D], computed on the device in batches of <paramref name="batch"/> rows.</summary>
    public float[] LogProb(Tensor<float> x, int batch = 10_000)
    {
        ArgumentNullException.ThrowIfNull(x);
        if (x.Rank != 2 || x.Dim(1) != Features) throw new ArgumentException($"input must be [rows, {Features}], got {x.ShapeString}", nameof(x));
        if (batch < 1) throw new ArgumentOutOfRangeException(nameof(batch), batch, "must be ≥ 1");
        int n = x.Dim(0);
        var result = new float[n];
        // one device block and result vector (a second pair only for a shorter last block), filled from the host span
        DeviceTensor? block = null, lp = null;
        try
        {
            for (int r0 = 0; r0 < n; r0 += batch)
            {
                int rows = Math.Min(batch, n - r0);
                if (block is null || block.Rows != rows)
                {
                    block?.Dispose(); lp?.Dispose();
                    block = DeviceTensor.Zeros(Device, rows, Features);
                    lp = DeviceTensor.Zeros(Device, rows);
                }
                block.CopyFrom(x.ReadOnlySpan.Slice(r0 * Features, rows * Features));
                LogProb(block, lp!);
                lp!.CopyTo(result.AsSpan(r0, rows));
            }
        }
        finally
        {
            block?.Dispose(); lp?.Dispose();
        }
        return result;
    }

    private void Forward(DeviceTensor x)
    {
        Prepare(x.Rows);
        _xs[0] = x;
        DeviceOps.Fill(_logDet!, 0);
        for (int l = 0; l < _layers.Count; l++) _layers[l].Forward(_xs[l], _xs[l + 1], _logDet!);
    }

    /// <summary>x = T⁻¹(z) for base points z [N, D] into <paramref name="x"/> [N, D] (MAF layers: D passes each).</summary>
    public void Inverse(DeviceTensor z, DeviceTensor x)
    {
        CheckInput(z, nameof(z));
        CheckInput(x, nameof(x));
        if (x.Rows != z.Rows) throw new ArgumentException($"x has {x.Rows} rows, z {z.Rows}", nameof(x));
        Prepare(z.Rows);
        var current = z;
        for (int l = _layers.Count - 1; l >= 0; l--)
        {
            var target = l == 0 ? x : (current == _gA ? _gB! : _gA!);
            _layers[l].Inverse(current, target);
            current = target;
        }
    }

    /// <summary><paramref name="n"/> samples [n, D] on the device; the base draws come from a counter-based generator seeded by <paramref name="seed"/>.</summary>
    public DeviceTensor Sample(int n, long seed)
    {
        if (n < 1) throw new ArgumentOutOfRangeException(nameof(n), n, "must be ≥ 1");
        var x = DeviceTensor.Zeros(Device, n, Features);
        using var z = DeviceTensor.Zeros(Device, n, Features);
        DeviceOps.NormalNoise(z, seed);
        Inverse(z, x);
        return x;
    }

    /// <summary>
    /// One maximum-likelihood step on <paramref name="batch"/> [N, D]: loss = −mean log p, backward through the
    /// layers, Adam with <paramref name="learningRate"/> (the arithmetic of Optim/Adam). Returns the loss (before the
    /// step) only when <paramref name="readLoss"/>, which waits for the device; otherwise null and nothing is read back.
    /// </summary>
    public float? TrainStep(DeviceTensor batch, double learningRate, bool readLoss = false) => Step(batch, learningRate, readLoss, null);

    /// <summary>As <see cref="TrainStep(DeviceTensor, double, bool)"/>; also adds the loss to <paramref name="lossSum"/>[0] on the device when given.</summary>
    internal float? Step(DeviceTensor batch, double learningRate, bool readLoss, DeviceTensor? lossSum)
    {
        CheckInput(batch, nameof(batch));
        if (!(learningRate >= 0)) throw new ArgumentOutOfRangeException(nameof(learningRate), learningRate, "must be ≥ 0");
        int n = batch.Rows;
        Forward(batch);
        var z = _xs[^1];
        float? loss = null;
        if (readLoss || lossSum is not null) DeviceOps.NormalLogProb(z, _logDet!, _logp!);
        if (readLoss)
        {
            DeviceOps.Sum(_logp!, _sum!);
            loss = -_sum!.Download().ReadOnlySpan[0] / n;
        }
        if (lossSum is not null) DeviceOps.Gemm(Device.Ones(n), false, _logp!, false, lossSum, 1, 1, n, -1f / n, 1);
        // d(−mean log p)/dz = z/N, d/d logdet = −1/N for every layer
        DeviceOps.Scale(_gA!, z, 1f / n);
        DeviceOps.Fill(_gld!, -1f / n);
        var g = _gA!; var gx = _gB!;
        for (int l = _layers.Count - 1; l >= 0; l--)
        {
            _layers[l].Backward(_xs[l], g, _gld!, gx);
            (g, gx) = (gx, g);
        }
        var linears = _layers.SelectMany(layer => layer.Network.Layers);
        DeviceTensor? clip = null;
        if (ClipNorm is { } maxNorm)
        {
            _squares ??= DeviceTensor.Zeros(Device, 1);
            clip = _clip ??= DeviceTensor.Zeros(Device, 1);
            DeviceOps.Fill(_squares, 0);
            foreach (var linear in linears) linear.AddGradientSquares(_squares);
            DeviceOps.ClipScale(_squares, clip, (float)maxNorm);
        }
        Steps++;
        var args = DeviceAdam.Args(learningRate, Beta1, Beta2, Eps, Steps);
        foreach (var linear in linears) linear.Step(args, clip);
        return loss;
    }

    /// <summary>Writes the device weights into <paramref name="model"/>'s flow (same architecture), e.g. the model compiled from.</summary>
    public void CopyTo(FlowModel<float> model)
    {
        ArgumentNullException.ThrowIfNull(model);
        CopyTo(model.Flow);
    }

    /// <summary>Writes the device weights into <paramref name="flow"/> (same architecture); a MADE's masked weights stay as they are.</summary>
    public void CopyTo(Flow<float> flow)
    {
        foreach (var (host, device) in Pairs(flow, nameof(CopyTo))) device.CopyTo(host.Weight, host.Bias!, host.Mask);
    }

    /// <summary>
    /// Each device linear layer beside the host flow's (same architecture), in parameter order: the last
    /// <see cref="TrainStep"/>'s weight and bias gradients are <c>Device.GW</c>, <c>Device.GB</c> (for checks against autograd).
    /// </summary>
    internal IEnumerable<(DeviceFlowLayers.HostLinear Host, DeviceLinear Device)> Pairs(Flow<float> flow, string caller = "DeviceFlow")
    {
        var steps = DeviceFlowLayers.Steps(flow);
        if (steps.Count != _layers.Count) throw new ArgumentException($"DeviceFlow.{caller}: the flow has {steps.Count} layers, the device flow {_layers.Count}", nameof(flow));
        var pairs = new List<(DeviceFlowLayers.HostLinear, DeviceLinear)>();
        for (int l = 0; l < steps.Count; l++)
        {
            var hosts = DeviceFlowLayers.Linears(steps[l]);
            var device = _layers[l].Network.Layers;
            if (hosts.Count != device.Length) throw new ArgumentException($"DeviceFlow.{caller}: layer {l} has {hosts.Count} linear layers on the host, {device.Length} on the device", nameof(flow));
            for (int i = 0; i < hosts.Count; i++) pairs.Add((hosts[i], device[i]));
        }
        return pairs;
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        foreach (var t in _xs.Skip(1)) t.Dispose();
        foreach (var t in new[] { _logDet, _logp, _gA, _gB, _gld, _sum, _squares, _clip }) t?.Dispose();
        foreach (var l in _layers) l.Dispose();
    }
}
