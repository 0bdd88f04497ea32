using NormalizingFlows.Models;

namespace NormalizingFlows.Hep.AnomalyDetection;

/// <summary>Settings of a conditional density estimator p(x | m_jj) (<see cref="ConditionalDensityEstimator"/>).</summary>
public sealed record DensityEstimatorOptions
{
    /// <summary>Flow builder (a <see cref="FlowSpec"/> name; default "maf-rqs": MAF with rational-quadratic splines, as CATHODE's MAF family).</summary>
    public string Builder { get; init; } = "maf-rqs";

    /// <summary>Flow layers.</summary>
    public int Layers { get; init; } = 4;

    /// <summary>Hidden units of each MADE.</summary>
    public int Hidden { get; init; } = 64;

    /// <summary>Spline bins (spline builders).</summary>
    public int Bins { get; init; } = 8;

    /// <summary>Splines act on [−Bound, Bound] of the standardised features (identity tails outside).</summary>
    public double Bound { get; init; } = 4.0;

    /// <summary>Maximum passes over the training events (early stopping may end sooner).</summary>
    public int Epochs { get; init; } = 30;

    /// <summary>Events per minibatch.</summary>
    public int BatchSize { get; init; } = 256;

    /// <summary>Adam's starting learning rate (cosine decay).</summary>
    public double LearningRate { get; init; } = 1e-3;

    /// <summary>Fraction of the events held out to pick the best epoch.</summary>
    public double ValidationFraction { get; init; } = 0.2;

    /// <summary>Epochs without validation improvement before stopping (0: never).</summary>
    public int Patience { get; init; } = 6;

    /// <summary>Seed of the initialisation, split and shuffling.</summary>
    public long Seed { get; init; }
}
