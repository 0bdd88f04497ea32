using System.Numerics;
using System.Runtime.InteropServices;
using NormalizingFlows.Tensors;
using NormalizingFlows.Tensors.Kernels;

namespace NormalizingFlows.Autograd;

/// <summary>
/// The epilogue of the fused linear+ReLU ops where the GEMM cannot apply it in its micro-kernels' registers
/// (<c>Gemm.TryComputeBiasRelu</c>: masked blocks, double, k beyond one cache block, transposed narrow outputs):
/// y = max(y + bias, 0) in one vectorised pass per row after the GEMM (threaded over rows; re-reading each tile right
/// after storing it measured 1.5–9× slower, as the reload waits for the stores' cache-line fills), and its backward
/// mask g_pre = g·[y &gt; 0] (ReLU's derivative from its output).
/// </summary>
internal static class BiasRelu
{
    /// <summary>In place on y [rows, cols]: y = max(y + bias, 0) with one bias per column (empty: ReLU only); NaN stays NaN.</summary>
    public static void Apply<T>(Span<T> y, int rows, int cols, ReadOnlySpan<T> bias) where T : unmanaged, IFloatingPointIeee754<T>
        => Run(y, rows, cols, bias, onRows: false);

    /// <summary>In place on y [rows, cols]: y = max(y + bias[row], 0) with one bias per row (activations stored transposed).</summary>
    public static void ApplyPerRow<T>(Span<T> y, int rows, int cols, ReadOnlySpan<T> bias) where T : unmanaged, IFloatingPointIeee754<T>
        => Run(y, rows, cols, bias, onRows: true);

    private static unsafe void Run<T>(Span<T> y, int rows, int cols, ReadOnlySpan<T> bias, bool onRows) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (y.Length < rows * cols) throw new ArgumentException($"bias+ReLU: {y.Length} values for [{rows}, {cols}]");
        if (!bias.IsEmpty && bias.Length != (onRows ? rows : cols))
            throw new ArgumentException($"bias+ReLU: bias has {bias.Length} entries, expected {(onRows ? rows : cols)}");
        if (rows == 0 || cols == 0) return;
        fixed (T* py = y, pb = bias)
        {
            // this thread's operands, read by the parts during the call (no closure per call)
            var job = Job<T>.Current ??= new Job<T>();
            (job.Y, job.Bias, job.Cols, job.OnRows) = ((nint)py, bias.IsEmpty ? 0 : (nint)pb, cols, onRows);
            ParallelRows.For(rows, Math.Max(1, 16384 / cols), job, static (job, r0, r1) =>
            {
                T* b = (T*)job.Bias;
                int cols = job.Cols;
                for (int r = r0; r < r1; r++)
                {
                    var row = new Span<T>((T*)job.Y + (nint)r * cols, cols);
                    if (b == null) Elementwise.Relu<T>(row, row);
                    else if (job.OnRows) Row(row, b[r]);
                    else Row(row, new ReadOnlySpan<T>(b, cols));
                }
            });
        }
    }

    /// <summary>The operands of one <see cref="Run{T}"/> call: the pinned output and bias, and the layout.</summary>
    private sealed class Job<T> where T : unmanaged
    {
        [ThreadStatic] public static Job<T>? Current;
        public nint Y, Bias;
        public int Cols;
        public bool OnRows;
    }

    /// <summary>row = max(row + b, 0) in one vectorised pass; NaN stays NaN as in <see cref="Elementwise.Relu{T}"/>.</summary>
    private static void Row<T>(Span<T> row, ReadOnlySpan<T> b) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int c = row.Length, j = 0;
        ref T yr = ref MemoryMarshal.GetReference(row);
        ref T br = ref MemoryMarshal.GetReference(b);
        if (Vector.IsHardwareAccelerated)
            for (; j + Vector<T>.Count <= c; j += Vector<T>.Count)
                Relu(Vector.LoadUnsafe(ref yr, (nuint)j) + Vector.LoadUnsafe(ref br, (nuint)j)).StoreUnsafe(ref yr, (nuint)j);
        for (; j < c; j++) row[j] = Relu(row[j] + b[j]);
    }

    /// <summary>row = max(row + b, 0) with one scalar b.</summary>
    private static void Row<T>(Span<T> row, T b) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int c = row.Length, j = 0;
        ref T yr = ref MemoryMarshal.GetReference(row);
        var vb = new Vector<T>(b);
        if (Vector.IsHardwareAccelerated)
            for (; j + Vector<T>.Count <= c; j += Vector<T>.Count)
                Relu(Vector.LoadUnsafe(ref yr, (nuint)j) + vb).StoreUnsafe(ref yr, (nuint)j);
        for (; j < c; j++) row[j] = Relu(row[j] + b);
    }

    // max(v, 0) keeping NaN: v where v > 0 or v is NaN (v != v), else 0
    private static Vector<T> Relu<T>(Vector<T> v) where T : unmanaged, IFloatingPointIeee754<T>
        => Vector.ConditionalSelect(Vector.GreaterThan(v, Vector<T>.Zero) | ~Vector.Equals(v, v), v, Vector<T>.Zero);

    private static T Relu<T>(T v) where T : unmanaged, IFloatingPointIeee754<T> => v > T.Zero || T.IsNaN(v) ? v : T.Zero;

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
