namespace NormalizingFlows.Hep.Evaluation;

/// <summary>AUC, its standard error and how the error was estimated.</summary>
/// <param name="Auc">Area under the ROC curve.</param>
/// <param name="Error">Standard error of the AUC.</param>
/// <param name="Method">"DeLong" (unweighted), "DeLong (weighted)" or "Hanley-McNeil".</param>
public readonly record struct AucEstimate(double Auc, double Error, string Method);
