namespace NormalizingFlows.Hep.Integration;

/// <summary>One iteration of an integration: its estimate, standard error and number of integrand calls.</summary>
public sealed record IterationEstimate(double Value, double Error, long Calls);
