using ILGPU;
using ILGPU.Runtime;

namespace NormalizingFlows.Cuda;

/// <summary>An int array on a device (column lists of couplings).</summary>
internal sealed class DeviceIndex : IDisposable
{
    private readonly MemoryBuffer1D<int, Stride1D.Dense> _buffer;
    private readonly ComputeDevice _device;

    public DeviceIndex(ComputeDevice device, int[] values)
    {
        _device = device;
        _buffer = device.Accelerator.Allocate1D<int>(Math.Max(1, values.Length));
        CopyFrom(values);
    }

    /// <summary>The number of values (at most the capacity it was created with).</summary>
    public int Length { get; private set; }

    /// <summary>The capacity in values.</summary>
    public int Capacity => (int)_buffer.Length;

    /// <summary>Overwrites the values with <paramref name="values"/> (no longer than <see cref="Capacity"/>; through the device's staging buffer).</summary>
    public void CopyFrom(ReadOnlySpan<int> values)
    {
        if (values.Length > Capacity) throw new ArgumentException($"{values.Length} values for an index of capacity {Capacity}", nameof(values));
        if (values.Length > 0) _device.Upload(_buffer.View.SubView(0, values.Length), values);
        Length = values.Length;
    }

    public ArrayView<int> View => _buffer.View;

    public void Dispose() => _buffer.Dispose();
}
