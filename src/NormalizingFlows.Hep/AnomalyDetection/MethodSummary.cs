namespace NormalizingFlows.Hep.AnomalyDetection;

/// <summary>Per-method figures averaged over several seeds.</summary>
/// <param name="Method">The method.</param>
/// <param name="MaxSic">Max SIC.</param>
/// <param name="Auc">AUC.</param>
/// <param name="RejectionAt20">1/ε_B at ε_S = 0.2.</param>
/// <param name="RejectionAt50">1/ε_B at ε_S = 0.5.</param>
/// <param name="Seconds">Wall time per run.</param>
public sealed record MethodSummary(BumpHuntMethod Method, SeedStatistic MaxSic, SeedStatistic Auc, SeedStatistic RejectionAt20, SeedStatistic RejectionAt50, SeedStatistic Seconds);
