using System.Buffers;
using System.Numerics;

namespace NormalizingFlows.Tensors;

/// <summary>
/// Process-wide pool of tensor buffers, one per element type. Buffers are bucketed by power-of-two length, are
/// not cleared on rent, and may be longer than asked for.
/// </summary>
public static class TensorPool<T> where T : unmanaged, INumberBase<T>
{
    private static readonly ArrayPool<T> Pool = ArrayPool<T>.Create(maxArrayLength: 1 << 30, maxArraysPerBucket: 512);

    /// <summary>Rents a buffer of at least <paramref name="length"/> elements (contents undefined).</summary>
    public static T[] Rent(int length) => length == 0 ? [] : Pool.Rent(length);

    /// <summary>Returns a buffer obtained from <see cref="Rent"/>.</summary>
    public static void Return(T[] buffer)
    {
        if (buffer.Length != 0) Pool.Return(buffer);
    }
}
