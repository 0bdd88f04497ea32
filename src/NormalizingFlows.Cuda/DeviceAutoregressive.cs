namespace NormalizingFlows.Cuda;

/// <summary>
/// A masked autoregressive layer on the device (Transforms/Autoregressive/AutoregressiveTransform): density in one
/// MADE pass (over [x, context] when conditional); sampling with the incremental MADE (<see cref="DeviceIncrementalMade"/>, <see cref="DeviceIncrementalResidualMade"/>,
/// about one pass of work in D small steps) when given one, else in D full passes from x = 0, each fixing one more
/// position of the order.
/// </summary>
internal sealed class DeviceAutoregressive(ComputeDevice dev, int features, DeviceUpdate update, DeviceNetwork network, IIncrementalMade? incremental = null) : IDeviceLayer
{
    private readonly DeviceWorkspace _ws = new(dev, features, features * update.ParametersPerFeature, features, features);

    public DeviceNetwork Network { get; } = network;

    /// <summary>The elementwise update τ (for the distillation's hand-chained passes).</summary>
    internal DeviceUpdate Update => update;

    private DeviceTensor Ld => _ws[0];
    private DeviceTensor Gp => _ws[1];
    private DeviceTensor GxNet => _ws[2];
    private DeviceTensor Next => _ws[3];

    public void Forward(DeviceTensor x, DeviceTensor? context, DeviceTensor y, DeviceTensor logDet)
    {
        _ws.Prepare(x.Rows);
        update.Apply(x, Network.Forward(x, context), y, Ld, inverse: false);
        DeviceOps.AddRowSums(Ld, logDet, 1);
    }

    /// <summary>When false, <see cref="Inverse"/> runs the D full passes even with an incremental sampler (CaloFlow v1's way, for timings).</summary>
    public bool Incremental { get; set; } = true;

    /// <summary>Whether the layer has an incremental sampler (else it always samples with D full passes).</summary>
    internal bool HasIncrementalSampler => incremental is not null;

    public void Inverse(DeviceTensor y, DeviceTensor? context, DeviceTensor x, DeviceTensor? logDet = null)
    {
        if (incremental is not null && Incremental)
        {
            incremental.Inverse(y, context, x, update);
            if (logDet is not null)
            {
                // log|det| from one pass at the final x: θ(x) is the last full pass's parameters (θ_i reads only x_<i)
                _ws.Prepare(y.Rows);
                update.Apply(y, Network.Forward(x, context), Next, Ld, inverse: true);
                DeviceOps.AddRowSums(Ld, logDet, 1);
            }
            return;
        }
        _ws.Prepare(y.Rows);
        DeviceOps.Fill(x, 0);
        for (int step = 0; step < features; step++)
        {
            update.Apply(y, Network.Forward(x, context), Next, Ld, inverse: true);
            DeviceOps.Scale(x, Next, 1);
        }
        if (logDet is not null) DeviceOps.AddRowSums(Ld, logDet, 1); // the last pass's parameters are those of the final x
    }

    public void Backward(DeviceTensor x, DeviceTensor gy, DeviceTensor gld, DeviceTensor gx, DeviceTensor? gContext = null)
    {
        update.Backward(x, Network.Output, gy, gld, gx, Gp);
        Network.Backward(x, Gp, GxNet, gContext);
        DeviceOps.Add(gx, GxNet);
    }

    /// <summary>The update's own parameters (UMNN's integrand network).</summary>
    public IReadOnlyList<DeviceParameter> Parameters => update.Parameters;

    public void Dispose()
    {
        update.Dispose();
        _ws.Dispose();
        incremental?.Dispose();
        Network.Dispose();
    }
}
