namespace NormalizingFlows.Hep.Inference;

/// <summary>Simulation-based calibration of one parameter: the rank histogram and its χ² uniformity test.</summary>
/// <param name="Name">Parameter name.</param>
/// <param name="Counts">Observations per rank bin.</param>
/// <param name="Expected">Expected count per bin for uniform ranks.</param>
/// <param name="ChiSquare">Σ (observed − expected)²/expected.</param>
/// <param name="DegreesOfFreedom">Bins − 1.</param>
/// <param name="PValue">P(χ²_dof ≥ ChiSquare): small values reject uniform ranks (a miscalibrated posterior).</param>
public sealed record RankHistogram(string Name, long[] Counts, double[] Expected, double ChiSquare, int DegreesOfFreedom, double PValue);
