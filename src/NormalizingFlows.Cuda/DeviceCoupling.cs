namespace NormalizingFlows.Cuda;

/// <summary>A coupling layer on the device: y_b = update(x_b; net([x_a, context])), y_a = x_a (Transforms/Coupling/CouplingTransform).</summary>
internal sealed class DeviceCoupling(ComputeDevice dev, int[] conditioning, int[] transformed, DeviceUpdate update, DeviceNetwork network) : IDeviceLayer
{
    private readonly DeviceIndex _cond = new(dev, conditioning), _trans = new(dev, transformed);
    private readonly DeviceWorkspace _ws = new(dev, conditioning.Length, transformed.Length, transformed.Length, transformed.Length,
        conditioning.Length, transformed.Length, transformed.Length, transformed.Length * update.ParametersPerFeature, conditioning.Length);

    public DeviceNetwork Network { get; } = network;

    private DeviceTensor Xa => _ws[0];
    private DeviceTensor Xb => _ws[1];
    private DeviceTensor Yb => _ws[2];
    private DeviceTensor Ld => _ws[3];
    private DeviceTensor Gya => _ws[4];
    private DeviceTensor Gyb => _ws[5];
    private DeviceTensor Gxb => _ws[6];
    private DeviceTensor Gp => _ws[7];
    private DeviceTensor GxaNet => _ws[8];

    public void Forward(DeviceTensor x, DeviceTensor? context, DeviceTensor y, DeviceTensor logDet)
    {
        _ws.Prepare(x.Rows);
        DeviceOps.Gather(x, Xa, _cond);
        DeviceOps.Gather(x, Xb, _trans);
        update.Apply(Xb, Network.Forward(Xa, context), Yb, Ld, inverse: false);
        DeviceOps.AddRowSums(Ld, logDet, 1);
        DeviceOps.Scatter(Xa, y, _cond);
        DeviceOps.Scatter(Yb, y, _trans);
    }

    public void Inverse(DeviceTensor y, DeviceTensor? context, DeviceTensor x, DeviceTensor? logDet = null)
    {
        _ws.Prepare(y.Rows);
        DeviceOps.Gather(y, Xa, _cond);
        DeviceOps.Gather(y, Yb, _trans);
        update.Apply(Yb, Network.Forward(Xa, context), Xb, Ld, inverse: true);
        if (logDet is not null) DeviceOps.AddRowSums(Ld, logDet, 1);
        DeviceOps.Scatter(Xa, x, _cond);
        DeviceOps.Scatter(Xb, x, _trans);
    }

    public void Backward(DeviceTensor x, DeviceTensor gy, DeviceTensor gld, DeviceTensor gx, DeviceTensor? gContext = null)
    {
        DeviceOps.Gather(gy, Gya, _cond);
        DeviceOps.Gather(gy, Gyb, _trans);
        update.Backward(Xb, Network.Output, Gyb, gld, Gxb, Gp);
        Network.Backward(Xa, Gp, GxaNet, gContext);
        DeviceOps.Add(Gya, GxaNet);
        DeviceOps.Scatter(Gya, gx, _cond);
        DeviceOps.Scatter(Gxb, gx, _trans);
    }

    /// <summary>The update's own parameters (UMNN's integrand network).</summary>
    public IReadOnlyList<DeviceParameter> Parameters => Network.BatchNorms.Count == 0 ? update.Parameters : [.. Network.Parameters, .. update.Parameters];

    public void Dispose()
    {
        update.Dispose();
        _ws.Dispose();
        _cond.Dispose(); _trans.Dispose();
        Network.Dispose();
    }
}
