namespace NormalizingFlows.Hep.Inference;

/// <summary>The calibration of a posterior estimator on simulated (truth, observation) pairs.</summary>
/// <param name="Observations">Number of simulated observations.</param>
/// <param name="SamplesPerObservation">Posterior samples per observation (ranks run 0 … this).</param>
/// <param name="Levels">Credibility levels of the central intervals.</param>
/// <param name="Ranks">Per parameter, the SBC rank histogram.</param>
/// <param name="Parameters">Per parameter, the posterior mean/std versus the truth and the coverage.</param>
/// <param name="JointCoverage">Fraction of observations whose truth lies inside every parameter's central interval, per level.</param>
public sealed record CalibrationResult(int Observations, int SamplesPerObservation, double[] Levels, RankHistogram[] Ranks,
    ParameterSummary[] Parameters, double[] JointCoverage)
{
    /// <summary>The smallest SBC p-value over the parameters.</summary>
    public double MinPValue => Ranks.Min(r => r.PValue);
}
