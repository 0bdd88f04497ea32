using NormalizingFlows.Hep.Integration;

namespace NormalizingFlows.Hep.PhaseSpace;

/// <summary>
/// e⁺e⁻ → q q̄ g (<see cref="EeToQqgProcess"/>) as a two-channel integrand for <see cref="MultichannelFlowIntegrator"/>:
/// channel k samples the five decay-chain variables of <see cref="ThreeBodyMultichannelMapping.MapChannel"/> (channel 0:
/// the 1/s₁₃ propagator, channel 1: 1/s₂₃) with its own weight w_k; the prior channel weights are the mapping's,
/// α_k ∝ α_k⁰ g_k(p); the features of p for a channel-weight network are ln y₁₃, ln y₂₃, ln y₁₂ (y_ij = s_ij/s).
/// Both channels cover every point that passes the cuts, so Σ_k ∫ α_k F_k = σ for any α and after dropping a channel.
/// </summary>
public sealed class EeToQqgChannels : IMultichannelIntegrand
{
    private readonly ThreeBodyMultichannelMapping _mapping;
    private readonly double _flux;

    /// <summary>Wraps <paramref name="process"/>, which must use the decay-chain mapping (<see cref="PhaseSpaceMappingKind.Angles"/>).</summary>
    public EeToQqgChannels(EeToQqgProcess process)
    {
        Process = process ?? throw new ArgumentNullException(nameof(process));
        _mapping = process.Mapping as ThreeBodyMultichannelMapping
            ?? throw new ArgumentException($"the multichannel integrand needs the decay-chain mapping, not {process.MappingKind}", nameof(process));
        _flux = StandardModelParameters.GeVm2ToPicobarn / (2 * process.S);
    }

    /// <summary>The process.</summary>
    public EeToQqgProcess Process { get; }

    /// <inheritdoc/>
    public string Name => Process.Name;

    /// <inheritdoc/>
    public int Dimensions => 5;

    /// <inheritdoc/>
    public int Channels => 2;

    /// <inheritdoc/>
    public int Features => 3;

    /// <inheritdoc/>
    public double? AnalyticValue => Process.AnalyticValue;

    /// <inheritdoc/>
    public void Evaluate(int channel, ReadOnlySpan<double> u, Span<double> values, Span<double> priors, Span<double> features)
    {
        int n = values.Length;
        if (u.Length != 5 * n) throw new ArgumentException($"u has {u.Length} values for {n} points of 5 dimensions", nameof(u));
        if (priors.Length != 2 * n) throw new ArgumentException($"priors has room for {priors.Length} values, need {2 * n}", nameof(priors));
        if (features.Length != 3 * n) throw new ArgumentException($"features has room for {features.Length} values, need {3 * n}", nameof(features));
        Span<FourVector> p = stackalloc FourVector[3];
        Span<double> g = stackalloc double[2];
        double a0 = _mapping.Channel0Weight, s = Process.S;
        for (int i = 0; i < n; i++)
        {
            double w = _mapping.MapChannel(channel, u.Slice(5 * i, 5), p);
            _mapping.ChannelDensities(p, g);
            double norm = a0 * g[0] + (1 - a0) * g[1];
            priors[2 * i] = norm > 0 ? a0 * g[0] / norm : 0;
            priors[2 * i + 1] = norm > 0 ? (1 - a0) * g[1] / norm : 0;
            features[3 * i] = Math.Log(Math.Max(2 * FourVector.Dot(p[0], p[2]) / s, 1e-12));
            features[3 * i + 1] = Math.Log(Math.Max(2 * FourVector.Dot(p[1], p[2]) / s, 1e-12));
            features[3 * i + 2] = Math.Log(Math.Max(2 * FourVector.Dot(p[0], p[1]) / s, 1e-12));
            double v = w > 0 && Process.PassesCuts(p) ? Process.SquaredAmplitude(p) * w * _flux : 0;
            values[i] = double.IsFinite(v) && v > 0 ? v : 0;
        }
    }
}
