namespace NormalizingFlows.Hep.PhaseSpace;

/// <summary>
/// Massless three-body phase space for a fermion pair plus a vector (q q̄ g) from six numbers, with a channel
/// for each of the two propagators 1/s₁₃ and 1/s₂₃ (particles: 0 = fermion p₁, 1 = antifermion p₂, 2 = boson p₃):
/// <list type="number">
/// <item>u₀: cos θ = 2u₀ − 1 of the decaying (off-shell) fermion with the e⁻ beam (+z),</item>
/// <item>u₁: its azimuth φ = 2πu₁,</item>
/// <item>u₂: cos θ* = 2u₂ − 1 of the decay fermion in the decaying fermion's rest frame, measured from its flight
/// direction (helicity frame),</item>
/// <item>u₃: the decay azimuth φ* = 2πu₃ around the flight direction,</item>
/// <item>u₄: the propagator virtuality m² = s_min (s_max/s_min)^u₄, importance-sampled as 1/m²,</item>
/// <item>u₅: the channel: u₅ &lt; α₀ picks channel 0 (1* → 1 + 3, virtuality s₁₃), otherwise channel 1
/// (2* → 2 + 3, virtuality s₂₃).</item>
/// </list>
/// dΦ₃ = dΦ₂(s; m², 0) dm²/(2π) dΦ₂(m²; 0, 0), so channel k alone has weight
/// w_k = (1 − s_k/s) s_k ln(s_max/s_min) / (128π³). The returned weight is the multichannel one,
/// w = 1 / (α₀/w₀(p) + α₁/w₁(p)) with both w_k evaluated at the generated momenta (1/w_k = 0 when s_k lies outside
/// [s_min, s_max]); this makes ∫ f(p(u)) w(u) du = ∫ f dΦ₃ over the region where s₁₃ or s₂₃ is in range
/// (with s_min = y_cut·s and s_max = (1 − 2y_cut)·s this contains every point that passes y_ij &gt; y_cut).
/// </summary>
public sealed class ThreeBodyMultichannelMapping : IMultichannelMapping
{
    readonly double _s, _logRange;
    readonly double[] _weights;

    /// <summary>
    /// Creates the map at centre-of-mass energy √s with propagator virtualities sampled in
    /// [<paramref name="sMin"/>, <paramref name="sMax"/>] (GeV², 0 &lt; sMin &lt; sMax ≤ s) and channel 0 chosen
    /// with probability <paramref name="channel0Weight"/> (α₀; α₁ = 1 − α₀).
    /// </summary>
    public ThreeBodyMultichannelMapping(double sqrtS, double sMin, double sMax, double channel0Weight = 0.5)
    {
        if (!(sqrtS > 0) || double.IsInfinity(sqrtS)) throw new ArgumentOutOfRangeException(nameof(sqrtS), sqrtS, "√s must be positive and finite");
        _s = sqrtS * sqrtS;
        if (!(sMin > 0)) throw new ArgumentOutOfRangeException(nameof(sMin), sMin, "the lowest virtuality must be positive (the 1/m² sampling needs a cut-off)");
        if (!(sMax > sMin) || sMax > _s * (1 + 1e-12))
            throw new ArgumentOutOfRangeException(nameof(sMax), sMax, $"need sMin < sMax ≤ s = {_s} (sMin = {sMin})");
        if (!(channel0Weight > 0 && channel0Weight < 1))
            throw new ArgumentOutOfRangeException(nameof(channel0Weight), channel0Weight, "channel weight must lie in (0, 1)");
        SqrtS = sqrtS;
        SMin = sMin;
        SMax = Math.Min(sMax, _s);
        Channel0Weight = channel0Weight;
        _weights = [channel0Weight, 1 - channel0Weight];
        _logRange = Math.Log(SMax / SMin);
    }

    /// <summary>
    /// The map suited to the cuts y_ij = s_ij/s &gt; <paramref name="yCut"/>: virtualities in [y_cut s, (1 − 2y_cut) s].
    /// </summary>
    public static ThreeBodyMultichannelMapping ForCut(double sqrtS, double yCut)
    {
        if (!(yCut > 0 && yCut < 1.0 / 3)) throw new ArgumentOutOfRangeException(nameof(yCut), yCut, "y_cut must lie in (0, 1/3)");
        double s = sqrtS * sqrtS;
        return new ThreeBodyMultichannelMapping(sqrtS, yCut * s, (1 - 2 * yCut) * s);
    }

    /// <inheritdoc/>
    public int Dimensions => 6;

    /// <inheritdoc/>
    public int Particles => 3;

    /// <inheritdoc/>
    public double SqrtS { get; }

    /// <summary>Lowest sampled propagator virtuality (GeV²).</summary>
    public double SMin { get; }

    /// <summary>Highest sampled propagator virtuality (GeV²).</summary>
    public double SMax { get; }

    /// <summary>α₀, the probability of channel 0 (virtuality s₁₃).</summary>
    public double Channel0Weight { get; }

    /// <inheritdoc/>
    public int Channels => 2;

    /// <inheritdoc/>
    public int ChannelDimensions => 5;

    /// <inheritdoc/>
    public IReadOnlyList<double> ChannelWeights => _weights;

    /// <summary>(0, 2), (1, 2), (0, 1): the features ln y₁₃, ln y₂₃, ln y₁₂.</summary>
    public IReadOnlyList<(int I, int J)> FeaturePairs { get; } = [(0, 2), (1, 2), (0, 1)];

    /// <summary>The channel (0: s₁₃, 1: s₂₃) that the channel coordinate u₅ selects.</summary>
    public int Channel(double u5) => u5 < Channel0Weight ? 0 : 1;

    /// <inheritdoc/>
    public double Map(ReadOnlySpan<double> u, Span<FourVector> momenta)
    {
        PhaseSpaceVolume.CheckArguments(this, u, momenta);
        MapMomenta(Channel(u[5]), u, momenta);
        return Weight(momenta);
    }

    /// <summary>
    /// Channel <paramref name="channel"/> alone (0: s₁₃, 1: s₂₃) from the five decay-chain variables u₀…u₄
    /// (<paramref name="u"/>, length 5): writes the momenta and returns that channel's own weight w_k = 1/g_k(p)
    /// (0 when its virtuality lies outside [s_min, s_max]), for multichannel integrators that sample each channel
    /// separately and weigh it with channel weights of their own.
    /// </summary>
    public double MapChannel(int channel, ReadOnlySpan<double> u, Span<FourVector> momenta)
    {
        if (channel is not (0 or 1)) throw new ArgumentOutOfRangeException(nameof(channel), channel, "the three-body mapping has channels 0 (s13) and 1 (s23)");
        if (u.Length != 5) throw new ArgumentException($"a single channel reads 5 variables, got {u.Length}", nameof(u));
        if (momenta.Length != 3) throw new ArgumentException($"need room for 3 momenta, got {momenta.Length}", nameof(momenta));
        MapMomenta(channel, u, momenta);
        double g = ChannelDensity(2 * FourVector.Dot(momenta[channel], momenta[2]));
        return g > 0 ? 1.0 / g : 0.0;
    }

    /// <summary>
    /// The single-channel densities g_k(p) = 1/w_k in Φ₃ of both channels for three momenta (q, q̄, g), into
    /// <paramref name="densities"/> (length 2; 0 where the channel's virtuality is out of range).
    /// </summary>
    public void ChannelDensities(ReadOnlySpan<FourVector> momenta, Span<double> densities)
    {
        if (momenta.Length != 3) throw new ArgumentException($"need 3 momenta, got {momenta.Length}", nameof(momenta));
        if (densities.Length != 2) throw new ArgumentException($"need room for 2 densities, got {densities.Length}", nameof(densities));
        densities[0] = ChannelDensity(2 * FourVector.Dot(momenta[0], momenta[2]));
        densities[1] = ChannelDensity(2 * FourVector.Dot(momenta[1], momenta[2]));
    }

    /// <inheritdoc/>
    public double InverseChannel(int channel, ReadOnlySpan<FourVector> momenta, Span<double> u)
    {
        if (channel is not (0 or 1)) throw new ArgumentOutOfRangeException(nameof(channel), channel, "the three-body mapping has channels 0 (s13) and 1 (s23)");
        if (u.Length != 5) throw new ArgumentException($"a single channel has 5 variables, got room for {u.Length}", nameof(u));
        if (momenta.Length != 3) throw new ArgumentException($"need 3 momenta, got {momenta.Length}", nameof(momenta));
        double sk = 2 * FourVector.Dot(momenta[channel], momenta[2]);
        double g = ChannelDensity(sk);
        if (!(g > 0)) return 0.0;
        var decaying = momenta[channel] + momenta[2];
        (u[0], u[1]) = TwoBodyDecay.Angles(new FourVector(SqrtS, 0, 0, 0), decaying);
        (u[2], u[3]) = TwoBodyDecay.Angles(decaying, momenta[channel]);
        u[4] = Math.Clamp(Math.Log(sk / SMin) / _logRange, 0.0, 1.0);
        return 1.0 / g;
    }

    /// <summary>The momenta of channel <paramref name="channel"/> from u₀…u₄.</summary>
    void MapMomenta(int channel, ReadOnlySpan<double> u, Span<FourVector> momenta)
    {
        double m2 = SMin * Math.Exp(_logRange * Math.Clamp(u[4], 0.0, 1.0));
        double sqrtS = SqrtS;
        // Production: e⁺e⁻ → F*(m²) + f̄ with F* at (cos θ, φ).
        double pAbs = (_s - m2) / (2 * sqrtS);
        double cosTheta = Math.Clamp(2 * u[0] - 1, -1.0, 1.0), phi = 2 * Math.PI * u[1];
        var decaying = FourVector.FromPolar((_s + m2) / (2 * sqrtS), pAbs, cosTheta, phi);
        var recoil = new FourVector(pAbs, -decaying.Px, -decaying.Py, -decaying.Pz);
        // Decay F* → f + g in the F* rest frame, angles measured from the F* flight direction.
        double m = Math.Sqrt(m2), half = m / 2;
        var inRest = FourVector.FromPolar(half, half, Math.Clamp(2 * u[2] - 1, -1.0, 1.0), 2 * Math.PI * u[3]);
        var fermionRest = inRest.RotatedToDirection(cosTheta, phi);
        var fermion = fermionRest.BoostedFromRestFrameOf(decaying);
        var boson = fermionRest.Reflected.BoostedFromRestFrameOf(decaying);
        if (channel == 0) { momenta[0] = fermion; momenta[1] = recoil; }
        else { momenta[1] = fermion; momenta[0] = recoil; }
        momenta[2] = boson;
    }

    /// <summary>
    /// The multichannel weight 1/Σ_k α_k g_k(p) for three massless momenta (q, q̄, g) summing to (√s, 0⃗), where
    /// g_k = 1/w_k is channel k's density in Φ₃; 0 when neither virtuality lies in [s_min, s_max].
    /// </summary>
    public double Weight(ReadOnlySpan<FourVector> momenta)
    {
        if (momenta.Length != 3) throw new ArgumentException($"need 3 momenta, got {momenta.Length}", nameof(momenta));
        double s13 = 2 * FourVector.Dot(momenta[0], momenta[2]);
        double s23 = 2 * FourVector.Dot(momenta[1], momenta[2]);
        double density = Channel0Weight * ChannelDensity(s13) + (1 - Channel0Weight) * ChannelDensity(s23);
        return density > 0 ? 1.0 / density : 0.0;
    }

    /// <summary>g_k = 1/w_k: the density in Φ₃ of a single channel whose propagator virtuality is <paramref name="sk"/>.</summary>
    double ChannelDensity(double sk)
    {
        if (!(sk >= SMin && sk <= SMax)) return 0.0;
        double w = (1 - sk / _s) * sk * _logRange / (128 * Math.PI * Math.PI * Math.PI);
        return w > 0 ? 1.0 / w : 0.0;
    }
}
