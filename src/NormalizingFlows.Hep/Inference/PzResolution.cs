namespace NormalizingFlows.Hep.Inference;

/// <summary>How well one method reconstructs the neutrino p_z on one class of events.</summary>
/// <param name="Method">The reconstruction.</param>
/// <param name="Category">"all", "real roots" or "no real root".</param>
/// <param name="Events">Events in the class.</param>
/// <param name="Sigma68">Half the 16–84 % range of (estimate − truth), GeV: the core resolution.</param>
/// <param name="Rms">Root mean square of (estimate − truth), GeV (dominated by wrong-root tails).</param>
/// <param name="MedianBias">Median of (estimate − truth), GeV.</param>
/// <param name="Coverage68">
/// Fraction of events whose true p_z lies in the method's 68.27 % interval (NaN if it has none); for the flow, the central
/// posterior interval judged by the randomised PIT of the truth's rank among the samples (unbiased for any sample count).
/// </param>
public sealed record PzResolution(string Method, string Category, int Events, double Sigma68, double Rms, double MedianBias, double Coverage68);
