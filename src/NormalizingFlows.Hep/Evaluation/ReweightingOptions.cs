namespace NormalizingFlows.Hep.Evaluation;

/// <summary>Settings of classifier-based (DCTR) reweighting.</summary>
public sealed record ReweightingOptions
{
    /// <summary>The classifier and its cross-fitting.</summary>
    public ClassifierOptions Classifier { get; init; } = new();

    /// <summary>
    /// The second judge of the two-sample test the result reports (<see cref="ReweightingResult.Verdict"/>), run on the
    /// same folds; null: the MLP only. The weights always come from the MLP (smooth in x, unlike a sum of trees).
    /// </summary>
    public GradientBoostedTreesOptions? Trees { get; init; } = new();

    /// <summary>Smallest weight kept (smaller ones are raised to it).</summary>
    public double MinWeight { get; init; } = 0.01;

    /// <summary>Largest weight kept (larger ones are lowered to it).</summary>
    public double MaxWeight { get; init; } = 100;

    internal void Validate()
    {
        ArgumentNullException.ThrowIfNull(Classifier);
        if (!(MinWeight >= 0 && MaxWeight > MinWeight && double.IsFinite(MaxWeight)))
            throw new ArgumentException($"weight range [{MinWeight}, {MaxWeight}] must satisfy 0 ≤ min < max < ∞");
    }
}
