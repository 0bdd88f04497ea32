using System.Buffers;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace NormalizingFlows.Tensors.Kernels;

/// <summary>
/// Reductions over spans and over the rows/columns of a row-major [rows, cols] matrix. Sums accumulate in double:
/// float input is widened to double vectors (no float partial sums); double sums are compensated (TwoSum) so they
/// are within a few ulp of the exact sum. Long inputs are cut into blocks that depend only on the shape, and the
/// partial results are combined in a fixed order, so results never depend on the thread count.
/// </summary>
public static unsafe class Reductions
{
    private const int SplitElements = 1 << 17; // from this many elements, reductions are cut into blocks
    private const int MaxBlocks = 32;

    private static bool FastV<T>() where T : unmanaged => Vector256.IsHardwareAccelerated && Vector256<T>.IsSupported
        && (typeof(T) == typeof(float) || typeof(T) == typeof(double));

    // ------------------------------------------------------------ Sum / Dot

    /// <summary>Σ x[i] in double.</summary>
    public static double Sum<T>(ReadOnlySpan<T> x) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (!FastV<T>())
        {
            double s = 0;
            for (int i = 0; i < x.Length; i++) s += double.CreateTruncating(x[i]);
            return s;
        }
        fixed (T* p = x) return Blocked(p, null, x.Length, &SumBlock<T>);
    }

    /// <summary>Σ a[i]·b[i] in double.</summary>
    public static double Dot<T>(ReadOnlySpan<T> a, ReadOnlySpan<T> b) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (a.Length != b.Length) throw new ArgumentException($"length mismatch: {a.Length} vs {b.Length}");
        if (!FastV<T>())
        {
            double s = 0;
            for (int i = 0; i < a.Length; i++) s += double.CreateTruncating(a[i]) * double.CreateTruncating(b[i]);
            return s;
        }
        fixed (T* pa = a, pb = b) return Blocked(pa, pb, a.Length, &DotBlock<T>);
    }

    private struct BlockState<T> where T : unmanaged
    {
        public T* A, B;
        public nint N, Chunk;
        public double* Partial;
        public delegate*<T*, T*, nint, double> F;
    }

    private static void BlockBody<T>(void* s, int p) where T : unmanaged
    {
        var st = (BlockState<T>*)s;
        nint start = p * st->Chunk;
        nint len = Math.Max(0, Math.Min(st->Chunk, st->N - start));
        st->Partial[p] = st->F(st->A + start, st->B == null ? null : st->B + start, len);
    }

    /// <summary>Runs a block reduction over [0, n): blocks depend only on n; partials are added in block order.</summary>
    private static double Blocked<T>(T* a, T* b, nint n, delegate*<T*, T*, nint, double> f) where T : unmanaged
    {
        if (n < SplitElements) return f(a, b, n);
        int blocks = (int)Math.Min(MaxBlocks, n / (SplitElements / 2));
        nint chunk = ((n + blocks - 1) / blocks + 63) & ~(nint)63;
        double* partial = stackalloc double[MaxBlocks];
        var st = new BlockState<T> { A = a, B = b, N = n, Chunk = chunk, Partial = partial, F = f };
        WorkerPool.For(blocks, &BlockBody<T>, &st);
        double s = 0, c = 0;
        for (int i = 0; i < blocks; i++) TwoSumAcc(ref s, ref c, partial[i]);
        return s + c;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void TwoSumAcc(ref double s, ref double c, double v)
    {
        double t = s + v, bb = t - s;
        c += (s - (t - bb)) + (v - bb);
        s = t;
    }

    private static double SumBlock<T>(T* p, T* unused, nint n) where T : unmanaged
        => typeof(T) == typeof(float) ? SumF((float*)p, n) : SumD((double*)p, n);

    private static double DotBlock<T>(T* a, T* b, nint n) where T : unmanaged
        => typeof(T) == typeof(float) ? DotF((float*)a, (float*)b, n) : DotD((double*)a, (double*)b, n);

    /// <summary>Σ of floats: each 8-float vector is widened to two double vectors; 4 double accumulators.</summary>
    internal static double SumF(float* p, nint n)
    {
        var a0 = Vector256<double>.Zero; var a1 = a0; var a2 = a0; var a3 = a0;
        nint i = 0;
        for (; i <= n - 16; i += 16)
        {
            var (l0, h0) = Vector256.Widen(Vector256.Load(p + i));
            var (l1, h1) = Vector256.Widen(Vector256.Load(p + i + 8));
            a0 += l0; a1 += h0; a2 += l1; a3 += h1;
        }
        if (i <= n - 8)
        {
            var (l0, h0) = Vector256.Widen(Vector256.Load(p + i));
            a0 += l0; a1 += h0; i += 8;
        }
        double tail = 0;
        for (; i < n; i++) tail += p[i];
        return Vector256.Sum((a0 + a1) + (a2 + a3)) + tail;
    }

    /// <summary>Compensated (TwoSum) Σ of doubles with 2 × 4 lanes.</summary>
    internal static double SumD(double* p, nint n)
    {
        var s0 = Vector256<double>.Zero; var s1 = s0; var c0 = s0; var c1 = s0;
        nint i = 0;
        for (; i <= n - 8; i += 8)
        {
            var v0 = Vector256.Load(p + i); var v1 = Vector256.Load(p + i + 4);
            var t0 = s0 + v0; var t1 = s1 + v1;
            var b0 = t0 - s0; var b1 = t1 - s1;
            c0 += (s0 - (t0 - b0)) + (v0 - b0);
            c1 += (s1 - (t1 - b1)) + (v1 - b1);
            s0 = t0; s1 = t1;
        }
        double s = 0, c = 0;
        for (int k = 0; k < 4; k++) { TwoSumAcc(ref s, ref c, s0[k]); TwoSumAcc(ref s, ref c, s1[k]); }
        c += Vector256.Sum(c0 + c1);
        for (; i < n; i++) TwoSumAcc(ref s, ref c, p[i]);
        return s + c;
    }

    private static double DotF(float* a, float* b, nint n)
    {
        var a0 = Vector256<double>.Zero; var a1 = a0; var a2 = a0; var a3 = a0;
        nint i = 0;
        for (; i <= n - 16; i += 16)
        {
            var (xl0, xh0) = Vector256.Widen(Vector256.Load(a + i));
            var (yl0, yh0) = Vector256.Widen(Vector256.Load(b + i));
            var (xl1, xh1) = Vector256.Widen(Vector256.Load(a + i + 8));
            var (yl1, yh1) = Vector256.Widen(Vector256.Load(b + i + 8));
            a0 = Vector256.FusedMultiplyAdd(xl0, yl0, a0); a1 = Vector256.FusedMultiplyAdd(xh0, yh0, a1);
            a2 = Vector256.FusedMultiplyAdd(xl1, yl1, a2); a3 = Vector256.FusedMultiplyAdd(xh1, yh1, a3);
        }
        double tail = 0;
        for (; i < n; i++) tail += (double)a[i] * b[i];
        return Vector256.Sum((a0 + a1) + (a2 + a3)) + tail;
    }

    private static double DotD(double* a, double* b, nint n)
    {
        var a0 = Vector256<double>.Zero; var a1 = a0; var a2 = a0; var a3 = a0;
        nint i = 0;
        for (; i <= n - 16; i += 16)
        {
            a0 = Vector256.FusedMultiplyAdd(Vector256.Load(a + i), Vector256.Load(b + i), a0);
            a1 = Vector256.FusedMultiplyAdd(Vector256.Load(a + i + 4), Vector256.Load(b + i + 4), a1);
            a2 = Vector256.FusedMultiplyAdd(Vector256.Load(a + i + 8), Vector256.Load(b + i + 8), a2);
            a3 = Vector256.FusedMultiplyAdd(Vector256.Load(a + i + 12), Vector256.Load(b + i + 12), a3);
        }
        double tail = 0;
        for (; i < n; i++) tail = Math.FusedMultiplyAdd(a[i], b[i], tail);
        return Vector256.Sum((a0 + a1) + (a2 + a3)) + tail;
    }

    // ------------------------------------------------------------ Max

    /// <summary>max x[i] (NaN if any is NaN; −∞ for an empty span).</summary>
    public static T Max<T>(ReadOnlySpan<T> x) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (!FastV<T>())
        {
            T m = T.NegativeInfinity;
            for (int i = 0; i < x.Length; i++) { if (T.IsNaN(x[i])) return x[i]; if (x[i] > m) m = x[i]; }
            return m;
        }
        fixed (T* p = x) return MaxCore(p, x.Length);
    }

    private static T MaxCore<T>(T* p, nint n) where T : unmanaged, IFloatingPointIeee754<T>
    {
        nint w = Vector256<T>.Count, i = 0;
        T m = T.NegativeInfinity;
        if (n >= w)
        {
            var m0 = Vector256.Create(T.NegativeInfinity); var m1 = m0;
            var nan = Vector256<T>.Zero;
            for (; i <= n - 2 * w; i += 2 * w)
            {
                var v0 = Vector256.Load(p + i); var v1 = Vector256.Load(p + i + w);
                m0 = Vector256.ConditionalSelect(Vector256.GreaterThan(v0, m0), v0, m0);
                m1 = Vector256.ConditionalSelect(Vector256.GreaterThan(v1, m1), v1, m1);
                nan |= ~Vector256.Equals(v0, v0) | ~Vector256.Equals(v1, v1);
            }
            if (i <= n - w)
            {
                var v0 = Vector256.Load(p + i); i += w;
                m0 = Vector256.ConditionalSelect(Vector256.GreaterThan(v0, m0), v0, m0);
                nan |= ~Vector256.Equals(v0, v0);
            }
            if (nan != Vector256<T>.Zero) return T.NaN;
            m0 = Vector256.ConditionalSelect(Vector256.GreaterThan(m1, m0), m1, m0);
            for (int k = 0; k < w; k++) if (m0[k] > m) m = m0[k];
        }
        for (; i < n; i++) { if (T.IsNaN(p[i])) return p[i]; if (p[i] > m) m = p[i]; }
        return m;
    }

    // ------------------------------------------------------------ row / column reductions

    private struct RowState<T> where T : unmanaged
    {
        public T* X, Y;
        public int Rows, Cols, RowsPerPart;
        public delegate*<T*, int, int, T*, void> F;
    }

    private static void RowBody<T>(void* s, int p) where T : unmanaged
    {
        var st = (RowState<T>*)s;
        int r0 = p * st->RowsPerPart, r1 = Math.Min(st->Rows, r0 + st->RowsPerPart);
        if (r0 < r1) st->F(st->X + (nint)r0 * st->Cols, r1 - r0, st->Cols, st->Y + r0);
    }

    /// <summary>Runs a per-row kernel, split over threads by rows when large (each row's result is independent).</summary>
    private static void ForRows<T>(T* x, int rows, int cols, T* y, delegate*<T*, int, int, T*, void> f, long threshold) where T : unmanaged
    {
        int threads = WorkerPool.MaxThreads;
        long total = (long)rows * cols;
        if (threads <= 1 || total < threshold || rows < 2) { f(x, rows, cols, y); return; }
        int parts = (int)Math.Min(Math.Min(threads, rows), total / (threshold / 2));
        var st = new RowState<T> { X = x, Y = y, Rows = rows, Cols = cols, RowsPerPart = (rows + parts - 1) / parts, F = f };
        WorkerPool.For(parts, &RowBody<T>, &st);
    }

    /// <summary>destination[r] = Σ_c x[r, c].</summary>
    public static void SumRows<T>(ReadOnlySpan<T> x, int rows, int cols, Span<T> destination) where T : unmanaged, IFloatingPointIeee754<T>
    {
        Check(x, rows, cols, destination, rows);
        if (!FastV<T>())
        {
            for (int r = 0; r < rows; r++) destination[r] = T.CreateTruncating(Sum(x.Slice(r * cols, cols)));
            return;
        }
        fixed (T* px = x, py = destination) ForRows(px, rows, cols, py, &SumRowsCore<T>, SplitElements / 2);
    }

    private static void SumRowsCore<T>(T* x, int rows, int cols, T* y) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (typeof(T) == typeof(float))
        {
            float* xf = (float*)x, yf = (float*)y;
            if (cols < 8)
                for (int r = 0; r < rows; r++)
                {
                    float* row = xf + (nint)r * cols; double s = 0;
                    for (int c = 0; c < cols; c++) s += row[c];
                    yf[r] = (float)s;
                }
            else
                for (int r = 0; r < rows; r++) yf[r] = (float)SumF(xf + (nint)r * cols, cols);
        }
        else
        {
            for (int r = 0; r < rows; r++) y[r] = T.CreateTruncating(SumD((double*)x + (nint)r * cols, cols));
        }
    }

    /// <summary>destination[c] = Σ_r x[r, c] (accumulate = true adds to destination instead).</summary>
    public static void SumCols<T>(ReadOnlySpan<T> x, int rows, int cols, Span<T> destination, bool accumulate = false) where T : unmanaged, IFloatingPointIeee754<T>
    {
        Check(x, rows, cols, destination, cols);
        if (cols == 0) return;
        long total = (long)rows * cols;
        int blocks = total < SplitElements || rows < 64 ? 1 : (int)Math.Min(Math.Min(MaxBlocks / 4, rows / 32), total / (SplitElements / 2));
        int need = blocks * cols;
        double[]? rented = null;
        Span<double> acc = need <= 1024 ? stackalloc double[need] : (rented = ArrayPool<double>.Shared.Rent(need)).AsSpan(0, need);
        acc.Clear();
        fixed (T* px = x)
        fixed (double* pa = acc)
        {
            if (blocks == 1) SumColsCore(px, 0, rows, cols, pa);
            else
            {
                var st = new ColState<T> { X = px, Acc = pa, Rows = rows, Cols = cols, RowsPerBlock = (rows + blocks - 1) / blocks };
                WorkerPool.For(blocks, &ColBody<T>, &st);
                for (int b = 1; b < blocks; b++)
                {
                    var src = acc.Slice(b * cols, cols); var dst = acc.Slice(0, cols);
                    for (int c = 0; c < cols; c++) dst[c] += src[c];
                }
            }
        }
        for (int c = 0; c < cols; c++)
            destination[c] = accumulate ? destination[c] + T.CreateTruncating(acc[c]) : T.CreateTruncating(acc[c]);
        if (rented is not null) ArrayPool<double>.Shared.Return(rented);
    }

    private struct ColState<T> where T : unmanaged, IFloatingPointIeee754<T>
    {
        public T* X; public double* Acc; public int Rows, Cols, RowsPerBlock;
    }

    private static void ColBody<T>(void* s, int p) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var st = (ColState<T>*)s;
        int r0 = p * st->RowsPerBlock, r1 = Math.Min(st->Rows, r0 + st->RowsPerBlock);
        if (r0 < r1) SumColsCore(st->X, r0, r1, st->Cols, st->Acc + (nint)p * st->Cols);
    }

    /// <summary>acc[c] += Σ_{r0 ≤ r &lt; r1} x[r, c] in double, vectorised along the columns.</summary>
    private static void SumColsCore<T>(T* x, int r0, int r1, int cols, double* acc) where T : unmanaged, IFloatingPointIeee754<T>
    {
        bool vec = Vector256.IsHardwareAccelerated;
        if (typeof(T) == typeof(float))
        {
            for (int r = r0; r < r1; r++)
            {
                float* row = (float*)x + (nint)r * cols;
                int c = 0;
                if (vec)
                    for (; c <= cols - 8; c += 8)
                    {
                        var (lo, hi) = Vector256.Widen(Vector256.Load(row + c));
                        (Vector256.Load(acc + c) + lo).Store(acc + c);
                        (Vector256.Load(acc + c + 4) + hi).Store(acc + c + 4);
                    }
                for (; c < cols; c++) acc[c] += row[c];
            }
        }
        else if (typeof(T) == typeof(double))
        {
            for (int r = r0; r < r1; r++)
            {
                double* row = (double*)x + (nint)r * cols;
                int c = 0;
                if (vec)
                    for (; c <= cols - 4; c += 4) (Vector256.Load(acc + c) + Vector256.Load(row + c)).Store(acc + c);
                for (; c < cols; c++) acc[c] += row[c];
            }
        }
        else
        {
            for (int r = r0; r < r1; r++)
            {
                T* row = x + (nint)r * cols;
                for (int c = 0; c < cols; c++) acc[c] += double.CreateTruncating(row[c]);
            }
        }
    }

    /// <summary>destination[r] = max_c x[r, c].</summary>
    public static void MaxRows<T>(ReadOnlySpan<T> x, int rows, int cols, Span<T> destination) where T : unmanaged, IFloatingPointIeee754<T>
    {
        Check(x, rows, cols, destination, rows);
        if (!FastV<T>())
        {
            for (int r = 0; r < rows; r++) destination[r] = Max(x.Slice(r * cols, cols));
            return;
        }
        fixed (T* px = x, py = destination) ForRows(px, rows, cols, py, &MaxRowsCore<T>, SplitElements / 2);
    }

    private static void MaxRowsCore<T>(T* x, int rows, int cols, T* y) where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int r = 0; r < rows; r++) y[r] = MaxCore(x + (nint)r * cols, cols);
    }

    /// <summary>destination[r] = log Σ_c exp(x[r, c]), stable (max-shifted, double accumulation); −∞ rows give −∞.</summary>
    public static void LogSumExpRows<T>(ReadOnlySpan<T> x, int rows, int cols, Span<T> destination) where T : unmanaged, IFloatingPointIeee754<T>
    {
        Check(x, rows, cols, destination, rows);
        if (typeof(T) == typeof(float) && VectorMath.IsSupported)
        {
            fixed (T* px = x, py = destination) ForRows((float*)px, rows, cols, (float*)py, &LseRowsF, 16384);
            return;
        }
        for (int r = 0; r < rows; r++)
        {
            var row = x.Slice(r * cols, cols);
            double m = double.CreateTruncating(Max(row));
            if (double.IsNegativeInfinity(m) || double.IsNaN(m) || double.IsPositiveInfinity(m)) { destination[r] = T.CreateTruncating(m); continue; }
            double s = 0;
            for (int c = 0; c < cols; c++) s += Math.Exp(double.CreateTruncating(row[c]) - m);
            destination[r] = T.CreateTruncating(m + Math.Log(s));
        }
    }

    private static ReadOnlySpan<int> MaskTable => [-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0];

    /// <summary>Float LSE per row: masked-load tail, vector max, fused vector exp, sums widened to double.</summary>
    private static void LseRowsF(float* x, int rows, int cols, float* y)
    {
        int full = cols & ~7, rem = cols - full;
        Vector256<float> tailMask;
        fixed (int* mt = MaskTable) tailMask = Vector256.Load(mt + 8 - rem).AsSingle();
        var ninf = Vector256.Create(float.NegativeInfinity);
        for (int r = 0; r < rows; r++)
        {
            float* row = x + (nint)r * cols;
            var m = ninf; var nan = Vector256<float>.Zero;
            for (int c = 0; c < full; c += 8)
            {
                var v = Vector256.Load(row + c);
                m = Avx.Max(m, v); nan |= ~Vector256.Equals(v, v);
            }
            var tail = ninf;
            if (rem != 0)
            {
                tail = Vector256.ConditionalSelect(tailMask, Avx.MaskLoad(row + full, tailMask), ninf);
                m = Avx.Max(m, tail); nan |= ~Vector256.Equals(tail, tail);
            }
            if (nan != Vector256<float>.Zero) { y[r] = float.NaN; continue; }
            m = Avx.Max(m, Avx.Permute2x128(m, m, 1));
            m = Avx.Max(m, Avx.Permute(m, 0b01001110));
            m = Avx.Max(m, Avx.Permute(m, 0b10110001));
            float mx = m.ToScalar();
            if (float.IsInfinity(mx)) { y[r] = mx; continue; }
            var s0 = Vector256<double>.Zero; var s1 = s0;
            for (int c = 0; c < full; c += 8)
            {
                var (lo, hi) = Vector256.Widen(VectorMath.Exp(Vector256.Load(row + c) - m));
                s0 += lo; s1 += hi;
            }
            if (rem != 0)
            {
                var (lo, hi) = Vector256.Widen(VectorMath.Exp(tail - m));
                s0 += lo; s1 += hi;
            }
            y[r] = (float)(mx + Math.Log(Vector256.Sum(s0 + s1)));
        }
    }

    private static void Check<T>(ReadOnlySpan<T> x, int rows, int cols, Span<T> destination, int need)
    {
        if (rows < 0 || cols < 0 || (long)rows * cols != x.Length) throw new ArgumentException($"source has {x.Length} elements, not {rows}×{cols}");
        if (destination.Length != need) throw new ArgumentException($"destination has {destination.Length} elements, needs {need}");
    }
}
