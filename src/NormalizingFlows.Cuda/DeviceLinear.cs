using NormalizingFlows.Autograd;
using NormalizingFlows.Tensors;

namespace NormalizingFlows.Cuda;

/// <summary>
/// A (masked) linear layer on the device with its gradient and Adam moments. A MADE layer keeps W∘M on the device and
/// re-applies the mask to the weight gradient, so masked entries stay 0 there; they are never written back.
/// A frozen layer (a distillation's teacher) holds its weights only: no gradient, Adam-moment or mask buffers, and
/// parameter gradients, Adam steps and moment copies throw an <see cref="InvalidOperationException"/>.
/// </summary>
internal sealed class DeviceLinear : IDisposable
{
    private readonly DeviceTensor? _mask;
    private readonly DeviceTensor? _gw, _gb, _mw, _vw, _mb, _vb;

    public DeviceLinear(ComputeDevice dev, Parameter<float> weight, Parameter<float>? bias, Tensor<float>? mask, string where, bool frozen = false)
    {
        if (bias is null) throw new NotSupportedException($"DeviceFlow: {where} has a linear layer without bias (not supported)");
        Out = weight.Value.Dim(0); In = weight.Value.Dim(1);
        var w = weight.Value;
        if (mask is not null)
        {
            w = w.Clone();
            var ws = w.Span; var ms = mask.ReadOnlySpan;
            for (int i = 0; i < ws.Length; i++) ws[i] *= ms[i];
            if (!frozen) _mask = DeviceTensor.Upload(dev, mask); // only the weight gradient needs it
        }
        Frozen = frozen;
        W = DeviceTensor.Upload(dev, w);
        B = DeviceTensor.Upload(dev, bias.Value);
        if (frozen) return;
        _gw = DeviceTensor.Zeros(dev, Out, In); _gb = DeviceTensor.Zeros(dev, Out);
        _mw = DeviceTensor.Zeros(dev, Out, In); _vw = DeviceTensor.Zeros(dev, Out, In);
        _mb = DeviceTensor.Zeros(dev, Out); _vb = DeviceTensor.Zeros(dev, Out);
    }

    /// <summary>Whether the layer is frozen: weights only, no gradient or Adam-moment buffers.</summary>
    public bool Frozen { get; }

    public int In { get; }
    public int Out { get; }
    public DeviceTensor W { get; }
    public DeviceTensor B { get; }
    public DeviceTensor GW => _gw ?? throw FrozenError("has no weight gradient");
    public DeviceTensor GB => _gb ?? throw FrozenError("has no bias gradient");
    private DeviceTensor MW => _mw ?? throw FrozenError("has no Adam moments");
    private DeviceTensor VW => _vw ?? throw FrozenError("has no Adam moments");
    private DeviceTensor MB => _mb ?? throw FrozenError("has no Adam moments");
    private DeviceTensor VB => _vb ?? throw FrozenError("has no Adam moments");

    private InvalidOperationException FrozenError(string what) => new($"a frozen device linear layer [{Out}, {In}] (a distillation's teacher) {what}: it cannot be trained");

    /// <summary>y = x·Wᵀ + b, ReLU when <paramref name="relu"/>.</summary>
    public void Forward(DeviceTensor x, DeviceTensor y, bool relu)
    {
        DeviceOps.MatMul(x, false, W, true, y);
        DeviceOps.BiasActivation(y, B, relu);
    }

    /// <summary>y = activation(x·Wᵀ + b) for an activation code (<see cref="DeviceActivation"/>), the pre-activation into <paramref name="pre"/> when given.</summary>
    public void Forward(DeviceTensor x, DeviceTensor y, int activation, DeviceTensor? pre = null)
    {
        DeviceOps.MatMul(x, false, W, true, y);
        DeviceActivationOps.BiasActivation(y, B, activation, pre);
    }

    /// <summary>Weight and bias gradients (assigned; skipped unless <paramref name="parameterGradients"/>) from the output gradient; gx = gy·W when asked.</summary>
    public void Backward(DeviceTensor x, DeviceTensor gy, DeviceTensor? gx, bool parameterGradients = true)
    {
        if (parameterGradients)
        {
            if (Frozen) throw FrozenError("gets no parameter gradients");
            DeviceOps.MatMul(gy, true, x, false, GW);
            if (_mask is not null) DeviceOps.Multiply(GW, _mask);
            DeviceOps.ColumnSums(gy, GB);
        }
        if (gx is not null) DeviceOps.MatMul(gy, false, W, false, gx);
    }

    /// <summary>Adam on the weights and bias with the step's device <paramref name="scalars"/>, the gradients times gradScale[0] when given (the clip factor).</summary>
    public void Step(DeviceTensor scalars, DeviceTensor? gradScale)
    {
        if (Frozen) throw FrozenError("takes no Adam step");
        DeviceOps.Adam(W, GW, MW, VW, scalars, gradScale);
        DeviceOps.Adam(B, GB, MB, VB, scalars, gradScale);
    }

    /// <summary>acc[0] += the squared norm of the weight and bias gradients.</summary>
    public void AddGradientSquares(DeviceTensor acc)
    {
        DeviceOps.AddSumOfSquares(GW, acc);
        DeviceOps.AddSumOfSquares(GB, acc);
    }

    /// <summary>Adam's first and second moments of the weight and bias, to (<paramref name="toHost"/>) or from host tensors of their shapes.</summary>
    public void CopyMoments(Tensor<float> mw, Tensor<float> vw, Tensor<float> mb, Tensor<float> vb, bool toHost)
    {
        if (Frozen) throw FrozenError("has no Adam moments");
        foreach (var (device, host) in new[] { (MW, mw), (VW, vw), (MB, mb), (VB, vb) })
        {
            if (host.Length != device.Length) throw new ArgumentException($"DeviceFlow: Adam moments of {host.Length} values for a device tensor of {device.Length}");
            if (toHost) device.CopyTo(host.Span);
            else device.CopyFrom(host.ReadOnlySpan);
        }
    }

    /// <summary>Writes the weights into host parameters of the same shape (a MADE layer's masked entries stay as they are).</summary>
    public void CopyTo(Parameter<float> weight, Parameter<float> bias, Tensor<float>? mask)
    {
        if (weight.Value.Dim(0) != Out || weight.Value.Dim(1) != In || bias.Value.Length != Out)
            throw new ArgumentException($"DeviceFlow.CopyTo: a layer is [{weight.Value.Dim(0)}, {weight.Value.Dim(1)}] on the host, [{Out}, {In}] on the device");
        var w = W.Download().ReadOnlySpan;
        var target = weight.Value.Span;
        for (int i = 0; i < target.Length; i++)
            if (mask is null || mask.ReadOnlySpan[i] != 0) target[i] = w[i];
        B.Download().ReadOnlySpan.CopyTo(bias.Value.Span);
    }

    public void Dispose()
    {
        foreach (var t in new[] { W, B, _gw, _gb, _mw, _vw, _mb, _vb, _mask }) t?.Dispose();
    }
}
