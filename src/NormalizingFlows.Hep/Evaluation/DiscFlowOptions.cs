namespace NormalizingFlows.Hep.Evaluation;

/// <summary>Settings of the DiscFlow refinement loop.</summary>
public sealed record DiscFlowOptions
{
    /// <summary>The classifier of each round.</summary>
    public ClassifierOptions Classifier { get; init; } = new();

    /// <summary>The second judge whose AUC every round also reports (same folds as the MLP); null: the MLP only.</summary>
    public GradientBoostedTreesOptions? Trees { get; init; } = new();

    /// <summary>Refinement rounds (fit classifier → weight → retrain).</summary>
    public int Rounds { get; init; } = 1;

    /// <summary>
    /// Exponent α of the loss weight uᵢ = w(xᵢ)^α with w = p_data/p_model at the training event xᵢ. α = 1 (default)
    /// weights "bad" (under-populated) points up; α = −1 is the literal 1/w of the seed's formula under our w
    /// convention (see <see cref="DiscFlowRefinement"/>).
    /// </summary>
    public double WeightExponent { get; init; } = 1.0;

    /// <summary>Smallest loss weight (before normalisation).</summary>
    public double MinWeight { get; init; } = 0.1;

    /// <summary>Largest loss weight (before normalisation).</summary>
    public double MaxWeight { get; init; } = 10;

    /// <summary>Generated events per classifier fit; null: as many as training events.</summary>
    public int? Samples { get; init; }

    /// <summary>Seed of the sampling.</summary>
    public long Seed { get; init; }
}
