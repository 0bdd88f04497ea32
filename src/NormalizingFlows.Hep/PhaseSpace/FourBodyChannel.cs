namespace NormalizingFlows.Hep.PhaseSpace;

/// <summary>
/// One channel of <see cref="FourBodyMultichannelMapping"/>, by the particle indices (0–3) it clusters: sequential
/// (<paramref name="Paired"/> false) ((i j) k) l — P → R + l, R → Q + k, Q → i + j, with s_ij and s_ijk sampled as
/// 1/s; paired (true) (i j)(k l) — P → Q + Q′, Q → i + j, Q′ → k + l, with s_ij and s_kl sampled as 1/s.
/// </summary>
public sealed record FourBodyChannel(int I, int J, int K, int L, bool Paired = false)
{
    /// <summary>"((i j) k) l" or "(i j)(k l)".</summary>
    public override string ToString() => Paired ? $"({I} {J})({K} {L})" : $"(({I} {J}) {K}) {L}";
}
