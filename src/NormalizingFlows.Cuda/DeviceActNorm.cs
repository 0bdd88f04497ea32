using NormalizingFlows.Autograd;
using NormalizingFlows.Tensors;
using NormalizingFlows.Transforms;

namespace NormalizingFlows.Cuda;

/// <summary>
/// ActNorm on the device (Transforms/ActNorm): y = x·exp(s) + b per feature, log|det| = Σ s per row; s and b train
/// as <see cref="DeviceParameter"/>s. A layer compiled from an uninitialised host ActNorm is initialised by the first
/// training step's forward (<see cref="Initialize"/>): its input is read back once and the host layer's own
/// data-dependent initialisation runs on it (the CPU run's formula and code, on the same batch), then s and b are
/// uploaded. Scoring and sampling never initialise (the CPU's evaluation mode).
/// </summary>
internal sealed class DeviceActNorm : IDeviceLayer
{
    private readonly ActNorm<float> _host;          // for the data-dependent initialisation only
    private readonly DeviceWorkspace _ws;           // the log-scale gradient's terms gy·x·exp(s) [rows, D]
    private readonly DeviceTensor _gldSum;          // Σ_r gld[r]

    public DeviceActNorm(ComputeDevice dev, ActNorm<float> host)
    {
        _host = host;
        Features = host.Features;
        LogScale = new DeviceParameter(dev, host.LogScale);
        Shift = new DeviceParameter(dev, host.Shift);
        _ws = new DeviceWorkspace(dev, Features);
        _gldSum = DeviceTensor.Zeros(dev, 1);
        NeedsInitialization = !host.IsInitialized;
    }

    public int Features { get; }

    /// <summary>s [D].</summary>
    public DeviceParameter LogScale { get; }

    /// <summary>b [D].</summary>
    public DeviceParameter Shift { get; }

    /// <summary>Whether the data-dependent initialisation is still to run (at the first training step).</summary>
    public bool NeedsInitialization { get; private set; }

    public DeviceNetwork? Network => null;

    public IReadOnlyList<DeviceParameter> Parameters => [LogScale, Shift];

    /// <summary>
    /// The data-dependent initialisation from this layer's input <paramref name="x"/> [N, D] (one read-back): the host
    /// ActNorm initialises itself from it in training mode (s = −log √(Var + ε), b = −mean·exp(s), in double), and
    /// the device takes its s and b.
    /// </summary>
    public void Initialize(DeviceTensor x)
    {
        if (!NeedsInitialization) return;
        if (x.Rows == 0) return;
        var input = x.Download();
        bool training = _host.Training;
        _host.Train();
        try
        {
            using var _ = GradMode.Disable();
            _host.Forward(new Var<float>(input));
        }
        finally
        {
            if (!training) _host.Eval();
        }
        LogScale.CopyFrom(_host.LogScale);
        Shift.CopyFrom(_host.Shift);
        NeedsInitialization = false;
    }

    /// <summary>Writes s and b into <paramref name="host"/> and marks it initialised when the device layer is.</summary>
    public void CopyTo(ActNorm<float> host)
    {
        LogScale.CopyTo(host.LogScale);
        Shift.CopyTo(host.Shift);
        if (NeedsInitialization || host.IsInitialized) return;
        foreach (var (name, buffer) in host.NamedBuffers())
            if (name == "initialized") buffer[0] = 1;
    }

    public void Forward(DeviceTensor x, DeviceTensor? context, DeviceTensor y, DeviceTensor logDet) => Apply(x, y, logDet, inverse: false);

    public void Inverse(DeviceTensor y, DeviceTensor? context, DeviceTensor x, DeviceTensor? logDet = null) => Apply(y, x, logDet, inverse: true);

    private void Apply(DeviceTensor x, DeviceTensor y, DeviceTensor? logDet, bool inverse)
    {
        if (x.Length == 0) return;
        var k = x.Device.Kernels;
        k.ActNormApply((int)x.Length, x.View, LogScale.Value.View, Shift.Value.View, y.View, Features, inverse ? 1 : 0);
        if (logDet is not null) k.AddRowConstant(x.Rows, LogScale.Value.View, logDet.View, Features, inverse ? -1 : 1);
    }

    public void Backward(DeviceTensor x, DeviceTensor gy, DeviceTensor gld, DeviceTensor gx, DeviceTensor? gContext = null)
    {
        _ws.Prepare(x.Rows);
        var prod = _ws[0];
        if (x.Length > 0) x.Device.Kernels.ActNormBackward((int)x.Length, x.View, LogScale.Value.View, gy.View, gx.View, prod.View, Features);
        // g s_j = Σ_r gy·x·exp(s) + Σ_r gld (log|det| = Σ s per row); g b_j = Σ_r gy
        DeviceOps.ColumnSums(prod, LogScale.Grad);
        DeviceOps.Sum(gld, _gldSum);
        x.Device.Kernels.AddScalar(Features, LogScale.Grad.View, _gldSum.View);
        DeviceOps.ColumnSums(gy, Shift.Grad);
    }

    public void Dispose()
    {
        _ws.Dispose();
        _gldSum.Dispose();
        LogScale.Dispose();
        Shift.Dispose();
    }
}
