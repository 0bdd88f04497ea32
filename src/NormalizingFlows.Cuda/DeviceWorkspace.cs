namespace NormalizingFlows.Cuda;

/// <summary>A layer's scratch tensors [rows, width_i], reallocated only when the batch size changes.</summary>
internal sealed class DeviceWorkspace(ComputeDevice dev, params int[] widths) : IDisposable
{
    private DeviceTensor[] _tensors = [];
    private int _rows = -1;

    /// <summary>Tensor <paramref name="i"/> (valid after <see cref="Prepare"/>).</summary>
    public DeviceTensor this[int i] => _tensors[i];

    /// <summary>Makes every tensor [rows, width_i].</summary>
    public void Prepare(int rows)
    {
        if (rows == _rows) return;
        Dispose();
        _tensors = widths.Select(w => DeviceTensor.Zeros(dev, rows, w)).ToArray();
        _rows = rows;
    }

    public void Dispose()
    {
        foreach (var t in _tensors) t.Dispose();
        _tensors = [];
        _rows = -1;
    }
}
