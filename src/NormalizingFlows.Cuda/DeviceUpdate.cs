namespace NormalizingFlows.Cuda;

/// <summary>An elementwise update on the device: the affine update, the rational-quadratic, piecewise-linear or piecewise-quadratic spline, NAF's sigmoidal map or UMNN (with its integrand network's parameters).</summary>
internal sealed class DeviceUpdate : IDisposable
{
    private readonly DeviceUmnn? _umnn;
    private readonly AffineArgs? _affine;
    private readonly SplineArgs? _spline;
    private readonly LinearSplineArgs? _linear;
    private readonly QuadraticSplineArgs? _quadratic;
    private readonly SigmoidalArgs? _sigmoidal;

    public DeviceUpdate(AffineArgs affine) { _affine = affine; ParametersPerFeature = 2; }

    public DeviceUpdate(SplineArgs spline) { _spline = spline; ParametersPerFeature = spline.ParametersPerElement; }

    public DeviceUpdate(LinearSplineArgs linear) { _linear = linear; ParametersPerFeature = linear.Bins; }

    public DeviceUpdate(QuadraticSplineArgs quadratic) { _quadratic = quadratic; ParametersPerFeature = 2 * quadratic.Bins + 1; }

    public DeviceUpdate(SigmoidalArgs sigmoidal) { _sigmoidal = sigmoidal; ParametersPerFeature = sigmoidal.ParametersPerElement; }

    public DeviceUpdate(DeviceUmnn umnn) { _umnn = umnn; ParametersPerFeature = umnn.ParametersPerFeature; }

    public int ParametersPerFeature { get; }

    /// <summary>The update's own trainable parameters (UMNN's integrand network; none for the others).</summary>
    public IReadOnlyList<DeviceParameter> Parameters => _umnn?.Parameters ?? [];

    /// <summary>
    /// The update of feature <paramref name="feature"/> alone (a one-column input): for a circular spline update, its
    /// column's kind; otherwise this update.
    /// </summary>
    public DeviceUpdate Column(int feature)
        => _spline is { Boundary: 2 } s
            ? new DeviceUpdate(s with { CircularColumns = s.CircularColumns == -1L || (feature < 64 && ((s.CircularColumns >> feature) & 1) != 0) ? 1L : 0L })
            : this;

    public void Apply(DeviceTensor x, DeviceTensor p, DeviceTensor y, DeviceTensor ld, bool inverse)
    {
        if (_umnn is { } u) u.Apply(x, p, y, ld, inverse);
        else if (_affine is { } a) DeviceOps.Affine(x, p, y, ld, a with { Inverse = inverse ? 1 : 0 });
        else if (_linear is { } l) DeviceOps.LinearSpline(x, p, y, ld, l with { Inverse = inverse ? 1 : 0 });
        else if (_quadratic is { } q) DeviceOps.QuadraticSpline(x, p, y, ld, q with { Inverse = inverse ? 1 : 0 });
        else if (_sigmoidal is { } s) DeviceSigmoidal.Apply(x, p, y, ld, s with { Inverse = inverse ? 1 : 0 });
        else DeviceOps.Spline(x, p, y, ld, _spline!.Value with { Inverse = inverse ? 1 : 0 });
    }

    public void Backward(DeviceTensor x, DeviceTensor p, DeviceTensor gy, DeviceTensor gld, DeviceTensor gx, DeviceTensor gp)
    {
        if (_umnn is { } u) u.Backward(x, p, gy, gld, gx, gp);
        else if (_affine is { } a) DeviceOps.AffineBackward(x, p, gy, gld, gx, gp, a);
        else if (_linear is { } l) DeviceOps.LinearSplineBackward(x, p, gy, gld, gx, gp, l);
        else if (_quadratic is { } q) DeviceOps.QuadraticSplineBackward(x, p, gy, gld, gx, gp, q);
        else if (_sigmoidal is { } s) DeviceSigmoidal.Backward(x, p, gy, gld, gx, gp, s);
        else DeviceOps.SplineBackward(x, p, gy, gld, gx, gp, _spline!.Value);
    }

    public void Dispose() => _umnn?.Dispose();
}
