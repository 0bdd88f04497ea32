namespace NormalizingFlows.Hep.Integration;

/// <summary>Settings of <see cref="MultichannelFlowIntegrator"/>.</summary>
public sealed record MultichannelOptions
{
    /// <summary>The channel-conditional flow and its training (rounds, steps, learning rate, loss); annealing and the replay buffer are not used.</summary>
    public FlowIntegratorOptions Flow { get; init; } = new();

    /// <summary>Learn the channel weights α_k(p) = softmax(log prior + network(features)) jointly with the flow (default true); false keeps the prior.</summary>
    public bool LearnChannelWeights { get; init; } = true;

    /// <summary>Hidden units of the two hidden layers of the channel-weight network (default 16).</summary>
    public int ChannelWeightHidden { get; init; } = 16;

    /// <summary>
    /// Balance channel weights: the prior α_k(p) becomes N_k q_k(p) / Σ_j N_j q_j(p), with q_k(p) = q(u_k | k)/w_k the
    /// flow's own density of channel k at p and N_k the round's calls per channel (Veach's balance heuristic: for a
    /// given flow the α that minimises Σ_k σ_k²/N_k; every event's weight becomes f / Σ_j (N_j/N) q_j(p)). Computed from
    /// the flow that drew each training round (held fixed during its steps, so the flow's channels learn to share the
    /// integrand among them) and at integration; the channel-weight network, when learnt, corrects it. Needs the
    /// integrand's <see cref="IMultichannelIntegrand.ChannelCoordinates"/>; costs K flow evaluations per event and no
    /// integrand calls (default false: the integrand's prior).
    /// </summary>
    public bool BalanceWeights { get; init; }

    /// <summary>
    /// Train on the balance estimator's own variance (needs <see cref="BalanceWeights"/>, not <see cref="LearnChannelWeights"/>):
    /// the χ² divergence between f/I and the mixture q_mix(p) = Σ_j (N_j/N) q_j(p) of the channel flows, on each
    /// round's events reweighted by q_old,mix/q_mix, with gradients through every channel's density at every event, so
    /// the channels partition the phase space jointly (MadNIS's multichannel as a mixture) instead of each learning
    /// α_k f with α frozen per round (default false).
    /// </summary>
    public bool MixtureLoss { get; init; }

    /// <summary>Allocate each iteration's calls to channels in proportion to their weights' standard deviation σ_k (default true; false: equal shares).</summary>
    public bool Stratified { get; init; } = true;

    /// <summary>
    /// With <see cref="Stratified"/>: allocate by the root mean square √(σ_k² + I_k²) of each channel's weights instead
    /// of σ_k, the Kleiss–Pittau update (Comput. Phys. Commun. 83 (1994) 141) of the mixture weights
    /// ν_k ← ν_k √W_k, W_k = E_{q_k}[(f/q_mix)²], whose fixed point minimises ∫ f²/q_mix: the variance of the mixture
    /// estimator that <see cref="MixtureLoss"/> trains on (default false: N_k ∝ σ_k).
    /// </summary>
    public bool SecondMomentAllocation { get; init; }

    /// <summary>Share of calls every active channel keeps at least, as a fraction of an equal share (default 0.1), so no σ_k estimate starves.</summary>
    public double MinimumShare { get; init; } = 0.1;

    /// <summary>
    /// Channel dropping: after training, a channel whose share of the integral is below this floor is dropped and the
    /// channel weights are renormalised over the others (default 0: keep all). Unbiased wherever another channel covers
    /// the dropped one's points (the three-body channels cover the whole cut phase space).
    /// </summary>
    public double DropFloor { get; init; }

    /// <summary>Throws unless the settings are usable.</summary>
    public void Validate()
    {
        ArgumentNullException.ThrowIfNull(Flow, nameof(Flow));
        Flow.Validate();
        if (ChannelWeightHidden < 1) throw new ArgumentOutOfRangeException(nameof(ChannelWeightHidden), ChannelWeightHidden, "the channel-weight network needs hidden units");
        if (!(MinimumShare >= 0 && MinimumShare <= 1)) throw new ArgumentOutOfRangeException(nameof(MinimumShare), MinimumShare, "the minimum share must lie in [0, 1]");
        if (MixtureLoss && !BalanceWeights) throw new ArgumentException("the mixture loss trains the balance-weight estimator: set BalanceWeights too", nameof(MixtureLoss));
        if (MixtureLoss && LearnChannelWeights) throw new ArgumentException("the mixture loss has no channel-weight network to train: set LearnChannelWeights to false", nameof(MixtureLoss));
        if (!(DropFloor >= 0 && DropFloor < 1)) throw new ArgumentOutOfRangeException(nameof(DropFloor), DropFloor, "the drop floor must lie in [0, 1)");
    }
}
