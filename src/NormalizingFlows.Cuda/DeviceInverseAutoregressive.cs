namespace NormalizingFlows.Cuda;

/// <summary>
/// An inverse autoregressive layer on the device (Transforms/Autoregressive/InverseAutoregressiveTransform, the
/// distillation student): the same elementwise map τ and MADE as a MAF layer, but the MADE reads the base side.
/// Sampling (base → data) is one MADE pass over [z, context]: x = τ⁻¹(z; θ(z, c)). The density direction is sequential:
/// D passes from z = 0, z ← τ(x; θ(z, c)), each fixing one more position of the order (the last pass's log|det| is
/// exact). Maximum-likelihood training through this layer is not supported (<see cref="DeviceFlow.TrainStep"/> refuses it).
/// </summary>
internal sealed class DeviceInverseAutoregressive(ComputeDevice dev, int features, DeviceUpdate update, DeviceNetwork network) : IDeviceLayer
{
    private readonly DeviceWorkspace _ws = new(dev, features, features);

    public DeviceNetwork Network { get; } = network;

    /// <summary>The elementwise update τ (for the distillation's hand-chained passes).</summary>
    internal DeviceUpdate Update => update;

    private DeviceTensor Ld => _ws[0];
    private DeviceTensor Next => _ws[1];

    /// <summary>z = τ(x; θ(z, c)) in D passes (density direction); logDet += log|det ∂z/∂x|.</summary>
    public void Forward(DeviceTensor x, DeviceTensor? context, DeviceTensor y, DeviceTensor logDet)
    {
        _ws.Prepare(x.Rows);
        DeviceOps.Fill(y, 0);
        for (int step = 0; step < features; step++)
        {
            update.Apply(x, Network.Forward(y, context), Next, Ld, inverse: false);
            DeviceOps.Scale(y, Next, 1);
        }
        DeviceOps.AddRowSums(Ld, logDet, 1);
    }

    /// <summary>x = τ⁻¹(z; θ(z, c)) in one MADE pass (sampling).</summary>
    public void Inverse(DeviceTensor y, DeviceTensor? context, DeviceTensor x, DeviceTensor? logDet = null)
    {
        _ws.Prepare(y.Rows);
        update.Apply(y, Network.Forward(y, context), x, Ld, inverse: true);
        if (logDet is not null) DeviceOps.AddRowSums(Ld, logDet, 1);
    }

    public void Backward(DeviceTensor x, DeviceTensor gy, DeviceTensor gld, DeviceTensor gx, DeviceTensor? gContext = null)
        => throw new NotSupportedException(DeviceFlow.IafTrainingRefusal);

    public void Dispose()
    {
        _ws.Dispose();
        Network.Dispose();
    }
}
