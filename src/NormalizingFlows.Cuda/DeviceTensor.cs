using ILGPU;
using ILGPU.Runtime;
using NormalizingFlows.Tensors;

namespace NormalizingFlows.Cuda;

/// <summary>
/// A dense row-major float tensor in a device's memory. Transfers are explicit: <see cref="Upload(ComputeDevice, Tensor{float})"/>,
/// <see cref="CopyFrom(Tensor{float})"/> (into an existing buffer, no allocation) and <see cref="Download"/>.
/// </summary>
public sealed class DeviceTensor : IDisposable
{
    private readonly int[] _shape;
    private readonly MemoryBuffer1D<float, Stride1D.Dense> _buffer;
    private readonly bool _owner; // false for a view over rows of another tensor's buffer
    private readonly long _offset; // a view's first element in the buffer

    private DeviceTensor(ComputeDevice device, int[] shape)
    {
        if (shape.Length == 0 || shape.Any(d => d < 0)) throw new ArgumentException($"a device tensor needs a shape of non-negative sizes, got {Tensor<float>.FormatShape(shape)}", nameof(shape));
        Device = device;
        _shape = (int[])shape.Clone();
        Length = shape.Aggregate(1L, (a, d) => a * d);
        _buffer = device.Accelerator.Allocate1D<float>(Math.Max(1, Length));
        _owner = true;
        device.Allocations++;
        device.AllocatedBytes += _buffer.LengthInBytes;
    }

    private DeviceTensor(DeviceTensor owner, int[] shape)
    {
        Device = owner.Device;
        _shape = shape;
        Length = shape.Aggregate(1L, (a, d) => a * d);
        _buffer = owner._buffer;
        _offset = owner._offset;
    }

    private DeviceTensor(DeviceTensor owner, int first, int rows)
    {
        Device = owner.Device;
        _shape = (int[])owner._shape.Clone();
        _shape[0] = rows;
        Length = (long)rows * owner.Cols;
        _buffer = owner._buffer;
        _offset = owner._offset + (long)first * owner.Cols;
    }

    /// <summary>A tensor of zeros of <paramref name="shape"/> on <paramref name="device"/>.</summary>
    public static DeviceTensor Zeros(ComputeDevice device, params int[] shape)
    {
        ArgumentNullException.ThrowIfNull(device);
        var t = new DeviceTensor(device, shape);
        t._buffer.MemSetToZero();
        return t;
    }

    /// <summary>A copy of <paramref name="host"/> on <paramref name="device"/>.</summary>
    public static DeviceTensor Upload(ComputeDevice device, Tensor<float> host)
    {
        ArgumentNullException.ThrowIfNull(device);
        ArgumentNullException.ThrowIfNull(host);
        var t = new DeviceTensor(device, host.Shape.ToArray());
        t.CopyFrom(host);
        return t;
    }

    /// <summary>The device it lives on.</summary>
    public ComputeDevice Device { get; }

    /// <summary>The shape.</summary>
    public ReadOnlySpan<int> Shape => _shape;

    /// <summary>Number of elements.</summary>
    public long Length { get; }

    /// <summary>Size of the first axis.</summary>
    public int Rows => _shape[0];

    /// <summary>Elements per row (1 for a vector).</summary>
    public int Cols => _shape.Length == 1 ? 1 : (int)(Length / Math.Max(1, _shape[0]));

    /// <summary>Copies <paramref name="host"/> (same number of elements) into this tensor.</summary>
    public void CopyFrom(Tensor<float> host)
    {
        ArgumentNullException.ThrowIfNull(host);
        if (host.Length != Length) throw new ArgumentException($"host tensor {host.ShapeString} has {host.Length} elements, the device tensor {Tensor<float>.FormatShape(_shape)} {Length}", nameof(host));
        CopyFrom(host.ReadOnlySpan);
    }

    /// <summary>
    /// Copies <paramref name="values"/> (exactly <see cref="Length"/> of them) into this tensor through the device's
    /// staging buffer: the span may be reused at once; the copy runs in order with the kernels, without waiting.
    /// </summary>
    internal void CopyFrom(ReadOnlySpan<float> values)
    {
        if (values.Length != Length) throw new ArgumentException($"{values.Length} values for a device tensor of {Length} elements", nameof(values));
        if (Length > 0) Device.Upload(_buffer.View.SubView(_offset, Length), values);
    }

    /// <summary>Copies the values into <paramref name="destination"/> (exactly <see cref="Length"/> long; waits for the device).</summary>
    internal void CopyTo(Span<float> destination)
    {
        if (destination.Length != Length) throw new ArgumentException($"{destination.Length} places for a device tensor of {Length} elements", nameof(destination));
        if (Length > 0) Device.Download(_buffer.View.SubView(_offset, Length), destination);
    }

    /// <summary>The values as a host tensor of the same shape (waits for the device).</summary>
    public Tensor<float> Download()
    {
        var values = new float[Length];
        CopyTo(values);
        return Tensor<float>.From(values, _shape);
    }

    /// <summary>Fills the tensor with standard-normal draws, counter-based from <paramref name="seed"/> (same seed, same values).</summary>
    public void FillStandardNormal(long seed) => DeviceOps.NormalNoise(this, seed);

    /// <summary>
    /// Fills this [N, D] tensor with rows of <paramref name="source"/> [M, D] drawn uniformly with replacement on the
    /// device (counter-based from <paramref name="seed"/>): a fresh training batch without a host transfer.
    /// </summary>
    public void SampleRowsOf(DeviceTensor source, long seed)
    {
        ArgumentNullException.ThrowIfNull(source);
        if (source.Device != Device) throw new ArgumentException("the source lives on another device", nameof(source));
        DeviceOps.SampleRows(source, this, seed);
    }

    /// <summary>
    /// A tensor over the first <paramref name="rows"/> rows of this one (same buffer, no allocation; disposing it
    /// frees nothing): capacity buffers serve batches of any size up to their rows.
    /// </summary>
    internal DeviceTensor FirstRows(int rows)
    {
        if (rows < 0 || rows > Rows) throw new ArgumentOutOfRangeException(nameof(rows), rows, $"a view over 0 to {Rows} rows");
        return new DeviceTensor(this, 0, rows);
    }

    /// <summary>A [rows, cols] tensor over the first rows·cols elements of this one (same buffer, no allocation).</summary>
    internal DeviceTensor Reshaped(int rows, int cols)
    {
        if (rows < 0 || cols < 0 || (long)rows * cols > Length) throw new ArgumentOutOfRangeException(nameof(rows), rows, $"a [{rows}, {cols}] view over {Length} elements");
        return new DeviceTensor(this, [rows, cols]);
    }

    /// <summary>A tensor over rows <paramref name="first"/> … <paramref name="first"/> + <paramref name="rows"/> − 1 of this one (same buffer, no allocation).</summary>
    internal DeviceTensor RowRange(int first, int rows)
    {
        if (first < 0 || rows < 0 || first + rows > Rows) throw new ArgumentOutOfRangeException(nameof(rows), rows, $"rows {first} … {first + rows - 1} of {Rows}");
        return new DeviceTensor(this, first, rows);
    }

    internal ArrayView<float> View => Length == 0 ? _buffer.View.SubView(0, 1) : _buffer.View.SubView(_offset, Length);

    internal IntPtr Pointer => _buffer.NativePtr + (nint)(_offset * sizeof(float));

    internal void Check(string what, params int[] shape)
    {
        if (!_shape.AsSpan().SequenceEqual(shape))
            throw new ArgumentException($"{what} must be {Tensor<float>.FormatShape(shape)}, got {Tensor<float>.FormatShape(_shape)}");
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        if (_owner) _buffer.Dispose();
    }
}
