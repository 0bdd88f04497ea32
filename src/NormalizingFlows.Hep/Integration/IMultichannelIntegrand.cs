namespace NormalizingFlows.Hep.Integration;

/// <summary>
/// An integrand split into channels (multichannel phase space): channel k maps u ∈ [0, 1]^d to a point p with its own
/// weight w_k(u), and for every partition of unity α_k(p) (Σ_k α_k = 1, α_k = 0 where channel k cannot reach p)
/// ∫ f = Σ_k ∫ α_k(p(u)) f(p(u)) w_k(u) du. The mappings' own weights (the prior α, e.g. α_k ∝ 1/w_k) come with
/// every point, and so do features of p for a network that learns α (<see cref="MultichannelFlowIntegrator"/>).
/// </summary>
public interface IMultichannelIntegrand
{
    /// <summary>Short name.</summary>
    string Name { get; }

    /// <summary>The dimension d of each channel's hypercube.</summary>
    int Dimensions { get; }

    /// <summary>The number of channels K.</summary>
    int Channels { get; }

    /// <summary>The number of features of p handed to a channel-weight network.</summary>
    int Features { get; }

    /// <summary>The exact integral, when known.</summary>
    double? AnalyticValue { get; }

    /// <summary>
    /// For n points <paramref name="u"/> (row-major, n·d) of channel <paramref name="channel"/>: the single-channel
    /// integrand f(p(u)) w_k(u) (≥ 0, 0 outside the cuts) into <paramref name="values"/> (n), the prior channel
    /// weights α_j(p) (row-major n·K, summing to 1 where the value is positive) into <paramref name="priors"/> and the
    /// features of p (n·F) into <paramref name="features"/>.
    /// </summary>
    void Evaluate(int channel, ReadOnlySpan<double> u, Span<double> values, Span<double> priors, Span<double> features);

    /// <summary>
    /// For n points <paramref name="u"/> (row-major, n·d) of channel <paramref name="channel"/>: the numbers of the
    /// same points p(u) in every channel j (row-major n·K·d: point, then channel) into
    /// <paramref name="coordinates"/>, and channel j's weight w_j there (n·K; 0 where channel j cannot reach p) into
    /// <paramref name="weights"/>, so that channel densities q_j(p) = q(u_j | j)/w_j can be compared at one point
    /// (<see cref="MultichannelOptions.BalanceWeights"/>).
    /// </summary>
    void ChannelCoordinates(int channel, ReadOnlySpan<double> u, Span<double> coordinates, Span<double> weights);
}
