namespace NormalizingFlows.Cuda;

/// <summary>
/// Scratch tensors [rows, width_i]: buffers for a capacity of rows, handed out as views over their first rows, so a
/// batch size that changes (a partial last batch) reuses them; they are reallocated only to grow. A width of
/// <see cref="Vector"/> makes a vector [rows].
/// </summary>
internal sealed class DeviceWorkspace(ComputeDevice dev, params int[] widths) : IDisposable
{
    /// <summary>The width of a [rows] vector.</summary>
    public const int Vector = -1;

    private DeviceTensor[] _buffers = [];
    private DeviceTensor[] _views = [];
    private int _capacity, _rows = -1;

    /// <summary>Tensor <paramref name="i"/> [rows, width_i] (valid after <see cref="Prepare"/>).</summary>
    public DeviceTensor this[int i] => _views[i];

    /// <summary>Makes every tensor [rows, width_i], growing the buffers when <paramref name="rows"/> exceeds their capacity.</summary>
    public void Prepare(int rows)
    {
        if (rows == _rows) return;
        if (rows > _capacity || _buffers.Length == 0)
        {
            Dispose();
            _buffers = widths.Select(w => w == Vector ? DeviceTensor.Zeros(dev, rows) : DeviceTensor.Zeros(dev, rows, w)).ToArray();
            _capacity = rows;
        }
        _views = rows == _capacity ? _buffers : _buffers.Select(b => b.FirstRows(rows)).ToArray();
        _rows = rows;
    }

    public void Dispose()
    {
        foreach (var t in _buffers) t.Dispose();
        _buffers = _views = [];
        _capacity = 0;
        _rows = -1;
    }
}
