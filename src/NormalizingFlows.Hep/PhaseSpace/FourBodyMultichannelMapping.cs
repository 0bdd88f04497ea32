namespace NormalizingFlows.Hep.PhaseSpace;

/// <summary>
/// Massless four-body phase space from nested two-body decays, one channel per singular structure
/// (<see cref="FourBodyChannel"/>), for cuts y_ij = s_ij/s &gt; y_cut on all pairs. A channel reads eight numbers:
/// u₀, u₁ the production angles (cos θ = 2u − 1, φ = 2πu) of the first decay P → A + B in the centre-of-mass frame,
/// u₂, u₃ and u₄, u₅ those of the two later decays, each in its parent's rest frame measured from the parent's
/// flight direction, and u₆, u₇ the two invariants, each sampled as 1/s (log-uniform):
/// <list type="bullet">
/// <item>sequential ((i j) k) l: s_ijk ∈ [3y s, (1 − 3y) s] by u₆, then s_ij ∈ [y s, s_ijk − 2y s] by u₇;
/// dΦ₄ = dΦ₂(s; s_ijk, 0) ds_ijk/2π dΦ₂(s_ijk; s_ij, 0) ds_ij/2π dΦ₂(s_ij; 0, 0), so
/// w = (1 − s_ijk/s)(1 − s_ij/s_ijk) s_ijk L₆ s_ij L₇ / (2048π⁵) with L the logarithms of the ranges;</item>
/// <item>paired (i j)(k l): s_ij ∈ [y s, min(1 − 5y, (1 − √y)²) s] by u₆, then s_kl ∈ [y s, (√s − √s_ij)²] by u₇;
/// w = λ^½(s, s_ij, s_kl)/s · s_ij L₆ s_kl L₇ / (2048π⁵).</item>
/// </list>
/// Every channel covers every point that passes the cuts, so the multichannel weight w = 1/Σ_k α_k g_k (g_k = 1/w_k
/// of the generated momenta, 0 out of a channel's range) integrates any f exactly over the cut region. As an
/// <see cref="IPhaseSpaceMapping"/> the map reads a ninth number u₈ that picks the channel with probability α_k.
/// </summary>
public sealed class FourBodyMultichannelMapping : IMultichannelMapping
{
    readonly double _s, _low;
    readonly FourBodyChannel[] _channels;
    readonly double[] _weights;

    /// <summary>
    /// Creates the map at √s (GeV) for the cut <paramref name="yCut"/> ∈ (0, 1/6) with the given channels (each a
    /// permutation of 0–3) and prior weights α_k (default equal; positive, normalised here).
    /// </summary>
    public FourBodyMultichannelMapping(double sqrtS, double yCut, IReadOnlyList<FourBodyChannel> channels, IReadOnlyList<double>? weights = null)
    {
        if (!(sqrtS > 0) || double.IsInfinity(sqrtS)) throw new ArgumentOutOfRangeException(nameof(sqrtS), sqrtS, "√s must be positive and finite");
        if (!(yCut > 0 && yCut < 1.0 / 6)) throw new ArgumentOutOfRangeException(nameof(yCut), yCut, "y_cut must lie in (0, 1/6) for four partons");
        ArgumentNullException.ThrowIfNull(channels);
        if (channels.Count == 0) throw new ArgumentException("need at least one channel", nameof(channels));
        foreach (var c in channels)
            if (c is null || new[] { c.I, c.J, c.K, c.L }.OrderBy(i => i).SequenceEqual([0, 1, 2, 3]) is false)
                throw new ArgumentException($"channel {c} is not a permutation of the particles 0, 1, 2, 3", nameof(channels));
        weights ??= Enumerable.Repeat(1.0, channels.Count).ToArray();
        if (weights.Count != channels.Count) throw new ArgumentException($"{weights.Count} weights for {channels.Count} channels", nameof(weights));
        if (weights.Any(w => !(w > 0) || double.IsInfinity(w))) throw new ArgumentException("channel weights must be positive and finite", nameof(weights));
        SqrtS = sqrtS;
        YCut = yCut;
        _s = sqrtS * sqrtS;
        _low = yCut * _s;
        _channels = [.. channels];
        double sum = weights.Sum();
        _weights = [.. weights.Select(w => w / sum)];
    }

    /// <summary>
    /// The eight channels of e⁺e⁻ → q(0) q̄(1) g(2) g(3) for the colour orders q g₂ g₃ q̄ and q g₃ g₂ q̄: quark–gluon
    /// or antiquark–gluon then the other gluon (((0 2) 3) 1, ((0 3) 2) 1, ((1 2) 3) 0, ((1 3) 2) 0), gluon–gluon then
    /// the quark or the antiquark (((2 3) 0) 1, ((2 3) 1) 0), and the two dipole pairs (0 2)(1 3), (0 3)(1 2); equal
    /// prior weights.
    /// </summary>
    public static FourBodyMultichannelMapping ForQqgg(double sqrtS, double yCut) => new(sqrtS, yCut,
    [
        new(0, 2, 3, 1), new(0, 3, 2, 1), new(1, 2, 3, 0), new(1, 3, 2, 0),
        new(2, 3, 0, 1), new(2, 3, 1, 0), new(0, 2, 1, 3, Paired: true), new(0, 3, 1, 2, Paired: true),
    ]);

    /// <inheritdoc/>
    public int Dimensions => 9;

    /// <inheritdoc/>
    public int Particles => 4;

    /// <inheritdoc/>
    public double SqrtS { get; }

    /// <summary>The cut y_cut the ranges are made for.</summary>
    public double YCut { get; }

    /// <inheritdoc/>
    public int Channels => _channels.Length;

    /// <inheritdoc/>
    public int ChannelDimensions => 8;

    /// <summary>The channels, in order.</summary>
    public IReadOnlyList<FourBodyChannel> ChannelTopologies => _channels;

    /// <inheritdoc/>
    public IReadOnlyList<double> ChannelWeights => _weights;

    /// <summary>All six pairs: (0, 2), (0, 3), (1, 2), (1, 3), (2, 3), (0, 1).</summary>
    public IReadOnlyList<(int I, int J)> FeaturePairs { get; } = [(0, 2), (0, 3), (1, 2), (1, 3), (2, 3), (0, 1)];

    /// <inheritdoc/>
    public double Map(ReadOnlySpan<double> u, Span<FourVector> momenta)
    {
        PhaseSpaceVolume.CheckArguments(this, u, momenta);
        int k = 0;
        for (double acc = _weights[0]; k < _channels.Length - 1 && u[8] >= acc; acc += _weights[++k]) { }
        MapMomenta(_channels[k], u[..8], momenta);
        return Weight(momenta);
    }

    /// <summary>The multichannel weight 1/Σ_k α_k g_k(p) of four momenta; 0 where no channel reaches them.</summary>
    public double Weight(ReadOnlySpan<FourVector> momenta)
    {
        if (momenta.Length != 4) throw new ArgumentException($"need 4 momenta, got {momenta.Length}", nameof(momenta));
        double density = 0;
        for (int k = 0; k < _channels.Length; k++) density += _weights[k] * Density(_channels[k], momenta);
        return density > 0 ? 1.0 / density : 0.0;
    }

    /// <inheritdoc/>
    public double MapChannel(int channel, ReadOnlySpan<double> u, Span<FourVector> momenta)
    {
        if (channel < 0 || channel >= _channels.Length) throw new ArgumentOutOfRangeException(nameof(channel), channel, $"the mapping has channels 0 to {_channels.Length - 1}");
        if (u.Length != 8) throw new ArgumentException($"a single channel reads 8 variables, got {u.Length}", nameof(u));
        if (momenta.Length != 4) throw new ArgumentException($"need room for 4 momenta, got {momenta.Length}", nameof(momenta));
        MapMomenta(_channels[channel], u, momenta);
        double g = Density(_channels[channel], momenta);
        return g > 0 ? 1.0 / g : 0.0;
    }

    /// <inheritdoc/>
    public double InverseChannel(int channel, ReadOnlySpan<FourVector> momenta, Span<double> u)
    {
        if (channel < 0 || channel >= _channels.Length) throw new ArgumentOutOfRangeException(nameof(channel), channel, $"the mapping has channels 0 to {_channels.Length - 1}");
        if (u.Length != 8) throw new ArgumentException($"a single channel has 8 variables, got room for {u.Length}", nameof(u));
        if (momenta.Length != 4) throw new ArgumentException($"need 4 momenta, got {momenta.Length}", nameof(momenta));
        var c = _channels[channel];
        double g = Density(c, momenta);
        if (!(g > 0)) return 0.0;
        var p = momenta;
        var total = new FourVector(SqrtS, 0, 0, 0);
        double sij = 2 * FourVector.Dot(p[c.I], p[c.J]);
        var a = p[c.I] + p[c.J];
        if (c.Paired)
        {
            var b = p[c.K] + p[c.L];
            double skl = 2 * FourVector.Dot(p[c.K], p[c.L]);
            (u[0], u[1]) = TwoBodyDecay.Angles(total, a);
            (u[2], u[3]) = TwoBodyDecay.Angles(a, p[c.I]);
            (u[4], u[5]) = TwoBodyDecay.Angles(b, p[c.K]);
            u[6] = InverseLogUniform(_low, PairedUpper, sij);
            u[7] = InverseLogUniform(_low, Math.Pow(SqrtS - Math.Sqrt(sij), 2), skl);
        }
        else
        {
            var r = a + p[c.K];
            double sijk = sij + 2 * FourVector.Dot(p[c.I], p[c.K]) + 2 * FourVector.Dot(p[c.J], p[c.K]);
            (u[0], u[1]) = TwoBodyDecay.Angles(total, r);
            (u[2], u[3]) = TwoBodyDecay.Angles(r, a);
            (u[4], u[5]) = TwoBodyDecay.Angles(a, p[c.I]);
            u[6] = InverseLogUniform(3 * _low, _s - 3 * _low, sijk);
            u[7] = InverseLogUniform(_low, sijk - 2 * _low, sij);
        }
        return 1.0 / g;
    }

    /// <inheritdoc/>
    public void ChannelDensities(ReadOnlySpan<FourVector> momenta, Span<double> densities)
    {
        if (momenta.Length != 4) throw new ArgumentException($"need 4 momenta, got {momenta.Length}", nameof(momenta));
        if (densities.Length != _channels.Length) throw new ArgumentException($"need room for {_channels.Length} densities, got {densities.Length}", nameof(densities));
        for (int k = 0; k < _channels.Length; k++) densities[k] = Density(_channels[k], momenta);
    }

    void MapMomenta(FourBodyChannel c, ReadOnlySpan<double> u, Span<FourVector> p)
    {
        var total = new FourVector(SqrtS, 0, 0, 0);
        if (c.Paired)
        {
            double m1 = LogUniform(_low, PairedUpper, u[6]);
            double m2 = LogUniform(_low, Math.Pow(SqrtS - Math.Sqrt(m1), 2), u[7]);
            var (a, b) = TwoBodyDecay.Daughters(total, _s, m1, m2, u[0], u[1]);
            (p[c.I], p[c.J]) = TwoBodyDecay.Daughters(a, m1, 0, 0, u[2], u[3]);
            (p[c.K], p[c.L]) = TwoBodyDecay.Daughters(b, m2, 0, 0, u[4], u[5]);
        }
        else
        {
            double big = LogUniform(3 * _low, _s - 3 * _low, u[6]);
            double small = LogUniform(_low, big - 2 * _low, u[7]);
            var (r, l) = TwoBodyDecay.Daughters(total, _s, big, 0, u[0], u[1]);
            var (q, k) = TwoBodyDecay.Daughters(r, big, small, 0, u[2], u[3]);
            (p[c.I], p[c.J]) = TwoBodyDecay.Daughters(q, small, 0, 0, u[4], u[5]);
            p[c.K] = k;
            p[c.L] = l;
        }
    }

    double PairedUpper => Math.Min(_s - 5 * _low, Math.Pow(SqrtS - Math.Sqrt(_low), 2));

    /// <summary>g_c(p) = 1/w_c from the channel's invariants; 0 out of its range.</summary>
    double Density(FourBodyChannel c, ReadOnlySpan<FourVector> p)
    {
        const double norm = 2048 * Math.PI * Math.PI * Math.PI * Math.PI * Math.PI;
        double sij = 2 * FourVector.Dot(p[c.I], p[c.J]);
        double w;
        if (c.Paired)
        {
            double skl = 2 * FourVector.Dot(p[c.K], p[c.L]);
            double hi1 = PairedUpper;
            if (!(sij >= _low && sij <= hi1)) return 0.0;
            double hi2 = Math.Pow(SqrtS - Math.Sqrt(sij), 2);
            if (!(skl >= _low && skl <= hi2)) return 0.0;
            double lambda = (_s - sij - skl) * (_s - sij - skl) - 4 * sij * skl;
            w = Math.Sqrt(Math.Max(lambda, 0)) / _s * sij * Math.Log(hi1 / _low) * skl * Math.Log(hi2 / _low) / norm;
        }
        else
        {
            double sijk = sij + 2 * FourVector.Dot(p[c.I], p[c.K]) + 2 * FourVector.Dot(p[c.J], p[c.K]);
            if (!(sijk >= 3 * _low && sijk <= _s - 3 * _low)) return 0.0;
            double hi = sijk - 2 * _low;
            if (!(sij >= _low && sij <= hi)) return 0.0;
            w = (1 - sijk / _s) * (1 - sij / sijk) * sijk * Math.Log((_s - 3 * _low) / (3 * _low)) * sij * Math.Log(hi / _low) / norm;
        }
        return w > 0 ? 1.0 / w : 0.0;
    }

    /// <summary>lo (hi/lo)^u: the 1/s sampling of an invariant.</summary>
    static double LogUniform(double lo, double hi, double u) => lo * Math.Exp(Math.Log(hi / lo) * Math.Clamp(u, 0.0, 1.0));

    /// <summary>u = ln(x/lo)/ln(hi/lo), the inverse of <see cref="LogUniform"/>, clamped to [0, 1].</summary>
    static double InverseLogUniform(double lo, double hi, double x) => Math.Clamp(Math.Log(x / lo) / Math.Log(hi / lo), 0.0, 1.0);
}
