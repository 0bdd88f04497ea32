namespace NormalizingFlows.Hep.Inference;

/// <summary>The two solutions of the W-mass constraint for the neutrino p_z.</summary>
/// <param name="Small">The root of smaller |p_z| (the usual choice); the real part when there is no real root.</param>
/// <param name="Large">The other root; equal to <paramref name="Small"/> when there is no real root.</param>
/// <param name="HasRealRoots">False when the discriminant is negative (the measured transverse mass exceeds the W mass).</param>
public readonly record struct NeutrinoPzSolution(double Small, double Large, bool HasRealRoots);
