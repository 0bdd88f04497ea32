namespace NormalizingFlows.Hep.Evaluation;

/// <summary>Quantiles of values already sorted ascending.</summary>
public static class SortedQuantile
{
    /// <summary>The <paramref name="p"/>-quantile (p clamped to [0, 1]), linearly interpolated between order statistics (type 7, NumPy's default).</summary>
    public static double Of(ReadOnlySpan<double> sorted, double p)
    {
        if (sorted.Length == 0) throw new ArgumentException("no values", nameof(sorted));
        double h = (sorted.Length - 1) * Math.Clamp(p, 0, 1);
        int lo = (int)Math.Floor(h);
        int hi = Math.Min(lo + 1, sorted.Length - 1);
        return sorted[lo] + (h - lo) * (sorted[hi] - sorted[lo]);
    }
}
