using System.Numerics;
using System.Runtime.Intrinsics;

namespace NormalizingFlows.Tensors.Kernels;

/// <summary>
/// Bin lookup in ascending knot rows (spline transforms). The bin of x is the i with knots[i] ≤ x &lt; knots[i+1],
/// clamped to [0, knotCount − 2]: values below the first knot give 0, values at or above the last knot give
/// knotCount − 2, a value equal to an inner knot belongs to the bin that starts there. Computed as
/// bin = #{ i ∈ [1, knotCount − 2] : knots[i] ≤ x }, so a NaN x gives bin 0 (every comparison is false); the caller
/// decides what a NaN input means. Knots must be ascending (ties allowed); short rows use a vectorised
/// compare-and-count, long rows a binary search with the same result.
/// </summary>
public static unsafe class Search
{
    private const int LinearMax = 64;

    /// <summary>
    /// For each row r of the row-major [rows, knotCount] matrix <paramref name="knots"/>, bins[r] = the bin of x[r]
    /// in that row (see <see cref="Search"/>). knotCount ≥ 2.
    /// </summary>
    public static void SearchSorted<T>(ReadOnlySpan<T> knots, int rows, int knotCount, ReadOnlySpan<T> x, Span<int> bins)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (knotCount < 2) throw new ArgumentException($"need at least 2 knots per row, got {knotCount}");
        if (rows < 0 || (long)rows * knotCount != knots.Length) throw new ArgumentException($"knots has {knots.Length} elements, not {rows}×{knotCount}");
        if (x.Length != rows || bins.Length != rows) throw new ArgumentException($"x ({x.Length}) and bins ({bins.Length}) need {rows} elements");
        fixed (T* pk = knots)
        {
            for (int r = 0; r < rows; r++)
                bins[r] = Bin(pk + (nint)r * knotCount, knotCount, x[r]);
        }
    }

    /// <summary>bins[i] = the bin of x[i] against one shared ascending knot row (see <see cref="Search"/>). knots.Length ≥ 2.</summary>
    public static void SearchSorted<T>(ReadOnlySpan<T> knots, ReadOnlySpan<T> x, Span<int> bins)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int k = knots.Length;
        if (k < 2) throw new ArgumentException($"need at least 2 knots, got {k}");
        if (x.Length != bins.Length) throw new ArgumentException($"x ({x.Length}) and bins ({bins.Length}) differ in length");
        fixed (T* pk = knots)
        fixed (T* px = x)
        fixed (int* pb = bins)
        {
            int i = 0, n = x.Length;
            if (typeof(T) == typeof(float) && k <= 34 && Vector256.IsHardwareAccelerated)
            {
                // Vectorise across x: for each inner knot, 8 comparisons at once; counts accumulate as −1 masks.
                float* kf = (float*)pk, xf = (float*)px;
                for (; i <= n - 8; i += 8)
                {
                    var xv = Vector256.Load(xf + i);
                    var cnt = Vector256<int>.Zero;
                    for (int j = 1; j < k - 1; j++)
                        cnt -= Vector256.LessThanOrEqual(Vector256.Create(kf[j]), xv).AsInt32();
                    cnt.Store(pb + i);
                }
            }
            for (; i < n; i++) pb[i] = Bin(pk, k, px[i]);
        }
    }

    /// <summary>#{ j ∈ [1, k − 2] : row[j] ≤ v }.</summary>
    private static int Bin<T>(T* row, int k, T v) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int inner = k - 2;
        T* p = row + 1;
        if (inner > LinearMax)
        {
            if (T.IsNaN(v)) return 0;
            int lo = 0, hi = inner; // first j with p[j] > v
            while (lo < hi)
            {
                int mid = (lo + hi) >>> 1;
                if (p[mid] <= v) lo = mid + 1; else hi = mid;
            }
            return lo;
        }
        int count = 0, i = 0;
        if (Vector256.IsHardwareAccelerated && Vector256<T>.IsSupported)
        {
            int w = Vector256<T>.Count;
            var vv = Vector256.Create(v);
            for (; i <= inner - w; i += w)
                count += BitOperations.PopCount(Vector256.LessThanOrEqual(Vector256.Load(p + i), vv).ExtractMostSignificantBits());
        }
        for (; i < inner; i++) if (p[i] <= v) count++;
        return count;
    }
}
