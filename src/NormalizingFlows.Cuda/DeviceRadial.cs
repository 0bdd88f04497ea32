using NormalizingFlows.Transforms;

namespace NormalizingFlows.Cuda;

/// <summary>
/// The radial map on the device (Transforms/Radial: y = z + β·(z − z₀)/(α + ‖z − z₀‖) from base to data, α =
/// softplus(α̂), β = −α + softplus(β̂)), z₀, α̂ and β̂ trained as <see cref="DeviceParameter"/>s. Both directions are
/// the library's closed forms: Forward (density) takes the preimage radius as the positive root of
/// r² + (α + β − R)·r − αR = 0 in its cancellation-free form, its backward implicit in r as the library's; Inverse
/// (sampling) applies the map. All in double per row (<see cref="PlanarRadialKernels"/>); the backward's parameter
/// sums run one thread per parameter over the rows.
/// </summary>
internal sealed class DeviceRadial : IDeviceLayer
{
    private readonly int _d;
    private readonly DeviceRowState _state; // r, R, S, the backward's α and β terms, ∂L/∂R / R per row

    public DeviceRadial(ComputeDevice dev, Radial<float> host)
    {
        _d = host.Features;
        _state = new DeviceRowState(dev, PlanarRadialKernels.RadialState);
        Z0 = new DeviceParameter(dev, host.Z0);
        AlphaHat = new DeviceParameter(dev, host.AlphaHat);
        BetaHat = new DeviceParameter(dev, host.BetaHat);
    }

    /// <summary>z₀ [D].</summary>
    public DeviceParameter Z0 { get; }

    /// <summary>α̂ [1].</summary>
    public DeviceParameter AlphaHat { get; }

    /// <summary>β̂ [1].</summary>
    public DeviceParameter BetaHat { get; }

    public DeviceNetwork? Network => null;

    /// <summary>In the host's parameter order: z₀, α̂, β̂.</summary>
    public IReadOnlyList<DeviceParameter> Parameters => [Z0, AlphaHat, BetaHat];

    public void Forward(DeviceTensor x, DeviceTensor? context, DeviceTensor y, DeviceTensor logDet)
    {
        if (x.Rows == 0) return;
        x.Device.Kernels.RadialForward(x.Rows, x.View, Z0.Value.View, AlphaHat.Value.View, BetaHat.Value.View, y.View, logDet.View, _state.For(x.Rows), _d);
    }

    public void Inverse(DeviceTensor y, DeviceTensor? context, DeviceTensor x, DeviceTensor? logDet = null)
    {
        if (y.Rows == 0) return;
        y.Device.Kernels.RadialInverse(y.Rows, y.View, Z0.Value.View, AlphaHat.Value.View, BetaHat.Value.View, x.View, (logDet ?? x).View, logDet is null ? 0 : 1, _d);
    }

    public void Backward(DeviceTensor x, DeviceTensor gy, DeviceTensor gld, DeviceTensor gx, DeviceTensor? gContext = null)
    {
        var k = x.Device.Kernels;
        int n = x.Rows;
        var state = _state.For(n);
        if (n > 0) k.RadialBackwardRows(n, x.View, Z0.Value.View, AlphaHat.Value.View, BetaHat.Value.View, gy.View, gld.View, gx.View, state, _d);
        k.RadialBackwardColumns(_d + 1, x.View, Z0.Value.View, AlphaHat.Value.View, BetaHat.Value.View, gy.View, state, Z0.Grad.View, AlphaHat.Grad.View, BetaHat.Grad.View, _d, n);
    }

    public void Dispose()
    {
        _state.Dispose();
        Z0.Dispose(); AlphaHat.Dispose(); BetaHat.Dispose();
    }
}
