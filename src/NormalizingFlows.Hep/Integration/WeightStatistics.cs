namespace NormalizingFlows.Hep.Integration;

/// <summary>
/// Statistics of importance weights wᵢ = f(xᵢ)/q(xᵢ) (zeros included): the mean is the integral estimate, the
/// relative standard deviation std(w)/⟨w⟩ is the error of one event, the effective sample size is (Σw)²/Σw², the
/// unweighting efficiency ⟨w⟩/max w is the acceptance of hit-or-miss unweighting.
/// </summary>
public sealed record WeightStatistics
{
    /// <summary>Number of weights.</summary>
    public required long Count { get; init; }

    /// <summary>⟨w⟩.</summary>
    public required double Mean { get; init; }

    /// <summary>std(w)/⟨w⟩ (sample standard deviation).</summary>
    public required double RelativeStandardDeviation { get; init; }

    /// <summary>(Σw)²/Σw².</summary>
    public required double EffectiveSampleSize { get; init; }

    /// <summary>max w.</summary>
    public required double MaxWeight { get; init; }

    /// <summary>⟨w⟩/max w.</summary>
    public required double UnweightingEfficiency { get; init; }

    /// <summary>The quantile of the weights used as a robust maximum (<see cref="RobustQuantile"/>).</summary>
    public required double RobustMaxWeight { get; init; }

    /// <summary>The quantile level of <see cref="RobustMaxWeight"/> (e.g. 0.999).</summary>
    public required double RobustQuantile { get; init; }

    /// <summary>⟨w⟩/robust max: the acceptance when the robust maximum is used for unweighting.</summary>
    public required double RobustUnweightingEfficiency { get; init; }

    /// <summary>
    /// Σ max(0, w − robust max)/Σw: the fraction of the integral carried by overweight events above the robust
    /// maximum (events kept with weight w/robust max &gt; 1 in <see cref="UnweightingResult"/>).
    /// </summary>
    public required double OverweightFraction { get; init; }

    /// <summary>Computes the statistics of <paramref name="weights"/> with the robust maximum at <paramref name="quantile"/>.</summary>
    public static WeightStatistics Compute(ReadOnlySpan<double> weights, double quantile = 0.999)
    {
        if (!(quantile > 0 && quantile <= 1)) throw new ArgumentOutOfRangeException(nameof(quantile), quantile, "the robust-maximum quantile must lie in (0, 1]");
        int n = weights.Length;
        if (n == 0) throw new ArgumentException("no weights", nameof(weights));
        double sum = 0, sum2 = 0, max = 0;
        foreach (double w in weights)
        {
            if (!(w >= 0) || !double.IsFinite(w)) throw new ArgumentException($"weight {w} is negative or not finite", nameof(weights));
            sum += w; sum2 += w * w;
            if (w > max) max = w;
        }
        double mean = sum / n;
        double var = n > 1 ? Math.Max(0, (sum2 - sum * mean) / (n - 1)) : 0;
        double robust = Quantile(weights, quantile);
        double over = 0;
        if (robust > 0) foreach (double w in weights) if (w > robust) over += w - robust;
        return new WeightStatistics
        {
            Count = n,
            Mean = mean,
            RelativeStandardDeviation = mean > 0 ? Math.Sqrt(var) / mean : double.NaN,
            EffectiveSampleSize = sum2 > 0 ? sum * sum / sum2 : 0,
            MaxWeight = max,
            UnweightingEfficiency = max > 0 ? mean / max : 0,
            RobustMaxWeight = robust,
            RobustQuantile = quantile,
            RobustUnweightingEfficiency = robust > 0 ? mean / robust : 0,
            OverweightFraction = sum > 0 ? over / sum : 0,
        };
    }

    /// <summary>The <paramref name="q"/>-quantile of <paramref name="values"/> (the ⌈q·n⌉-th smallest; q = 1: the maximum).</summary>
    public static double Quantile(ReadOnlySpan<double> values, double q)
    {
        if (values.Length == 0) throw new ArgumentException("no values", nameof(values));
        var copy = values.ToArray();
        Array.Sort(copy);
        int k = Math.Clamp((int)Math.Ceiling(q * copy.Length) - 1, 0, copy.Length - 1);
        return copy[k];
    }
}
