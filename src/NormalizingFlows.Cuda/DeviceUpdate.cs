namespace NormalizingFlows.Cuda;

/// <summary>An elementwise update on the device: the affine update, the rational-quadratic or the piecewise-linear spline.</summary>
internal sealed class DeviceUpdate
{
    private readonly AffineArgs? _affine;
    private readonly SplineArgs? _spline;
    private readonly LinearSplineArgs? _linear;

    public DeviceUpdate(AffineArgs affine) { _affine = affine; ParametersPerFeature = 2; }

    public DeviceUpdate(SplineArgs spline) { _spline = spline; ParametersPerFeature = spline.ParametersPerElement; }

    public DeviceUpdate(LinearSplineArgs linear) { _linear = linear; ParametersPerFeature = linear.Bins; }

    public int ParametersPerFeature { get; }

    public void Apply(DeviceTensor x, DeviceTensor p, DeviceTensor y, DeviceTensor ld, bool inverse)
    {
        if (_affine is { } a) DeviceOps.Affine(x, p, y, ld, a with { Inverse = inverse ? 1 : 0 });
        else if (_linear is { } l) DeviceOps.LinearSpline(x, p, y, ld, l with { Inverse = inverse ? 1 : 0 });
        else DeviceOps.Spline(x, p, y, ld, _spline!.Value with { Inverse = inverse ? 1 : 0 });
    }

    public void Backward(DeviceTensor x, DeviceTensor p, DeviceTensor gy, DeviceTensor gld, DeviceTensor gx, DeviceTensor gp)
    {
        if (_affine is { } a) DeviceOps.AffineBackward(x, p, gy, gld, gx, gp, a);
        else if (_linear is { } l) DeviceOps.LinearSplineBackward(x, p, gy, gld, gx, gp, l);
        else DeviceOps.SplineBackward(x, p, gy, gld, gx, gp, _spline!.Value);
    }
}
