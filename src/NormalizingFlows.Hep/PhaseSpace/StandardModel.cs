using System.Numerics;

namespace NormalizingFlows.Hep.PhaseSpace;

/// <summary>
/// The electroweak and strong parameters of the tree-level matrix elements. Defaults: M_Z = 91.1876 GeV,
/// Γ_Z = 2.4952 GeV (fixed-width Breit–Wigner), sin²θ_W = 0.2312, α(M_Z) = 1/128.9, α_s(M_Z) = 0.118 (PDG values).
/// </summary>
public sealed record StandardModelParameters
{
    /// <summary>The PDG default parameter set.</summary>
    public static StandardModelParameters Default { get; } = new();

    /// <summary>Z boson mass in GeV.</summary>
    public double ZMass { get; init; } = 91.1876;

    /// <summary>Z boson total width in GeV (fixed width in the propagator 1/(s − M² + iMΓ)).</summary>
    public double ZWidth { get; init; } = 2.4952;

    /// <summary>sin²θ_W (effective weak mixing angle).</summary>
    public double SinSquaredThetaW { get; init; } = 0.2312;

    /// <summary>Electromagnetic coupling α at the Z mass.</summary>
    public double AlphaQed { get; init; } = 1.0 / 128.9;

    /// <summary>Strong coupling α_s at the Z mass (fixed, no running).</summary>
    public double AlphaS { get; init; } = 0.118;

    /// <summary>Conversion of a cross section from GeV⁻² to picobarn: (ħc)² = 0.3893794 × 10⁹ GeV² pb.</summary>
    public const double GeVm2ToPicobarn = 0.3893794e9;

    /// <summary>The colour factor C_F = 4/3 of SU(3).</summary>
    public const double CF = 4.0 / 3.0;

    /// <summary>
    /// χ(s) = s / ((s − M_Z² + i M_Z Γ_Z) sin²θ_W cos²θ_W): the Z propagator relative to the photon's,
    /// including the coupling normalisation of <see cref="Fermion.LeftCoupling"/>.
    /// </summary>
    public Complex Chi(double s)
    {
        double sw2 = SinSquaredThetaW;
        return s / (new Complex(s - ZMass * ZMass, ZMass * ZWidth) * (sw2 * (1 - sw2)));
    }

    /// <summary>Throws <see cref="ArgumentException"/> if a parameter is not a finite positive number (sin²θ_W in (0, 1)).</summary>
    public void Validate()
    {
        static void Positive(double v, string name)
        {
            if (!(v > 0) || double.IsInfinity(v)) throw new ArgumentException($"{name} must be positive and finite, got {v}");
        }
        Positive(ZMass, nameof(ZMass));
        Positive(ZWidth, nameof(ZWidth));
        Positive(AlphaQed, nameof(AlphaQed));
        Positive(AlphaS, nameof(AlphaS));
        if (!(SinSquaredThetaW > 0 && SinSquaredThetaW < 1))
            throw new ArgumentException($"{nameof(SinSquaredThetaW)} must lie in (0, 1), got {SinSquaredThetaW}");
    }
}

/// <summary>
/// A massless Standard-Model fermion: PDG id of the particle, electric charge Q (units of e), third component of weak
/// isospin T₃ of its left-handed state, and number of colours.
/// </summary>
public sealed record Fermion(string Name, int PdgId, double Charge, double WeakIsospin, int Colours)
{
    /// <summary>The electron (PDG 11).</summary>
    public static Fermion Electron { get; } = new("e", 11, -1, -0.5, 1);

    /// <summary>The muon (PDG 13).</summary>
    public static Fermion Muon { get; } = new("mu", 13, -1, -0.5, 1);

    /// <summary>The down quark (PDG 1).</summary>
    public static Fermion Down { get; } = new("d", 1, -1.0 / 3, -0.5, 3);

    /// <summary>The up quark (PDG 2).</summary>
    public static Fermion Up { get; } = new("u", 2, 2.0 / 3, 0.5, 3);

    /// <summary>The strange quark (PDG 3).</summary>
    public static Fermion Strange { get; } = new("s", 3, -1.0 / 3, -0.5, 3);

    /// <summary>The charm quark (PDG 4).</summary>
    public static Fermion Charm { get; } = new("c", 4, 2.0 / 3, 0.5, 3);

    /// <summary>The bottom quark (PDG 5).</summary>
    public static Fermion Bottom { get; } = new("b", 5, -1.0 / 3, -0.5, 3);

    /// <summary>The lightest <paramref name="flavours"/> quarks d, u, s, c, b (1 to 5), all treated as massless.</summary>
    public static IReadOnlyList<Fermion> Quarks(int flavours)
    {
        if (flavours < 1 || flavours > 5) throw new ArgumentOutOfRangeException(nameof(flavours), flavours, "number of quark flavours must be 1 to 5");
        return new[] { Down, Up, Strange, Charm, Bottom }[..flavours];
    }

    /// <summary>Left-handed Z coupling g_L = T₃ − Q sin²θ_W (the Z vertex is i e/(sin θ_W cos θ_W) γ^μ (g_L P_L + g_R P_R)).</summary>
    public double LeftCoupling(double sinSquaredThetaW) => WeakIsospin - Charge * sinSquaredThetaW;

    /// <summary>Right-handed Z coupling g_R = −Q sin²θ_W.</summary>
    public double RightCoupling(double sinSquaredThetaW) => -Charge * sinSquaredThetaW;
}
