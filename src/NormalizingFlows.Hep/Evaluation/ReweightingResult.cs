namespace NormalizingFlows.Hep.Evaluation;

/// <summary>The result of DCTR reweighting.</summary>
/// <param name="Weights">Per-event weights of the generated events, w = D/(1 − D), clipped and normalised to (weighted) mean 1.</param>
/// <param name="DataDensityRatio">w = p_data/p_gen estimated at each data event (calibrated and clipped, not normalised): what DiscFlow needs.</param>
/// <param name="Test">The classifier two-sample test the weights come from (its AUC says how far apart the samples were).</param>
/// <param name="Clipped">Number of generated events whose weight was clipped.</param>
/// <param name="EffectiveSampleSize">Kish effective size (Σw)²/Σw² of the weighted generated sample.</param>
public sealed record ReweightingResult(double[] Weights, double[] DataDensityRatio, TwoSampleTestResult Test, int Clipped, double EffectiveSampleSize)
{
    /// <summary>The two-judge verdict (MLP = <see cref="Test"/>, and gradient-boosted trees on the same folds); null when <see cref="ReweightingOptions.Trees"/> is null.</summary>
    public TwoSampleVerdict? Verdict { get; init; }
}
