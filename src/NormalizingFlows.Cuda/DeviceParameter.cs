using NormalizingFlows.Autograd;
using NormalizingFlows.Tensors;

namespace NormalizingFlows.Cuda;

/// <summary>
/// One trainable parameter tensor of a layer outside a conditioner network (ActNorm's log-scale and shift, the LU
/// map's factors and bias, the planar and radial maps' parameters) on the device: its value, gradient and Adam moments, clipped and stepped with the
/// conditioners' linears (<see cref="DeviceAdamStep"/>) and copied to and from the host parameter.
/// </summary>
internal sealed class DeviceParameter : IDisposable
{
    private readonly DeviceTensor _m, _v;

    /// <summary>A copy of <paramref name="host"/>'s value on <paramref name="device"/>, with zero gradient and moments.</summary>
    public DeviceParameter(ComputeDevice device, Parameter<float> host)
    {
        Length = host.Value.Length;
        int n = Math.Max(1, Length); // a parameter of no values (an LU map on one feature has no off-diagonal entries) keeps one unused slot
        Value = DeviceTensor.Zeros(device, n); Grad = DeviceTensor.Zeros(device, n);
        _m = DeviceTensor.Zeros(device, n); _v = DeviceTensor.Zeros(device, n);
        CopyFrom(host);
    }

    /// <summary>The number of values.</summary>
    public int Length { get; }

    /// <summary>The value on the device.</summary>
    public DeviceTensor Value { get; }

    /// <summary>The gradient (assigned by the layer's backward).</summary>
    public DeviceTensor Grad { get; }

    /// <summary>Adam on the value with the step's device <paramref name="scalars"/>, the gradient times gradScale[0] when given (the clip factor).</summary>
    public void Step(DeviceTensor scalars, DeviceTensor? gradScale)
    {
        if (Length > 0) DeviceOps.Adam(Value, Grad, _m, _v, scalars, gradScale);
    }

    /// <summary>acc[0] += the gradient's squared norm.</summary>
    public void AddGradientSquares(DeviceTensor acc)
    {
        if (Length > 0) DeviceOps.AddSumOfSquares(Grad, acc);
    }

    /// <summary>Adam's first and second moments, to (<paramref name="toHost"/>) or from host tensors of the parameter's length.</summary>
    public void CopyMoments(Tensor<float> m, Tensor<float> v, bool toHost)
    {
        foreach (var (device, host) in new[] { (_m, m), (_v, v) })
        {
            if (host.Length != Length) throw new ArgumentException($"DeviceFlow: Adam moments of {host.Length} values for a device parameter of {Length}");
            if (Length == 0) continue;
            if (toHost) device.CopyTo(host.Span);
            else device.CopyFrom(host.ReadOnlySpan);
        }
    }

    /// <summary>Writes the value into <paramref name="host"/> (same length).</summary>
    public void CopyTo(Parameter<float> host)
    {
        Check(host);
        if (Length > 0) Value.CopyTo(host.Value.Span);
    }

    /// <summary>Overwrites the value with <paramref name="host"/>'s (same length).</summary>
    public void CopyFrom(Parameter<float> host)
    {
        Check(host);
        if (Length > 0) Value.CopyFrom(host.Value.ReadOnlySpan);
    }

    private void Check(Parameter<float> host)
    {
        if (host.Value.Length != Length) throw new ArgumentException($"DeviceFlow: a parameter of {host.Value.Length} values on the host, {Length} on the device");
    }

    public void Dispose()
    {
        Value.Dispose(); Grad.Dispose(); _m.Dispose(); _v.Dispose();
    }
}
