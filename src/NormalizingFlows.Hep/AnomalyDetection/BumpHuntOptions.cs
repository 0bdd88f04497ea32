namespace NormalizingFlows.Hep.AnomalyDetection;

/// <summary>
/// Settings of the synthetic LHC-Olympics-like dijet sample (<see cref="BumpHuntGenerator"/>). Masses in TeV. The
/// defaults follow the LHCO R&amp;D set: 10⁶ background events, 1000 signal events (W' → X Y, m_W' = 3.5, m_X = 0.5,
/// m_Y = 0.1 TeV), signal region 3.3–3.7 TeV.
/// </summary>
public sealed record BumpHuntOptions
{
    /// <summary>QCD-like background events over the whole m_jj range.</summary>
    public int BackgroundEvents { get; init; } = 1_000_000;

    /// <summary>Injected signal events (before any cut; about 77 % fall into the default signal region). 0 for a signal-free sample.</summary>
    public int SignalEvents { get; init; } = 1000;

    /// <summary>Collider energy √s in TeV (the dijet function's x = m_jj/√s).</summary>
    public double SqrtS { get; init; } = 13.0;

    /// <summary>Lower end of the generated m_jj range (TeV).</summary>
    public double MjjMin { get; init; } = 2.6;

    /// <summary>Upper end of the generated m_jj range (TeV).</summary>
    public double MjjMax { get; init; } = 6.5;

    /// <summary>Dijet-function exponent p₁ of (1 − x)^p₁.</summary>
    public double P1 { get; init; } = 10.0;

    /// <summary>Dijet-function exponent p₂ of x^−(p₂ + p₃ ln x).</summary>
    public double P2 { get; init; } = 5.0;

    /// <summary>Dijet-function coefficient p₃ of x^−(p₂ + p₃ ln x).</summary>
    public double P3 { get; init; }

    /// <summary>Lower edge of the signal region (TeV).</summary>
    public double SignalRegionLow { get; init; } = 3.3;

    /// <summary>Upper edge of the signal region (TeV).</summary>
    public double SignalRegionHigh { get; init; } = 3.7;

    /// <summary>Resonance mass m_W' (TeV).</summary>
    public double ResonanceMass { get; init; } = 3.5;

    /// <summary>Mass of the heavier daughter X (TeV).</summary>
    public double MassX { get; init; } = 0.5;

    /// <summary>Mass of the lighter daughter Y (TeV).</summary>
    public double MassY { get; init; } = 0.1;

    /// <summary>Relative Gaussian resolution of the reconstructed m_jj of signal events (0.047: 77 % inside 3.3–3.7 TeV).</summary>
    public double MjjResolution { get; init; } = 0.047;

    /// <summary>Relative Gaussian resolution of the reconstructed jet masses of signal jets.</summary>
    public double JetMassResolution { get; init; } = 0.12;

    /// <summary>Probability that a signal jet loses part of its mass (out-of-cone radiation): its mass is scaled by U(0.6, 1).</summary>
    public double JetMassTailFraction { get; init; } = 0.2;

    /// <summary>Mean τ21 of the two-prong signal jets (Beta-distributed; QCD jets sit near 0.68).</summary>
    public double SignalTau21Mean { get; init; } = 0.45;

    /// <summary>Median QCD jet mass as a fraction of m_jj (jet mass grows with jet p_T ≈ m_jj/2).</summary>
    public double QcdJetMassFraction { get; init; } = 0.025;

    /// <summary>Width of log(QCD jet mass) around its median.</summary>
    public double QcdJetMassLogWidth { get; init; } = 0.7;

    /// <summary>Throws an <see cref="ArgumentException"/> naming the first invalid setting.</summary>
    public void Validate()
    {
        if (BackgroundEvents < 0) throw new ArgumentException($"BackgroundEvents must be ≥ 0, got {BackgroundEvents}");
        if (SignalEvents < 0) throw new ArgumentException($"SignalEvents must be ≥ 0, got {SignalEvents}");
        if (!(SqrtS > 0)) throw new ArgumentException($"SqrtS must be > 0, got {SqrtS}");
        if (!(MjjMin > 0 && MjjMax > MjjMin && MjjMax < SqrtS)) throw new ArgumentException($"need 0 < MjjMin < MjjMax < SqrtS, got {MjjMin}, {MjjMax}, {SqrtS}");
        if (!(SignalRegionLow > MjjMin && SignalRegionHigh > SignalRegionLow && SignalRegionHigh < MjjMax))
            throw new ArgumentException($"the signal region [{SignalRegionLow}, {SignalRegionHigh}] must lie strictly inside the m_jj range [{MjjMin}, {MjjMax}] (sidebands on both sides)");
        if (!(ResonanceMass > 0 && MassX > 0 && MassY > 0 && MassX + MassY < ResonanceMass)) throw new ArgumentException("need positive masses with MassX + MassY < ResonanceMass");
        if (!(MjjResolution > 0 && JetMassResolution > 0)) throw new ArgumentException("resolutions must be > 0");
        if (!(SignalTau21Mean > 0 && SignalTau21Mean < 1)) throw new ArgumentException($"SignalTau21Mean must lie in (0, 1), got {SignalTau21Mean}");
        if (!(JetMassTailFraction >= 0 && JetMassTailFraction <= 1)) throw new ArgumentException($"JetMassTailFraction must lie in [0, 1], got {JetMassTailFraction}");
        if (!(QcdJetMassFraction > 0 && QcdJetMassLogWidth > 0)) throw new ArgumentException("QcdJetMassFraction and QcdJetMassLogWidth must be > 0");
    }
}
