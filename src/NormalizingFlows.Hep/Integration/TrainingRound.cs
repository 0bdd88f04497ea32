namespace NormalizingFlows.Hep.Integration;

/// <summary>One training round of <see cref="FlowIntegrator"/>: the estimate from its own sample, the loss before the steps, the weights' spread.</summary>
public sealed record TrainingRound(int Round, long Calls, double Estimate, double Error, double Loss, double RelativeStandardDeviation);
