namespace NormalizingFlows.Tensors;

/// <summary>
/// Shape arrays shared between tensors (a tensor never modifies its shape): shapes of rank ≤ 2 come from a small
/// per-thread cache, so that the tensors of a training step, which repeat the same few shapes, allocate none.
/// </summary>
internal static class ShapeCache
{
    private const int Slots = 64; // direct-mapped, a power of two
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
    public static int[] Get(int length)
    {
        var slots = t_slots ??= new int[]?[Slots];
        ref var slot = ref slots[(int)((uint)length * 0x9E3779B1u >> 26)];
        var s = slot;
        if (s is null || s.Length != 1 || s[0] != length) slot = s = [length];
        return s;
    }

    /// <summary>The shared shape [<paramref name="rows"/>, <paramref name="cols"/>].</summary>
    public static int[] Get(int rows, int cols)
    {
        var slots = t_slots ??= new int[]?[Slots];
        ref var slot = ref slots[(int)(((uint)rows * 0x9E3779B1u + (uint)cols * 0x85EBCA77u + 0x27D4EB2Fu) >> 26)];
        var s = slot;
        if (s is null || s.Length != 2 || s[0] != rows || s[1] != cols) slot = s = [rows, cols];
        return s;
    }
}
