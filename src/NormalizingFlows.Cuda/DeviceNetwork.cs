namespace NormalizingFlows.Cuda;

/// <summary>A ReLU network of linear layers (an MLP or a MADE) on the device, with its activations kept for the backward.</summary>
internal sealed class DeviceNetwork(ComputeDevice dev, DeviceLinear[] layers) : IDisposable
{
    private readonly DeviceWorkspace _h = new(dev, layers.Select(l => l.Out).ToArray());
    private readonly DeviceWorkspace _gh = new(dev, layers.SkipLast(1).Select(l => l.Out).ToArray());

    public DeviceLinear[] Layers { get; } = layers;

    /// <summary>The last output (valid after <see cref="Forward"/>).</summary>
    public DeviceTensor Output => _h[Layers.Length - 1];

    /// <summary>The network's output for x [N, in] (hidden layers with the bias and ReLU fused).</summary>
    public DeviceTensor Forward(DeviceTensor x)
    {
        _h.Prepare(x.Rows);
        _gh.Prepare(x.Rows);
        for (int l = 0; l < Layers.Length; l++) Layers[l].Forward(l == 0 ? x : _h[l - 1], _h[l], relu: l < Layers.Length - 1);
        return Output;
    }

    /// <summary>Parameter gradients from the output gradient gOut (after <see cref="Forward"/> on x); gx when asked.</summary>
    public void Backward(DeviceTensor x, DeviceTensor gOut, DeviceTensor? gx)
    {
        var g = gOut;
        for (int l = Layers.Length - 1; l >= 0; l--)
        {
            Layers[l].Backward(l == 0 ? x : _h[l - 1], g, l == 0 ? gx : _gh[l - 1]);
            if (l > 0)
            {
                DeviceOps.ReluBackward(_gh[l - 1], _h[l - 1]);
                g = _gh[l - 1];
            }
        }
    }

    public void Dispose()
    {
        _h.Dispose();
        _gh.Dispose();
        foreach (var l in Layers) l.Dispose();
    }
}
