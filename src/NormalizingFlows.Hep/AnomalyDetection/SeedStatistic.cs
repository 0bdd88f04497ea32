namespace NormalizingFlows.Hep.AnomalyDetection;

/// <summary>Mean and sample standard deviation of one figure over the seeds.</summary>
/// <param name="Mean">Mean over the seeds.</param>
/// <param name="Spread">Sample standard deviation over the seeds (0 for one seed).</param>
/// <param name="Values">The per-seed values.</param>
public sealed record SeedStatistic(double Mean, double Spread, double[] Values)
{
    /// <summary>The statistic of <paramref name="values"/>.</summary>
    public static SeedStatistic Of(IEnumerable<double> values)
    {
        var v = values.ToArray();
        if (v.Length == 0) return new SeedStatistic(double.NaN, double.NaN, v);
        double m = v.Average();
        double s = v.Length > 1 ? Math.Sqrt(v.Sum(x => (x - m) * (x - m)) / (v.Length - 1)) : 0;
        return new SeedStatistic(m, s, v);
    }
}
