using ILGPU;
using ILGPU.Runtime;

namespace NormalizingFlows.Cuda;

/// <summary>An int array on a device (column lists of couplings).</summary>
internal sealed class DeviceIndex : IDisposable
{
    private readonly MemoryBuffer1D<int, Stride1D.Dense> _buffer;

    public DeviceIndex(ComputeDevice device, int[] values)
    {
        Length = values.Length;
        _buffer = device.Accelerator.Allocate1D<int>(Math.Max(1, values.Length));
        if (values.Length > 0) _buffer.View.SubView(0, values.Length).CopyFromCPU(values);
    }

    public int Length { get; }

    public ArrayView<int> View => _buffer.View;

    public void Dispose() => _buffer.Dispose();
}
