namespace NormalizingFlows.Cuda;

/// <summary>A ReLU network of linear layers (an MLP or a MADE) on the device, with its activations kept for the backward.</summary>
internal sealed class DeviceNetwork(ComputeDevice dev, DeviceLinear[] layers) : IDisposable
{
    private DeviceTensor[] _h = [], _gh = [];
    private int _rows = -1;

    public DeviceLinear[] Layers { get; } = layers;

    public int Outputs => Layers[^1].Out;

    /// <summary>The last output (valid after <see cref="Forward"/>).</summary>
    public DeviceTensor Output => _h[^1];

    private void Prepare(int rows)
    {
        if (rows == _rows) return;
        foreach (var t in _h.Concat(_gh)) t.Dispose();
        _h = Layers.Select(l => DeviceTensor.Zeros(dev, rows, l.Out)).ToArray();
        _gh = Layers.Take(Layers.Length - 1).Select(l => DeviceTensor.Zeros(dev, rows, l.Out)).ToArray();
        _rows = rows;
    }

    /// <summary>The network's output for x [N, in] (hidden layers with the bias and ReLU fused).</summary>
    public DeviceTensor Forward(DeviceTensor x)
    {
        Prepare(x.Rows);
        for (int l = 0; l < Layers.Length; l++) Layers[l].Forward(l == 0 ? x : _h[l - 1], _h[l], relu: l < Layers.Length - 1);
        return _h[^1];
    }

    /// <summary>Parameter gradients from the output gradient gOut (after <see cref="Forward"/> on x); gx when asked.</summary>
    public void Backward(DeviceTensor x, DeviceTensor gOut, DeviceTensor? gx)
    {
        var g = gOut;
        for (int l = Layers.Length - 1; l >= 0; l--)
        {
            var gin = l == 0 ? gx : _gh[l - 1];
            Layers[l].Backward(l == 0 ? x : _h[l - 1], g, gin);
            if (l > 0)
            {
                DeviceOps.ReluBackward(_gh[l - 1], _h[l - 1]);
                g = _gh[l - 1];
            }
        }
    }

    public void Dispose()
    {
        foreach (var t in _h.Concat(_gh)) t.Dispose();
        foreach (var l in Layers) l.Dispose();
    }
}
