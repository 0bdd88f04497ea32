namespace NormalizingFlows.Hep.Calorimeter;

/// <summary>A set of showers to compare with the reference: its name, the showers and its generation time per shower (NaN: not timed).</summary>
public sealed record CaloCandidate(string Name, CaloShowers Showers, double SecondsPerShower);
