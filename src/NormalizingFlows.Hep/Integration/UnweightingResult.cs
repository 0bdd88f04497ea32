namespace NormalizingFlows.Hep.Integration;

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
