using ILGPU;
using ILGPU.Runtime;

namespace NormalizingFlows.Cuda;

/// <summary>
/// A per-row double state [rows, width] that a layer's forward writes and its backward reads (the values the CPU
/// keeps between the two), grown as the batch grows and counted in <see cref="ComputeDevice.Allocations"/> so that a
/// captured step graph holding its pointer is captured again.
/// </summary>
internal sealed class DeviceRowState(ComputeDevice dev, int width) : IDisposable
{
    private MemoryBuffer1D<double, Stride1D.Dense>? _buffer;

    /// <summary>The state of <paramref name="rows"/> rows (its buffer grown when too small).</summary>
    public ArrayView<double> For(int rows)
    {
        long size = Math.Max(1L, (long)rows * width);
        if (_buffer is null || _buffer.Length < size)
        {
            _buffer?.Dispose();
            _buffer = dev.Accelerator.Allocate1D<double>(size);
            dev.Allocations++;
            dev.AllocatedBytes += _buffer.LengthInBytes;
        }
        return _buffer.View.SubView(0, size);
    }

    public void Dispose()
    {
        _buffer?.Dispose();
        _buffer = null;
    }
}
