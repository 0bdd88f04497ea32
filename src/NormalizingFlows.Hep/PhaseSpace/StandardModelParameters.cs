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
