using System.Numerics;
using System.Runtime.InteropServices;
using NormalizingFlows.Tensors;
using NormalizingFlows.Tensors.Kernels;

namespace NormalizingFlows.Autograd;

/// <summary>
/// The epilogue shared by the fused linear+ReLU ops: y[r, :] = max(y[r, :] + b, 0) in one cache-resident pass per
/// row (threaded over rows), and its backward mask g_pre = g·[y &gt; 0] (ReLU's derivative from its output).
/// </summary>
internal static class BiasRelu
{
    /// <summary>In place: y = max(y + bias, 0) per row (bias may be null).</summary>
    public static void Apply<T>(Tensor<T> y, Tensor<T>? bias) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int n = y.Dim(0), c = y.Dim(1);
        ParallelRows.For(n, Math.Max(1, 16384 / Math.Max(1, c)), (r0, r1) =>
        {
            var ys = y.Span;
            var b = bias is null ? default : bias.ReadOnlySpan;
            for (int r = r0; r < r1; r++) Row(ys.Slice(r * c, c), b);
        });
    }

    /// <summary>row = max(row + b, 0) in one vectorised pass (b empty: max(row, 0)); NaN stays NaN as in <see cref="Elementwise.Relu{T}"/>.</summary>
    private static void Row<T>(Span<T> row, ReadOnlySpan<T> b) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int c = row.Length, j = 0;
        if (b.IsEmpty)
        {
            Elementwise.Relu(row, row);
            return;
        }
        ref T yr = ref MemoryMarshal.GetReference(row);
        ref T br = ref MemoryMarshal.GetReference(b);
        if (Vector.IsHardwareAccelerated)
            for (; j + Vector<T>.Count <= c; j += Vector<T>.Count)
            {
                var v = Vector.LoadUnsafe(ref yr, (nuint)j) + Vector.LoadUnsafe(ref br, (nuint)j);
                // max(v, 0) keeping NaN: select v where v > 0 or v is NaN (v != v), else 0
                var keep = Vector.GreaterThan(v, Vector<T>.Zero) | ~Vector.Equals(v, v);
                Vector.ConditionalSelect(keep, v, Vector<T>.Zero).StoreUnsafe(ref yr, (nuint)j);
            }
        for (; j < c; j++)
        {
            T v = row[j] + b[j];
            row[j] = v > T.Zero || T.IsNaN(v) ? v : T.Zero;
        }
    }

    /// <summary>g_pre = g where y &gt; 0, else 0, written in one pass into a fresh scope-tracked tensor.</summary>
    public static Tensor<T> MaskGradient<T>(Tensor<T> grad, Tensor<T> y) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var gp = Tensor<T>.EmptyLike(grad);
        var g = grad.ReadOnlySpan; var ys = y.ReadOnlySpan; var d = gp.Span;
        int i = 0;
        ref T gr = ref MemoryMarshal.GetReference(g);
        ref T yr = ref MemoryMarshal.GetReference(ys);
        ref T dr = ref MemoryMarshal.GetReference(d);
        if (Vector.IsHardwareAccelerated)
            for (; i + Vector<T>.Count <= d.Length; i += Vector<T>.Count)
            {
                var pos = Vector.GreaterThan(Vector.LoadUnsafe(ref yr, (nuint)i), Vector<T>.Zero);
                Vector.ConditionalSelect(pos, Vector.LoadUnsafe(ref gr, (nuint)i), Vector<T>.Zero).StoreUnsafe(ref dr, (nuint)i);
            }
        for (; i < d.Length; i++) d[i] = ys[i] > T.Zero ? g[i] : T.Zero;
        return gp;
    }
}
