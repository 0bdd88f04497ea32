using System.Numerics;
using NormalizingFlows.Tensors;

namespace NormalizingFlows.Autograd;

/// <summary>
/// Where a fixed 0/1 mask M [out, in] of a masked affine layer has nonzero entries, as GEMM-sized blocks: groups of
/// consecutive rows (outputs) with the column runs any of them uses, and groups of consecutive columns (inputs) with
/// the row runs any of them uses. The masked layer then multiplies only those blocks (forward y = x·(W∘M)ᵀ by row
/// groups, dx = dy·(W∘M) by column groups, dW by row groups), skipping the blocks that are zero. A MADE mask whose
/// units are numbered by degree is a staircase: at 128 hidden units the blocks hold 63 % of the dense work; a mask without such structure
/// gets one dense block (<see cref="IsDense"/>) and the plain path.
/// </summary>
internal sealed class MaskBlocks
{
    /// <summary>Rows (or columns) per group: one 32-wide GEMM panel, so a group is a whole micro-tile column.</summary>
    internal const int GroupSize = 32;

    /// <summary>Runs of zero columns shorter than this inside a group's support are computed rather than split off.</summary>
    private const int MinGap = 8;

    private MaskBlocks(Block[] byRows, Block[] byColumns, double workFraction)
    {
        ByRows = byRows;
        ByColumns = byColumns;
        WorkFraction = workFraction;
    }

    /// <summary>A group [Start, End) of one axis and the runs [lo, hi) of the other axis it needs (none: all zero).</summary>
    internal readonly record struct Block(int Start, int End, (int Lo, int Hi)[] Runs);

    /// <summary>Row groups (outputs) with their column runs: forward and the weight gradient.</summary>
    internal Block[] ByRows { get; }

    /// <summary>Column groups (inputs) with their row runs: the input gradient.</summary>
    internal Block[] ByColumns { get; }

    /// <summary>Multiply-adds of the blocked forward as a fraction of the dense product's.</summary>
    internal double WorkFraction { get; }

    /// <summary>True when blocking saves too little to be worth the extra GEMM calls (the layer then runs dense).</summary>
    internal bool IsDense => WorkFraction > 0.9;

    /// <summary>Builds the blocks of <paramref name="mask"/> [out, in] (nonzero = connected).</summary>
    internal static MaskBlocks Of<T>(Tensor<T> mask) where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(mask);
        if (mask.Rank != 2) throw new ArgumentException($"a layer mask must be [out, in], got {mask.ShapeString}", nameof(mask));
        int rows = mask.Dim(0), cols = mask.Dim(1);
        var m = mask.ReadOnlySpan;
        var connected = new bool[rows * cols];
        for (int i = 0; i < connected.Length; i++) connected[i] = m[i] != T.Zero;
        var byRows = Groups(rows, cols, (r, c) => connected[r * cols + c]);
        var byCols = Groups(cols, rows, (c, r) => connected[r * cols + c]);
        long work = 0;
        foreach (var b in byRows)
            foreach (var (lo, hi) in b.Runs) work += (long)(b.End - b.Start) * (hi - lo);
        return new MaskBlocks(byRows, byCols, rows == 0 || cols == 0 ? 1.0 : (double)work / ((long)rows * cols));
    }

    private delegate bool Connected(int group, int other);

    // Groups of GroupSize along one axis (a short last group joins the one before); per group, the union of the other
    // axis' connected indices as runs, with gaps shorter than MinGap filled.
    private static Block[] Groups(int count, int other, Connected connected)
    {
        var blocks = new List<Block>();
        var used = new bool[other];
        for (int start = 0; start < count;)
        {
            int end = Math.Min(count, start + GroupSize);
            if (count - end < GroupSize / 2) end = count;
            Array.Clear(used);
            for (int g = start; g < end; g++)
                for (int o = 0; o < other; o++)
                    if (!used[o] && connected(g, o)) used[o] = true;
            blocks.Add(new Block(start, end, Runs(used)));
            start = end;
        }
        return [.. blocks];
    }

    private static (int, int)[] Runs(bool[] used)
    {
        var runs = new List<(int Lo, int Hi)>();
        for (int i = 0; i < used.Length;)
        {
            if (!used[i]) { i++; continue; }
            int lo = i;
            while (i < used.Length && used[i]) i++;
            if (runs.Count > 0 && lo - runs[^1].Hi < MinGap) runs[^1] = (runs[^1].Lo, i);
            else runs.Add((lo, i));
        }
        return [.. runs];
    }
}
