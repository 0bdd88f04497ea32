namespace NormalizingFlows.Hep.Evaluation;

/// <summary>
/// The separation power (triangular discrimination) of two histograms, the CaloChallenge's χ²-like histogram metric:
/// ½ Σ_bins (h₁ − h₂)² / (h₁ + h₂) with each histogram normalised to unit sum over the bins (entries outside the
/// edges are dropped, as NumPy's histogram drops them). 0 for identical shapes, 1 for histograms with no bin in common.
/// </summary>
public static class SeparationPower
{
    /// <summary>The separation power of <paramref name="generated"/> against <paramref name="reference"/> histogrammed with the given edges (ascending).</summary>
    public static double Compute(ReadOnlySpan<double> reference, ReadOnlySpan<double> generated, double[] edges) =>
        FromCounts(Counts(reference, edges), Counts(generated, edges));

    /// <summary>The separation power of two histograms of counts (or weights) over the same bins, each normalised to unit sum here.</summary>
    public static double FromCounts(double[] counts1, double[] counts2)
    {
        ArgumentNullException.ThrowIfNull(counts1);
        ArgumentNullException.ThrowIfNull(counts2);
        if (counts1.Length != counts2.Length) throw new ArgumentException($"{counts1.Length} and {counts2.Length} bins", nameof(counts2));
        double s1 = counts1.Sum(), s2 = counts2.Sum();
        if (!(s1 > 0)) throw new ArgumentException("the first histogram is empty", nameof(counts1));
        if (!(s2 > 0)) throw new ArgumentException("the second histogram is empty", nameof(counts2));
        double sum = 0;
        for (int b = 0; b < counts1.Length; b++)
        {
            double h1 = counts1[b] / s1, h2 = counts2[b] / s2;
            if (h1 + h2 > 0) sum += (h1 - h2) * (h1 - h2) / (h1 + h2);
        }
        return 0.5 * sum;
    }

    /// <summary>
    /// Counts per bin (NumPy's convention: bins [e_k, e_k+1), the last one closed); values outside and NaN are not counted.
    /// </summary>
    public static double[] Counts(ReadOnlySpan<double> values, double[] edges)
    {
        ArgumentNullException.ThrowIfNull(edges);
        if (edges.Length < 2) throw new ArgumentException("at least two edges are needed", nameof(edges));
        for (int k = 1; k < edges.Length; k++)
            if (!(edges[k] > edges[k - 1])) throw new ArgumentException($"edges must be strictly ascending: edge {k} is {edges[k]} after {edges[k - 1]}", nameof(edges));
        var counts = new double[edges.Length - 1];
        double lo = edges[0], hi = edges[^1];
        foreach (double v in values)
        {
            if (!(v >= lo && v <= hi)) continue;
            int k = Array.BinarySearch(edges, v);
            int bin = k >= 0 ? Math.Min(k, counts.Length - 1) : ~k - 1;
            counts[bin]++;
        }
        return counts;
    }

    /// <summary><paramref name="bins"/> equal bins from <paramref name="min"/> to <paramref name="max"/> (NumPy's linspace).</summary>
    public static double[] LinearEdges(double min, double max, int bins)
    {
        if (bins < 1) throw new ArgumentOutOfRangeException(nameof(bins), bins, "must be ≥ 1");
        if (!(max > min) || !double.IsFinite(min) || !double.IsFinite(max)) throw new ArgumentException($"the range [{min}, {max}] is empty or not finite");
        return Enumerable.Range(0, bins + 1).Select(k => k == bins ? max : min + (max - min) * k / bins).ToArray();
    }

    /// <summary><paramref name="bins"/> bins equal in log₁₀ from <paramref name="min"/> to <paramref name="max"/> (both &gt; 0; NumPy's logspace).</summary>
    public static double[] LogEdges(double min, double max, int bins)
    {
        if (!(min > 0)) throw new ArgumentOutOfRangeException(nameof(min), min, "log bins need a positive lower edge");
        var edges = LinearEdges(Math.Log10(min), Math.Log10(max), bins).Select(e => Math.Pow(10, e)).ToArray();
        edges[0] = min;
        edges[^1] = max; // exactly: the reference's largest value stays inside
        return edges;
    }
}
