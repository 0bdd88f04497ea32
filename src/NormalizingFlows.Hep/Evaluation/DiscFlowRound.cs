using NormalizingFlows.Training;

namespace NormalizingFlows.Hep.Evaluation;

/// <summary>One classifier fit of the DiscFlow loop.</summary>
/// <param name="Round">0 before any refinement, r after the r-th retraining.</param>
/// <param name="Auc">AUC of the MLP two-sample test (training data against fresh samples; the MLP's weights drive the refinement).</param>
/// <param name="AucError">Its standard error.</param>
/// <param name="History">The training run that preceded this fit (null for round 0 without initial training).</param>
public sealed record DiscFlowRound(int Round, double Auc, double AucError, TrainingHistory? History)
{
    /// <summary>Both judges' tests on the same samples and folds (null when <see cref="DiscFlowOptions.Trees"/> is null); its headline is the larger AUC.</summary>
    public TwoSampleVerdict? Verdict { get; init; }
}
