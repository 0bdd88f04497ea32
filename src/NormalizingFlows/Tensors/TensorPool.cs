using System.Buffers;
using System.Numerics;

namespace NormalizingFlows.Tensors;

/// <summary>
/// Process-wide pool of tensor buffers, one per element type. Buffers are bucketed by power-of-two length, are
/// not cleared on rent, and may be longer than asked for. The pool is striped: each thread rents from its own
/// stripe (threads working on row blocks of one batch rent same-sized buffers at the same moments, and would
/// otherwise contend for one lock per size), and a buffer goes back to the stripe it came from.
/// </summary>
public static class TensorPool<T> where T : unmanaged, INumberBase<T>
{
    private static readonly ArrayPool<T>[] Stripes = CreateStripes();

    private static ArrayPool<T>[] CreateStripes()
    {
        var pools = new ArrayPool<T>[Math.Clamp(Environment.ProcessorCount, 1, 16)];
        for (int i = 0; i < pools.Length; i++) pools[i] = ArrayPool<T>.Create(maxArrayLength: 1 << 30, maxArraysPerBucket: 512);
        return pools;
    }

    /// <summary>The calling thread's stripe.</summary>
    internal static int CurrentStripe => (int)((uint)ThreadStripes<ArrayPool<T>>.Number % (uint)Stripes.Length);

    /// <summary>Rents a buffer of at least <paramref name="length"/> elements (contents undefined) from the calling thread's stripe.</summary>
    public static T[] Rent(int length) => Rent(length, CurrentStripe);

    /// <summary>Returns a buffer obtained from <see cref="Rent(int)"/> on this thread.</summary>
    public static void Return(T[] buffer) => Return(buffer, CurrentStripe);

    /// <summary>Rents from stripe <paramref name="stripe"/>.</summary>
    internal static T[] Rent(int length, int stripe) => length == 0 ? [] : Stripes[stripe].Rent(length);

    /// <summary>Returns a buffer to the stripe it was rented from.</summary>
    internal static void Return(T[] buffer, int stripe)
    {
        if (buffer.Length != 0) Stripes[stripe].Return(buffer);
    }
}
