namespace NormalizingFlows.Hep.Integration;

/// <summary>One iteration of an integration: its estimate, standard error and number of integrand calls.</summary>
public sealed record IterationEstimate(double Value, double Error, long Calls);

/// <summary>
/// The result of <see cref="ImportanceSamplingIntegrator.Integrate"/>: the estimate of ∫ f dx with its standard error
/// (iterations combined by inverse-variance weighting, χ²/dof of their compatibility), and the quality of the
/// importance weights w = f/q of the integration sample.
/// </summary>
public sealed record IntegrationResult
{
    /// <summary>"mc", "vegas" or "flow".</summary>
    public required string Method { get; init; }

    /// <summary>The integrand's name.</summary>
    public required string Integrand { get; init; }

    /// <summary>The estimate of ∫ f dx.</summary>
    public required double Estimate { get; init; }

    /// <summary>Its standard error.</summary>
    public required double Error { get; init; }

    /// <summary>The iterations that were combined.</summary>
    public required IReadOnlyList<IterationEstimate> Iterations { get; init; }

    /// <summary>χ² per degree of freedom of the iterations around the combined estimate (NaN for one iteration).</summary>
    public required double ChiSquaredPerDof { get; init; }

    /// <summary>Integrand calls of this integration (not counting training / adaptation).</summary>
    public required long Calls { get; init; }

    /// <summary>Integrand calls of the integrator so far, training or adaptation included.</summary>
    public required long TotalCalls { get; init; }

    /// <summary>Statistics of the weights of the integration sample.</summary>
    public required WeightStatistics Weights { get; init; }

    /// <summary>Error / |Estimate|.</summary>
    public double RelativeError => Error / Math.Abs(Estimate);

    /// <summary>(Estimate − reference) / Error: the deviation in standard errors from a known value.</summary>
    public double Pull(double reference) => (Estimate - reference) / Error;
}

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

/// <summary>
/// Unweighted events from <see cref="ImportanceSamplingIntegrator.GenerateUnweighted"/>: accept/reject against a
/// maximum weight; events whose weight exceeded it (overweights) are kept with event weight w/max &gt; 1, all others
/// have weight 1, so Σ event weights · <see cref="MaxWeight"/> / <see cref="Trials"/> estimates ∫ f dx.
/// </summary>
public sealed record UnweightingResult
{
    /// <summary>The events, row-major [Count, Dimensions] in the unit hypercube.</summary>
    public required double[] Events { get; init; }

    /// <summary>Coordinates per event.</summary>
    public required int Dimensions { get; init; }

    /// <summary>Per-event weight: 1, or w/max for an overweight event.</summary>
    public required double[] EventWeights { get; init; }

    /// <summary>Number of events.</summary>
    public int Count => EventWeights.Length;

    /// <summary>The maximum weight the accept/reject step used.</summary>
    public required double MaxWeight { get; init; }

    /// <summary>Weighted events examined to get <see cref="Count"/> accepted events (the integrand calls, up to the unused rest of the last batch).</summary>
    public required long Trials { get; init; }

    /// <summary>Count / Trials: the measured unweighting efficiency.</summary>
    public double Efficiency => Trials > 0 ? (double)Count / Trials : 0;

    /// <summary>Fraction of accepted events that were overweight (event weight &gt; 1).</summary>
    public double OverweightEventFraction => Count > 0 ? EventWeights.Count(w => w > 1) / (double)Count : 0;

    /// <summary>The integral estimated from the unweighted sample: MaxWeight · Σ event weights / Trials.</summary>
    public double IntegralEstimate => Trials > 0 ? MaxWeight * EventWeights.Sum() / Trials : double.NaN;
}
