namespace NormalizingFlows.Hep.Inference;

/// <summary>Posterior summaries of one parameter against the truth.</summary>
/// <param name="Name">Parameter name.</param>
/// <param name="Bias">Mean of (posterior mean − truth).</param>
/// <param name="Rmse">Root mean square of (posterior mean − truth).</param>
/// <param name="MeanPosteriorStd">Mean posterior standard deviation (for a calibrated posterior ≈ Rmse).</param>
/// <param name="PullMean">Mean of (truth − posterior mean)/posterior std (≈ 0 when calibrated).</param>
/// <param name="PullStd">Standard deviation of the pulls (≈ 1 when calibrated and Gaussian-like).</param>
/// <param name="Coverage">
/// Fraction of truths inside the central credible interval, one per level of <see cref="CalibrationResult.Levels"/>
/// (from the randomised probability integral transform of the rank, unbiased for any number of samples).
/// </param>
public sealed record ParameterSummary(string Name, double Bias, double Rmse, double MeanPosteriorStd, double PullMean, double PullStd, double[] Coverage);
