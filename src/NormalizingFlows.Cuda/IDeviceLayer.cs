namespace NormalizingFlows.Cuda;

/// <summary>
/// One flow layer on the device. Forward is the density direction (data → base); Backward follows a Forward on the
/// same x and context. The context [N, C] is null for a layer whose network reads none.
/// </summary>
internal interface IDeviceLayer : IDisposable
{
    /// <summary>y = f(x), logDet[r] += log|det J| of row r.</summary>
    void Forward(DeviceTensor x, DeviceTensor? context, DeviceTensor y, DeviceTensor logDet);

    /// <summary>x = f⁻¹(y) (sampling); logDet[r] += log|det ∂x/∂y| of row r when <paramref name="logDet"/> is given.</summary>
    void Inverse(DeviceTensor y, DeviceTensor? context, DeviceTensor x, DeviceTensor? logDet = null);

    /// <summary>
    /// gx from gy and the per-row log-det gradient gld; the parameter gradients are assigned; the context's gradient
    /// is added to <paramref name="gContext"/> [N, C] when given (a trainable context embedding), else not computed.
    /// </summary>
    void Backward(DeviceTensor x, DeviceTensor gy, DeviceTensor gld, DeviceTensor gx, DeviceTensor? gContext = null);

    /// <summary>The conditioner network whose parameters this layer trains; null for a layer without one (ActNorm, the LU map, the planar and radial maps, a permutation).</summary>
    DeviceNetwork? Network { get; }

    /// <summary>The layer's own trainable parameters outside a network, in the host transform's parameter order (none by default).</summary>
    IReadOnlyList<DeviceParameter> Parameters => [];
}
