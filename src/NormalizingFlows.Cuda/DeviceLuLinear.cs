using ILGPU;
using ILGPU.Runtime;
using NormalizingFlows.Transforms;

namespace NormalizingFlows.Cuda;

/// <summary>
/// The LU-decomposed invertible linear map on the device (Transforms/LuLinear): y = x·Wᵀ + b with W = P·L·(U + diag s).
/// Forward: W is composed from the factors in double (one thread per element, rounded to float as on the host), then
/// one D×D GEMM and the bias; log|det| = Σ log|s| per row. Inverse: W⁻¹ = U'⁻¹·L⁻¹·Pᵀ built once per call by
/// triangular solves in double (one thread per column), then x = (y − b)·W⁻¹ᵀ. Backward: gx = gy·W, gW = gyᵀ·x and
/// gb = Σ_r gy by GEMMs, then the factors' gradients from gW in double (<see cref="GlowKernels.LuBackward"/>).
/// </summary>
internal sealed class DeviceLuLinear : IDeviceLayer
{
    private readonly int _d;
    private readonly DeviceIndex _perm, _inversePerm;
    private readonly DeviceTensor _sign, _w, _winv, _gw, _gldSum;
    private readonly MemoryBuffer1D<double, Stride1D.Dense> _scratch; // the triangular solves' columns [D, D]
    private readonly DeviceWorkspace _ws; // y − b for the inverse [rows, D]

    public DeviceLuLinear(ComputeDevice dev, LuLinear<float> host)
    {
        _d = host.Features;
        var perm = host.Permutation.ToArray();
        var inverse = new int[_d];
        for (int i = 0; i < _d; i++) inverse[perm[i]] = i;
        _perm = new DeviceIndex(dev, perm);
        _inversePerm = new DeviceIndex(dev, inverse);
        _sign = DeviceTensor.Upload(dev, Tensors.Tensor<float>.From(host.Sign.Select(s => (float)s).ToArray(), _d));
        _w = DeviceTensor.Zeros(dev, _d, _d);
        _winv = DeviceTensor.Zeros(dev, _d, _d);
        _gw = DeviceTensor.Zeros(dev, _d, _d);
        _gldSum = DeviceTensor.Zeros(dev, 1);
        _scratch = dev.Accelerator.Allocate1D<double>((long)_d * _d);
        _ws = new DeviceWorkspace(dev, _d);
        Lower = new DeviceParameter(dev, host.Lower);
        Upper = new DeviceParameter(dev, host.Upper);
        LogAbsDiag = new DeviceParameter(dev, host.LogAbsDiag);
        Bias = new DeviceParameter(dev, host.Bias);
    }

    public DeviceParameter Lower { get; }
    public DeviceParameter Upper { get; }
    public DeviceParameter LogAbsDiag { get; }
    public DeviceParameter Bias { get; }

    public DeviceNetwork? Network => null;

    /// <summary>In the host's parameter order: lower, upper, log|s|, bias.</summary>
    public IReadOnlyList<DeviceParameter> Parameters => [Lower, Upper, LogAbsDiag, Bias];

    /// <summary>The weight W [D, D] as last composed (tests).</summary>
    internal DeviceTensor Weight => _w;

    /// <summary>W⁻¹ [D, D] as last built by an inverse (tests).</summary>
    internal DeviceTensor InverseWeight => _winv;

    private void Compose(ComputeDevice dev) =>
        dev.Kernels.LuCompose(_d * _d, Lower.Value.View, Upper.Value.View, LogAbsDiag.Value.View, _sign.View, _perm.View, _w.View, _d);

    public void Forward(DeviceTensor x, DeviceTensor? context, DeviceTensor y, DeviceTensor logDet)
    {
        var dev = x.Device;
        Compose(dev);
        if (x.Rows == 0) return;
        DeviceOps.MatMul(x, false, _w, true, y);
        DeviceOps.BiasActivation(y, Bias.Value, relu: false);
        dev.Kernels.AddRowConstant(x.Rows, LogAbsDiag.Value.View, logDet.View, _d, 1);
    }

    public void Inverse(DeviceTensor y, DeviceTensor? context, DeviceTensor x, DeviceTensor? logDet = null)
    {
        var dev = y.Device;
        dev.Kernels.LuInverse(_d, Lower.Value.View, Upper.Value.View, LogAbsDiag.Value.View, _sign.View, _perm.View, _scratch.View, _winv.View, _d);
        if (y.Rows == 0) return;
        _ws.Prepare(y.Rows);
        var shifted = _ws[0];
        dev.Kernels.AddRowVector((int)y.Length, y.View, Bias.Value.View, shifted.View, _d, -1);
        DeviceOps.MatMul(shifted, false, _winv, true, x);
        if (logDet is not null) dev.Kernels.AddRowConstant(y.Rows, LogAbsDiag.Value.View, logDet.View, _d, -1);
    }

    public void Backward(DeviceTensor x, DeviceTensor gy, DeviceTensor gld, DeviceTensor gx, DeviceTensor? gContext = null)
    {
        var dev = x.Device;
        DeviceOps.MatMul(gy, false, _w, false, gx);      // gx = gy·W (W composed by the forward)
        DeviceOps.MatMul(gy, true, x, false, _gw);       // gW = gyᵀ·x
        DeviceOps.ColumnSums(gy, Bias.Grad);
        DeviceOps.Sum(gld, _gldSum);
        dev.Kernels.LuBackward(_d * _d, Lower.Value.View, Upper.Value.View, LogAbsDiag.Value.View, _sign.View, _inversePerm.View, _gw.View, _gldSum.View,
            Lower.Grad.View, Upper.Grad.View, LogAbsDiag.Grad.View, _d);
    }

    public void Dispose()
    {
        foreach (var t in new[] { _sign, _w, _winv, _gw, _gldSum }) t.Dispose();
        _scratch.Dispose();
        _perm.Dispose(); _inversePerm.Dispose();
        _ws.Dispose();
        Lower.Dispose(); Upper.Dispose(); LogAbsDiag.Dispose(); Bias.Dispose();
    }
}
