namespace NormalizingFlows.Hep.Evaluation;

/// <summary>A significance-improvement curve SIC = ε_S/√ε_B along a ROC curve, and its maximum.</summary>
/// <param name="TruePositiveRate">Signal efficiency of each retained point.</param>
/// <param name="Sic">ε_S/√ε_B at each retained point.</param>
/// <param name="MaxSic">Largest SIC among the retained points (NaN when none is retained).</param>
/// <param name="TruePositiveRateAtMax">ε_S at the maximum.</param>
/// <param name="FalsePositiveRateAtMax">ε_B at the maximum.</param>
public sealed record SicCurve(double[] TruePositiveRate, double[] Sic, double MaxSic, double TruePositiveRateAtMax, double FalsePositiveRateAtMax);
