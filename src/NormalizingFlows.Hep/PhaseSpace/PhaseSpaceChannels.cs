using NormalizingFlows.Hep.Integration;

namespace NormalizingFlows.Hep.PhaseSpace;

/// <summary>
/// A process on a multichannel mapping (<see cref="IMultichannelMapping"/>) as an integrand for
/// <see cref="MultichannelFlowIntegrator"/>: channel k samples the mapping's <see cref="IMultichannelMapping.MapChannel"/>
/// variables with its own weight w_k; the prior channel weights are the mapping's, α_k ∝ α_k⁰ g_k(p); the features of p
/// for a channel-weight network are ln y_ij (y_ij = s_ij/s) of the mapping's <see cref="IMultichannelMapping.FeaturePairs"/>.
/// When every channel covers every point that passes the cuts (as for the three- and four-body mappings here),
/// Σ_k ∫ α_k F_k = σ for any α and after dropping channels.
/// </summary>
public class PhaseSpaceChannels : IMultichannelIntegrand
{
    private readonly IMultichannelMapping _mapping;

    /// <summary>Wraps <paramref name="process"/>, whose mapping must be an <see cref="IMultichannelMapping"/>.</summary>
    public PhaseSpaceChannels(PhaseSpaceProcess process)
    {
        Process = process ?? throw new ArgumentNullException(nameof(process));
        _mapping = process.Mapping as IMultichannelMapping
            ?? throw new ArgumentException($"the multichannel integrand needs a multichannel mapping; {process.Name} uses {process.Mapping.GetType().Name}", nameof(process));
    }

    /// <summary>The process.</summary>
    public PhaseSpaceProcess Process { get; }

    /// <inheritdoc/>
    public string Name => Process.Name;

    /// <inheritdoc/>
    public int Dimensions => _mapping.ChannelDimensions;

    /// <inheritdoc/>
    public int Channels => _mapping.Channels;

    /// <inheritdoc/>
    public int Features => _mapping.FeaturePairs.Count;

    /// <inheritdoc/>
    public double? AnalyticValue => Process.AnalyticValue;

    /// <inheritdoc/>
    public void Evaluate(int channel, ReadOnlySpan<double> u, Span<double> values, Span<double> priors, Span<double> features)
    {
        int n = values.Length, d = Dimensions, k = Channels, f = Features;
        if (u.Length != d * n) throw new ArgumentException($"u has {u.Length} values for {n} points of {d} dimensions", nameof(u));
        if (priors.Length != k * n) throw new ArgumentException($"priors has room for {priors.Length} values, need {k * n}", nameof(priors));
        if (features.Length != f * n) throw new ArgumentException($"features has room for {features.Length} values, need {f * n}", nameof(features));
        Span<FourVector> p = stackalloc FourVector[_mapping.Particles];
        Span<double> g = stackalloc double[k];
        var alpha0 = _mapping.ChannelWeights;
        var pairs = _mapping.FeaturePairs;
        double s = Process.S;
        for (int i = 0; i < n; i++)
        {
            double w = _mapping.MapChannel(channel, u.Slice(d * i, d), p);
            _mapping.ChannelDensities(p, g);
            double norm = 0;
            for (int c = 0; c < k; c++) norm += alpha0[c] * g[c];
            for (int c = 0; c < k; c++) priors[k * i + c] = norm > 0 ? alpha0[c] * g[c] / norm : 0;
            for (int j = 0; j < f; j++)
                features[f * i + j] = Math.Log(Math.Max(2 * FourVector.Dot(p[pairs[j].I], p[pairs[j].J]) / s, 1e-12));
            values[i] = Process.Value(p, w);
        }
    }

    /// <inheritdoc/>
    public void ChannelCoordinates(int channel, ReadOnlySpan<double> u, Span<double> coordinates, Span<double> weights)
    {
        int d = Dimensions, k = Channels, n = u.Length / d;
        if (u.Length != d * n) throw new ArgumentException($"u has {u.Length} values, not a multiple of {d} dimensions", nameof(u));
        if (coordinates.Length != n * k * d) throw new ArgumentException($"coordinates has room for {coordinates.Length} values, need {n * k * d}", nameof(coordinates));
        if (weights.Length != n * k) throw new ArgumentException($"weights has room for {weights.Length} values, need {n * k}", nameof(weights));
        Span<FourVector> p = stackalloc FourVector[_mapping.Particles];
        for (int i = 0; i < n; i++)
        {
            var ui = u.Slice(d * i, d);
            double own = _mapping.MapChannel(channel, ui, p);
            for (int j = 0; j < k; j++)
            {
                var target = coordinates.Slice((i * k + j) * d, d);
                // the point's own channel keeps its exact numbers; the others come from the inverse map
                if (j == channel) { ui.CopyTo(target); weights[i * k + j] = own; }
                else weights[i * k + j] = _mapping.InverseChannel(j, p, target);
            }
        }
    }
}
