using ILGPU;
using ILGPU.Runtime;
using NormalizingFlows.Transforms;

namespace NormalizingFlows.Cuda;

/// <summary>
/// The planar map on the device (Transforms/Planar: y = z + û·tanh(wᵀz + b) from base to data, û = u + k·w keeping
/// wᵀû &gt; −1), u, w and b trained as <see cref="DeviceParameter"/>s. Forward (the density direction) solves
/// α + v·tanh(α + b) = wᵀy per row by Planar's own safeguarded Newton (kept in the bracket [t − |v|, t + |v|], bisection
/// otherwise, to full double precision), then z = y − û·tanh(α + b); its backward differentiates the root implicitly
/// as the library does. Inverse (sampling) is the closed form. All in double per row (<see cref="PlanarRadialKernels"/>);
/// the backward's parameter sums run one thread per parameter over the rows.
/// </summary>
internal sealed class DevicePlanar : IDeviceLayer
{
    private readonly int _d;
    private readonly DeviceRowState _state;                         // tanh, 1 − tanh², ∂L/∂t, ∂L/∂v per row
    private readonly MemoryBuffer1D<double, Stride1D.Dense> _sums;  // ∂L/∂û [D], ∂L/∂w before the constraint [D], ∂L/∂b

    public DevicePlanar(ComputeDevice dev, Planar<float> host)
    {
        _d = host.Features;
        _state = new DeviceRowState(dev, PlanarRadialKernels.PlanarState);
        _sums = dev.Accelerator.Allocate1D<double>(2L * _d + 1);
        U = new DeviceParameter(dev, host.U);
        W = new DeviceParameter(dev, host.W);
        B = new DeviceParameter(dev, host.B);
    }

    /// <summary>u [D] (unconstrained).</summary>
    public DeviceParameter U { get; }

    /// <summary>w [D].</summary>
    public DeviceParameter W { get; }

    /// <summary>b [1].</summary>
    public DeviceParameter B { get; }

    public DeviceNetwork? Network => null;

    /// <summary>In the host's parameter order: u, w, b.</summary>
    public IReadOnlyList<DeviceParameter> Parameters => [U, W, B];

    public void Forward(DeviceTensor x, DeviceTensor? context, DeviceTensor y, DeviceTensor logDet)
    {
        if (x.Rows == 0) return;
        x.Device.Kernels.PlanarForward(x.Rows, x.View, U.Value.View, W.Value.View, B.Value.View, y.View, logDet.View, _state.For(x.Rows), _d);
    }

    public void Inverse(DeviceTensor y, DeviceTensor? context, DeviceTensor x, DeviceTensor? logDet = null)
    {
        if (y.Rows == 0) return;
        y.Device.Kernels.PlanarInverse(y.Rows, y.View, U.Value.View, W.Value.View, B.Value.View, x.View, (logDet ?? x).View, logDet is null ? 0 : 1, _d);
    }

    public void Backward(DeviceTensor x, DeviceTensor gy, DeviceTensor gld, DeviceTensor gx, DeviceTensor? gContext = null)
    {
        var k = x.Device.Kernels;
        int n = x.Rows;
        var state = _state.For(n);
        if (n > 0) k.PlanarBackwardRows(n, U.Value.View, W.Value.View, gy.View, gld.View, gx.View, state, _d);
        k.PlanarBackwardColumns(2 * _d + 1, x.View, U.Value.View, W.Value.View, gy.View, state, _sums.View, _d, n);
        k.PlanarFinish(_d, U.Value.View, W.Value.View, _sums.View, U.Grad.View, W.Grad.View, B.Grad.View, _d);
    }

    public void Dispose()
    {
        _state.Dispose();
        _sums.Dispose();
        U.Dispose(); W.Dispose(); B.Dispose();
    }
}
