using NormalizingFlows.Tensors;

namespace NormalizingFlows.Hep.Integration;

/// <summary>
/// Weighted events x ~ q with weights w = f(x)/q(x) (<see cref="ImportanceSamplingIntegrator.GenerateWeighted"/>):
/// the mean weight estimates ∫ f dx. The weighted samples of several shards with the same q are one larger sample;
/// <see cref="Unweight"/> turns them into unweighted events with one maximum weight for all.
/// </summary>
public sealed record WeightedEvents
{
    /// <summary>The events, row-major [Count, Dimensions] in the unit hypercube.</summary>
    public required double[] Events { get; init; }

    /// <summary>Coordinates per event.</summary>
    public required int Dimensions { get; init; }

    /// <summary>The weight f/q of every event.</summary>
    public required double[] Weights { get; init; }

    /// <summary>Number of events.</summary>
    public int Count => Weights.Length;

    /// <summary>
    /// Accept/reject against a maximum weight: event i is kept with probability min(1, wᵢ/max) (one uniform draw of
    /// <paramref name="rng"/> per event with wᵢ &gt; 0, in order); an accepted overweight keeps the event weight wᵢ/max.
    /// The maximum is <paramref name="maxWeight"/> when given, else the <paramref name="quantile"/> of the weights
    /// (1: the largest weight, no overweights). <see cref="UnweightingResult.Trials"/> is <see cref="Count"/>.
    /// </summary>
    public UnweightingResult Unweight(Rng rng, double? maxWeight = null, double quantile = 0.999)
    {
        ArgumentNullException.ThrowIfNull(rng);
        if (!(quantile > 0 && quantile <= 1)) throw new ArgumentOutOfRangeException(nameof(quantile), quantile, "quantile must lie in (0, 1]");
        if (Events.Length != (long)Count * Dimensions)
            throw new ArgumentException($"{Events.Length} coordinates do not make {Count} events of dimension {Dimensions}", nameof(Events));
        double max = maxWeight ?? WeightStatistics.Quantile(Weights, quantile);
        if (!(max > 0) || !double.IsFinite(max))
            throw new ArgumentOutOfRangeException(nameof(maxWeight), max, maxWeight is null ? $"the weights' {quantile} quantile is not positive: every event has weight 0" : "the maximum weight must be positive and finite");
        var events = new List<double>();
        var weights = new List<double>();
        for (int i = 0; i < Count; i++)
        {
            double e = AcceptedWeight(Weights[i], max, rng);
            if (e == 0) continue;
            events.AddRange(Events.AsSpan(i * Dimensions, Dimensions));
            weights.Add(e);
        }
        return new UnweightingResult { Events = [.. events], Dimensions = Dimensions, EventWeights = [.. weights], MaxWeight = max, Trials = Count };
    }

    /// <summary>The event weight of an event of weight <paramref name="w"/> after accept/reject against <paramref name="max"/>: 0 if rejected, else max(1, w/max).</summary>
    internal static double AcceptedWeight(double w, double max, Rng rng)
    {
        double r = w / max;
        return r > 0 && rng.NextDouble() < r ? Math.Max(1.0, r) : 0;
    }
}
