namespace NormalizingFlows.Training;

/// <summary>One sample of a <see cref="SampledDivergenceLoss{T}"/> and what its first step made of it.</summary>
/// <param name="Round">Round number within the run, from 0.</param>
/// <param name="Weights">The importance weights f(x)/q_old(x) of the sample's points (of f itself, not of an annealed f^β).</param>
/// <param name="Loss">The loss of the round's first step; NaN when the round was skipped because f vanished on the whole sample.</param>
public sealed record SampledRound(int Round, double[] Weights, double Loss);
