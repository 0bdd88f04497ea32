namespace NormalizingFlows.Hep.PhaseSpace;

/// <summary>
/// A phase-space mapping made of channels, each a map of its own from [0, 1]^(d_c) to the momenta that flattens some
/// singular invariants, with density g_k(p) = 1/w_k in Φ_n, and prior channel weights α_k⁰ (the
/// <see cref="IPhaseSpaceMapping.Map"/> of such a mapping reads one more number that picks the channel and returns the
/// multichannel weight 1/Σ_k α_k⁰ g_k). <see cref="PhaseSpaceChannels"/> turns a process on it into an
/// <see cref="Integration.IMultichannelIntegrand"/>.
/// </summary>
public interface IMultichannelMapping : IPhaseSpaceMapping
{
    /// <summary>The number of channels K.</summary>
    int Channels { get; }

    /// <summary>The numbers d_c one channel reads (<see cref="IPhaseSpaceMapping.Dimensions"/> − 1).</summary>
    int ChannelDimensions { get; }

    /// <summary>The prior channel weights α_k⁰ (summing to 1).</summary>
    IReadOnlyList<double> ChannelWeights { get; }

    /// <summary>
    /// The pairs (i, j) whose ln(s_ij/s) are the features of a point for a channel-weight network: the invariants the
    /// channels flatten first.
    /// </summary>
    IReadOnlyList<(int I, int J)> FeaturePairs { get; }

    /// <summary>
    /// Channel <paramref name="channel"/> alone from its <see cref="ChannelDimensions"/> numbers: writes the momenta
    /// and returns the channel's own weight w_k = 1/g_k(p) (0 outside its range).
    /// </summary>
    double MapChannel(int channel, ReadOnlySpan<double> u, Span<FourVector> momenta);

    /// <summary>
    /// The inverse of <see cref="MapChannel"/>: the numbers <paramref name="u"/> (<see cref="ChannelDimensions"/>) from
    /// which channel <paramref name="channel"/> generates <paramref name="momenta"/>, and its weight w_k = 1/g_k(p) there;
    /// 0 (and <paramref name="u"/> unspecified) where the channel cannot reach them.
    /// </summary>
    double InverseChannel(int channel, ReadOnlySpan<FourVector> momenta, Span<double> u);

    /// <summary>The single-channel densities g_k(p) = 1/w_k in Φ_n of every channel (0 where p is out of its range).</summary>
    void ChannelDensities(ReadOnlySpan<FourVector> momenta, Span<double> densities);
}
