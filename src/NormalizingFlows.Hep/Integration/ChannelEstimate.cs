namespace NormalizingFlows.Hep.Integration;

/// <summary>One channel of a multichannel integration: its share of the integral, the variance of its weights and its calls.</summary>
/// <param name="Channel">The channel index.</param>
/// <param name="Estimate">∫ α_k f w_k du: the channel's contribution to the integral.</param>
/// <param name="Error">Its standard error.</param>
/// <param name="Variance">The variance σ_k² of one event's weight α_k f w_k / q_k (what the calls are allocated by: N_k ∝ σ_k).</param>
/// <param name="Calls">Integrand calls the channel received.</param>
/// <param name="Active">False once the channel was dropped (its share of the integral fell below the floor).</param>
public sealed record ChannelEstimate(int Channel, double Estimate, double Error, double Variance, long Calls, bool Active);
