namespace NormalizingFlows.Hep.Inference;

/// <summary>One held-out event for the report: truth, quadratic roots and flow posterior samples of p_z.</summary>
/// <param name="TruePz">The neutrino's true p_z.</param>
/// <param name="Small">The quadratic root of smaller |p_z| (real part without real roots).</param>
/// <param name="Large">The other root.</param>
/// <param name="HasRealRoots">Whether the discriminant was ≥ 0.</param>
/// <param name="PosteriorPz">The flow's posterior samples of p_z.</param>
public sealed record NeutrinoExample(double TruePz, double Small, double Large, bool HasRealRoots, double[] PosteriorPz);
