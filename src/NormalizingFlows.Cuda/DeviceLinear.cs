using NormalizingFlows.Autograd;
using NormalizingFlows.Tensors;

namespace NormalizingFlows.Cuda;

/// <summary>
/// A (masked) linear layer on the device with its gradient and Adam moments. A MADE layer keeps W∘M on the device and
/// re-applies the mask to the weight gradient, so masked entries stay 0 there; they are never written back.
/// </summary>
internal sealed class DeviceLinear : IDisposable
{
    private readonly DeviceTensor? _mask;

    public DeviceLinear(ComputeDevice dev, Parameter<float> weight, Parameter<float>? bias, Tensor<float>? mask, string where)
    {
        if (bias is null) throw new NotSupportedException($"DeviceFlow: {where} has a linear layer without bias (not supported)");
        Out = weight.Value.Dim(0); In = weight.Value.Dim(1);
        var w = weight.Value;
        if (mask is not null)
        {
            w = w.Clone();
            var ws = w.Span; var ms = mask.ReadOnlySpan;
            for (int i = 0; i < ws.Length; i++) ws[i] *= ms[i];
            _mask = DeviceTensor.Upload(dev, mask);
        }
        W = DeviceTensor.Upload(dev, w);
        B = DeviceTensor.Upload(dev, bias.Value);
        GW = DeviceTensor.Zeros(dev, Out, In); GB = DeviceTensor.Zeros(dev, Out);
        MW = DeviceTensor.Zeros(dev, Out, In); VW = DeviceTensor.Zeros(dev, Out, In);
        MB = DeviceTensor.Zeros(dev, Out); VB = DeviceTensor.Zeros(dev, Out);
    }

    public int In { get; }
    public int Out { get; }
    public DeviceTensor W { get; }
    public DeviceTensor B { get; }
    public DeviceTensor GW { get; }
    public DeviceTensor GB { get; }
    private DeviceTensor MW { get; }
    private DeviceTensor VW { get; }
    private DeviceTensor MB { get; }
    private DeviceTensor VB { get; }

    /// <summary>y = x·Wᵀ + b, ReLU when <paramref name="relu"/>.</summary>
    public void Forward(DeviceTensor x, DeviceTensor y, bool relu)
    {
        DeviceOps.MatMul(x, false, W, true, y);
        DeviceOps.BiasActivation(y, B, relu);
    }

    /// <summary>Weight and bias gradients (assigned; skipped unless <paramref name="parameterGradients"/>) from the output gradient; gx = gy·W when asked.</summary>
    public void Backward(DeviceTensor x, DeviceTensor gy, DeviceTensor? gx, bool parameterGradients = true)
    {
        if (parameterGradients)
        {
            DeviceOps.MatMul(gy, true, x, false, GW);
            if (_mask is not null) DeviceOps.Multiply(GW, _mask);
            DeviceOps.ColumnSums(gy, GB);
        }
        if (gx is not null) DeviceOps.MatMul(gy, false, W, false, gx);
    }

    /// <summary>Adam on the weights and bias with the step's device <paramref name="scalars"/>, the gradients times gradScale[0] when given (the clip factor).</summary>
    public void Step(DeviceTensor scalars, DeviceTensor? gradScale)
    {
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
        foreach (var t in new[] { W, B, GW, GB, MW, VW, MB, VB, _mask }) t?.Dispose();
    }
}
