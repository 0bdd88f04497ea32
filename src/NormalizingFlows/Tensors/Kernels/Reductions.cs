using System.Numerics;

namespace NormalizingFlows.Tensors.Kernels;

/// <summary>
/// Reductions over spans and over the rows/columns of a row-major [rows, cols] matrix. Sums accumulate in double.
/// (Skeleton: scalar reference implementations; the SIMD kernels replace this file keeping the signatures.)
/// </summary>
public static class Reductions
{
    /// <summary>Σ x[i] in double.</summary>
    public static double Sum<T>(ReadOnlySpan<T> x) where T : unmanaged, IFloatingPointIeee754<T>
    {
        double s = 0;
        for (int i = 0; i < x.Length; i++) s += double.CreateTruncating(x[i]);
        return s;
    }

    /// <summary>Σ a[i]·b[i] in double.</summary>
    public static double Dot<T>(ReadOnlySpan<T> a, ReadOnlySpan<T> b) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (a.Length != b.Length) throw new ArgumentException($"length mismatch: {a.Length} vs {b.Length}");
        double s = 0;
        for (int i = 0; i < a.Length; i++) s += double.CreateTruncating(a[i]) * double.CreateTruncating(b[i]);
        return s;
    }

    /// <summary>max x[i] (NaN if any is NaN; −∞ for an empty span).</summary>
    public static T Max<T>(ReadOnlySpan<T> x) where T : unmanaged, IFloatingPointIeee754<T>
    {
        T m = T.NegativeInfinity;
        for (int i = 0; i < x.Length; i++) { if (T.IsNaN(x[i])) return x[i]; if (x[i] > m) m = x[i]; }
        return m;
    }

    /// <summary>destination[r] = Σ_c x[r, c].</summary>
    public static void SumRows<T>(ReadOnlySpan<T> x, int rows, int cols, Span<T> destination) where T : unmanaged, IFloatingPointIeee754<T>
    {
        Check(x, rows, cols, destination, rows);
        for (int r = 0; r < rows; r++) destination[r] = T.CreateTruncating(Sum(x.Slice(r * cols, cols)));
    }

    /// <summary>destination[c] = Σ_r x[r, c] (accumulate = true adds to destination instead).</summary>
    public static void SumCols<T>(ReadOnlySpan<T> x, int rows, int cols, Span<T> destination, bool accumulate = false) where T : unmanaged, IFloatingPointIeee754<T>
    {
        Check(x, rows, cols, destination, cols);
        var acc = new double[cols];
        for (int r = 0; r < rows; r++)
        {
            var row = x.Slice(r * cols, cols);
            for (int c = 0; c < cols; c++) acc[c] += double.CreateTruncating(row[c]);
        }
        for (int c = 0; c < cols; c++) destination[c] = accumulate ? destination[c] + T.CreateTruncating(acc[c]) : T.CreateTruncating(acc[c]);
    }

    /// <summary>destination[r] = max_c x[r, c].</summary>
    public static void MaxRows<T>(ReadOnlySpan<T> x, int rows, int cols, Span<T> destination) where T : unmanaged, IFloatingPointIeee754<T>
    {
        Check(x, rows, cols, destination, rows);
        for (int r = 0; r < rows; r++) destination[r] = Max(x.Slice(r * cols, cols));
    }

    /// <summary>destination[r] = log Σ_c exp(x[r, c]), stable (max-shifted, double accumulation); −∞ rows give −∞.</summary>
    public static void LogSumExpRows<T>(ReadOnlySpan<T> x, int rows, int cols, Span<T> destination) where T : unmanaged, IFloatingPointIeee754<T>
    {
        Check(x, rows, cols, destination, rows);
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

    private static void Check<T>(ReadOnlySpan<T> x, int rows, int cols, Span<T> destination, int need)
    {
        if ((long)rows * cols != x.Length) throw new ArgumentException($"source has {x.Length} elements, not {rows}×{cols}");
        if (destination.Length != need) throw new ArgumentException($"destination has {destination.Length} elements, needs {need}");
    }
}
