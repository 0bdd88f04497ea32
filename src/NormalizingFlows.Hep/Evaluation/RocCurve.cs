namespace NormalizingFlows.Hep.Evaluation;

/// <summary>
/// A receiver-operating-characteristic curve: for each distinct score threshold t (descending), the fraction of
/// positive ("signal") and negative ("background") weight with score ≥ t. The first point is (0, 0) at t = +∞, the
/// last (1, 1).
/// </summary>
/// <param name="FalsePositiveRate">Background efficiency ε_B at each threshold, non-decreasing from 0 to 1.</param>
/// <param name="TruePositiveRate">Signal efficiency ε_S at each threshold, non-decreasing from 0 to 1.</param>
/// <param name="Thresholds">The score thresholds (descending; +∞ for the first point).</param>
/// <param name="BackgroundCounts">Number of negative events (unweighted) with score ≥ threshold at each point.</param>
/// <param name="Auc">Area under the curve, P(s₊ &gt; s₋) + ½P(s₊ = s₋).</param>
/// <param name="AucError">Standard error of the AUC (see <see cref="Roc.AucWithError"/>).</param>
/// <param name="Positives">Number of positive events.</param>
/// <param name="Negatives">Number of negative events.</param>
public sealed record RocCurve(double[] FalsePositiveRate, double[] TruePositiveRate, double[] Thresholds, int[] BackgroundCounts,
    double Auc, double AucError, int Positives, int Negatives)
{
    /// <summary>
    /// At most <paramref name="maxPoints"/> points of the curve (for plotting): evenly spaced in index, always keeping
    /// the first and last. The AUC fields are those of the full curve.
    /// </summary>
    public RocCurve Thin(int maxPoints)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxPoints, 2);
        int n = FalsePositiveRate.Length;
        if (n <= maxPoints) return this;
        var idx = Enumerable.Range(0, maxPoints).Select(k => (int)Math.Round((double)k * (n - 1) / (maxPoints - 1))).Distinct().ToArray();
        return this with
        {
            FalsePositiveRate = idx.Select(i => FalsePositiveRate[i]).ToArray(),
            TruePositiveRate = idx.Select(i => TruePositiveRate[i]).ToArray(),
            Thresholds = idx.Select(i => Thresholds[i]).ToArray(),
            BackgroundCounts = idx.Select(i => BackgroundCounts[i]).ToArray(),
        };
    }
}
