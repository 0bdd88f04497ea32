using System.Numerics;
using System.Runtime.InteropServices;
using NormalizingFlows.Tensors;

namespace NormalizingFlows.IO;

/// <summary>One named tensor of a safetensors file: F32 as <see cref="Tensor{T}"/> of float, F64 of double.</summary>
public sealed class SafeTensorEntry
{
    private readonly object _tensor;

    private SafeTensorEntry(string name, SafeTensorDType dtype, object tensor, int[] shape)
    {
        Name = name; DType = dtype; _tensor = tensor; Shape = shape;
    }

    /// <summary>Wraps a float tensor (written as F32).</summary>
    public static SafeTensorEntry From(string name, Tensor<float> tensor) => new(name, SafeTensorDType.F32, tensor, tensor.Shape.ToArray());

    /// <summary>Wraps a double tensor (written as F64).</summary>
    public static SafeTensorEntry From(string name, Tensor<double> tensor) => new(name, SafeTensorDType.F64, tensor, tensor.Shape.ToArray());

    /// <summary>Wraps a float or double tensor.</summary>
    public static SafeTensorEntry From<T>(string name, Tensor<T> tensor) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (tensor is Tensor<float> f) return From(name, f);
        if (tensor is Tensor<double> d) return From(name, d);
        throw new NotSupportedException($"safetensors: element type {typeof(T).Name} is not supported (F32 and F64 are)");
    }

    /// <summary>The tensor's name.</summary>
    public string Name { get; }

    /// <summary>The stored element type.</summary>
    public SafeTensorDType DType { get; }

    /// <summary>The shape.</summary>
    public int[] Shape { get; }

    /// <summary>Size in bytes of the raw data.</summary>
    public long ByteLength => (long)ElementCount * ElementSize(DType);

    internal int ElementCount => _tensor is Tensor<float> f ? f.Length : ((Tensor<double>)_tensor).Length;

    internal static int ElementSize(SafeTensorDType d) => d == SafeTensorDType.F32 ? 4 : 8;

    /// <summary>
    /// The tensor as <see cref="Tensor{T}"/>: the stored tensor when the element type matches; otherwise a converted
    /// copy when <paramref name="convert"/> is true, else an <see cref="InvalidCastException"/>.
    /// </summary>
    public Tensor<T> As<T>(bool convert = false) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (_tensor is Tensor<T> t) return t;
        if (!convert)
            throw new InvalidCastException($"tensor '{Name}' is stored as {DType} but Tensor<{typeof(T).Name}> was requested (pass convert: true to convert)");
        return _tensor is Tensor<float> f ? f.Cast<T>().Untrack() : ((Tensor<double>)_tensor).Cast<T>().Untrack();
    }

    internal void WriteData(Stream s)
    {
        if (_tensor is Tensor<float> f) WriteLittleEndian(s, f.ReadOnlySpan);
        else WriteLittleEndian(s, ((Tensor<double>)_tensor).ReadOnlySpan);
    }

    private static void WriteLittleEndian<T>(Stream s, ReadOnlySpan<T> data) where T : unmanaged
    {
        if (BitConverter.IsLittleEndian) { s.Write(MemoryMarshal.AsBytes(data)); return; }
        var bytes = MemoryMarshal.AsBytes(data).ToArray();
        SafeTensors.SwapElements(bytes, System.Runtime.CompilerServices.Unsafe.SizeOf<T>());
        s.Write(bytes);
    }
}
