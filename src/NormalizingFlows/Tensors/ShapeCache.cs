namespace NormalizingFlows.Tensors;

/// <summary>
/// Shape arrays shared between tensors (a tensor never modifies its shape): shapes of rank ≤ 2 come from a small
/// per-thread cache, so that the tensors of a training step, which repeat the same few shapes, allocate none.
/// </summary>
internal static class ShapeCache
{
    private const int Ways = 4, Slots = 64 * Ways; // 64 sets of four
    private static readonly int[] Rank0 = [];
    [ThreadStatic] private static int[]?[]? t_slots;

    /// <summary>A shape array equal to <paramref name="shape"/> (shared when rank ≤ 2, else a copy).</summary>
    public static int[] Get(ReadOnlySpan<int> shape) => shape.Length switch
    {
        0 => Rank0,
        1 => Get(shape[0]),
        2 => Get(shape[0], shape[1]),
        _ => shape.ToArray(),
    };

    /// <summary>The shared shape [<paramref name="length"/>].</summary>
    public static int[] Get(int length) => Get((uint)length * 0x9E3779B1u, 1, length, 0);

    /// <summary>The shared shape [<paramref name="rows"/>, <paramref name="cols"/>].</summary>
    public static int[] Get(int rows, int cols) => Get((uint)rows * 0x9E3779B1u + (uint)cols * 0x85EBCA77u + 0x27D4EB2Fu, 2, rows, cols);

    // Four-way: a shape is looked up in the four slots of its set; a new one goes first and the others move down one
    // (the last leaves), so up to four shapes of one set used in turn stay cached.
    private static int[] Get(uint hash, int rank, int first, int second)
    {
        var slots = t_slots ??= new int[]?[Slots];
        int set = (int)(hash >> 26) * Ways;
        for (int i = set; i < set + Ways; i++)
            if (slots[i] is { } s && s.Length == rank && s[0] == first && (rank == 1 || s[1] == second)) return s;
        Array.Copy(slots, set, slots, set + 1, Ways - 1);
        return slots[set] = rank == 1 ? [first] : [first, second];
    }
}
