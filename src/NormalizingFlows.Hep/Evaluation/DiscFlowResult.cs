namespace NormalizingFlows.Hep.Evaluation;

/// <summary>The outcome of <see cref="DiscFlowRefinement.Run"/>.</summary>
/// <param name="Rounds">The classifier fits in order: before refinement, then after each retraining.</param>
public sealed record DiscFlowResult(IReadOnlyList<DiscFlowRound> Rounds)
{
    /// <summary>AUC before the refinement.</summary>
    public double AucBefore => Rounds[0].Auc;

    /// <summary>AUC after the last retraining.</summary>
    public double AucAfter => Rounds[^1].Auc;

    /// <summary>The two-judge verdict before the refinement (null without the trees judge).</summary>
    public TwoSampleVerdict? VerdictBefore => Rounds[0].Verdict;

    /// <summary>The two-judge verdict after the last retraining (null without the trees judge).</summary>
    public TwoSampleVerdict? VerdictAfter => Rounds[^1].Verdict;
}
