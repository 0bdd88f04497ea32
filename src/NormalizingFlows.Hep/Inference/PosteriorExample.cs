namespace NormalizingFlows.Hep.Inference;

/// <summary>Posterior samples of one observation with the parameters that produced it, for the report.</summary>
/// <param name="Truth">The true parameters (d values).</param>
/// <param name="Samples">Posterior samples, [L, d] row-major.</param>
public sealed record PosteriorExample(double[] Truth, double[] Samples);
