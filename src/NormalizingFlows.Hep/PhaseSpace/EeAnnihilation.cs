using System.Numerics;
using NormalizingFlows.Hep.Integration;

namespace NormalizingFlows.Hep.PhaseSpace;

/// <summary>
/// Tree-level matrix elements and analytic results for e⁺e⁻ → γ*/Z → f f̄ (g), massless fermions, unpolarised
/// beams. Momenta: k₁ = e⁻ (along +z), k₂ = e⁺, p₁ = f, p₂ = f̄, p₃ = g. Squared amplitudes are averaged over the
/// beam spins and summed over final spins and colours.
/// <para>
/// Helicity structure: for e⁻ helicity i and f helicity j the amplitude is proportional to
/// A_ij(s) = Q_e Q_f + g_i^e g_j^f χ(s) (see <see cref="StandardModelParameters.Chi"/>); equal helicities (LL, RR)
/// go with (k₁·p₂)², opposite ones (LR, RL) with (k₁·p₁)².
/// </para>
/// </summary>
public static class EeAnnihilation
{
    /// <summary>
    /// Σ|A_ij|² over equal (LL + RR) and opposite (LR + RL) e⁻/f helicities at s, for the fermion
    /// <paramref name="f"/>.
    /// </summary>
    public static (double Same, double Opposite) HelicitySums(Fermion f, double s, StandardModelParameters sm)
    {
        ArgumentNullException.ThrowIfNull(f);
        ArgumentNullException.ThrowIfNull(sm);
        Complex chi = sm.Chi(s);
        double sw2 = sm.SinSquaredThetaW;
        var e = Fermion.Electron;
        double qq = e.Charge * f.Charge;
        double eL = e.LeftCoupling(sw2), eR = e.RightCoupling(sw2), fL = f.LeftCoupling(sw2), fR = f.RightCoupling(sw2);
        double A(double ge, double gf) { Complex a = qq + ge * gf * chi; return a.Real * a.Real + a.Imaginary * a.Imaginary; }
        return (A(eL, fL) + A(eR, fR), A(eL, fR) + A(eR, fL));
    }

    /// <summary>
    /// |M|² for e⁻(k₁) e⁺(k₂) → f(p₁) f̄(p₂):
    /// 4 (4πα)² N_c / s² · [Σ_same (k₁·p₂)² + Σ_opp (k₁·p₁)²] (= 16π²α²(1 + cos²θ) for a pure photon, Q_f = −1).
    /// </summary>
    public static double PairSquaredAmplitude(FourVector k1, FourVector k2, FourVector p1, FourVector p2, Fermion f, StandardModelParameters sm)
    {
        double s = FourVector.Dot(k1 + k2, k1 + k2);
        var (same, opp) = HelicitySums(f, s, sm);
        return PairSquaredAmplitude(k1, p1, p2, same * f.Colours, opp * f.Colours, s, sm);
    }

    /// <summary>The f f̄ squared amplitude for helicity sums already multiplied by N_c.</summary>
    internal static double PairSquaredAmplitude(FourVector k1, FourVector p1, FourVector p2, double sameTimesNc, double oppTimesNc,
                                                double s, StandardModelParameters sm)
    {
        double a = 4 * Math.PI * sm.AlphaQed;
        double k1p2 = FourVector.Dot(k1, p2), k1p1 = FourVector.Dot(k1, p1);
        return 4 * a * a / (s * s) * (sameTimesNc * k1p2 * k1p2 + oppTimesNc * k1p1 * k1p1);
    }

    /// <summary>
    /// The analytic total cross section σ(e⁺e⁻ → f f̄) = π α² N_c (Σ_same + Σ_opp) / (3s) in pb
    /// (= 4πα²N_c/(3s) for a pure photon and |Q_f| = 1).
    /// </summary>
    public static double PairCrossSection(Fermion f, double sqrtS, StandardModelParameters sm)
    {
        double s = CheckedS(sqrtS);
        var (same, opp) = HelicitySums(f, s, sm);
        return Math.PI * sm.AlphaQed * sm.AlphaQed * f.Colours * (same + opp) / (3 * s) * StandardModelParameters.GeVm2ToPicobarn;
    }

    /// <summary>
    /// The analytic forward–backward asymmetry A_FB = (σ(cos θ &gt; 0) − σ(cos θ &lt; 0)) / σ of the fermion f with
    /// the e⁻ direction: (3/4) (Σ_same − Σ_opp) / (Σ_same + Σ_opp) (→ (3/4) A_e A_f on the Z pole).
    /// </summary>
    public static double PairForwardBackwardAsymmetry(Fermion f, double sqrtS, StandardModelParameters sm)
    {
        var (same, opp) = HelicitySums(f, CheckedS(sqrtS), sm);
        return 0.75 * (same - opp) / (same + opp);
    }

    /// <summary>
    /// |M|² for e⁻(k₁) e⁺(k₂) → q(p₁) q̄(p₂) g(p₃) through γ*/Z, the full angular dependence in invariants:
    /// 2 (4πα)² (4πα_s) N_c C_F / s · [Σ_same ((k₁·p₂)² + (k₂·p₁)²) + Σ_opp ((k₁·p₁)² + (k₂·p₂)²)] / ((p₁·p₃)(p₂·p₃)).
    /// It reduces to the eikonal factor times <see cref="PairSquaredAmplitude(FourVector, FourVector, FourVector, FourVector, Fermion, StandardModelParameters)"/> for a soft gluon, to the q → qg
    /// splitting function for a collinear one, and averaged over orientations to the Dalitz density
    /// (x₁² + x₂²)/((1 − x₁)(1 − x₂)).
    /// </summary>
    public static double QqgSquaredAmplitude(FourVector k1, FourVector k2, FourVector p1, FourVector p2, FourVector p3, Fermion q, StandardModelParameters sm)
    {
        double s = FourVector.Dot(k1 + k2, k1 + k2);
        var (same, opp) = HelicitySums(q, s, sm);
        return QqgSquaredAmplitudeSummed(k1, k2, p1, p2, p3, same * q.Colours, opp * q.Colours, s, sm);
    }

    /// <summary>
    /// The q q̄ g squared amplitude for helicity sums already multiplied by N_c (and possibly summed over flavours).
    /// </summary>
    internal static double QqgSquaredAmplitudeSummed(FourVector k1, FourVector k2, FourVector p1, FourVector p2, FourVector p3,
                                                      double sameTimesNc, double oppTimesNc, double s, StandardModelParameters sm)
    {
        double k1p1 = FourVector.Dot(k1, p1), k1p2 = FourVector.Dot(k1, p2);
        double k2p1 = FourVector.Dot(k2, p1), k2p2 = FourVector.Dot(k2, p2);
        double p13 = FourVector.Dot(p1, p3), p23 = FourVector.Dot(p2, p3);
        double a = 4 * Math.PI * sm.AlphaQed, gs2 = 4 * Math.PI * sm.AlphaS;
        double numerator = sameTimesNc * (k1p2 * k1p2 + k2p1 * k2p1) + oppTimesNc * (k1p1 * k1p1 + k2p2 * k2p2);
        return 2 * a * a * gs2 * StandardModelParameters.CF / s * numerator / (p13 * p23);
    }

    /// <summary>The Dalitz density (x₁² + x₂²) / ((1 − x₁)(1 − x₂)) with x_i = 2E_i/√s of the quark and antiquark.</summary>
    public static double DalitzDensity(double x1, double x2) => (x1 * x1 + x2 * x2) / ((1 - x1) * (1 - x2));

    /// <summary>
    /// ∫∫ (x₁² + x₂²)/((1 − x₁)(1 − x₂)) dx₁ dx₂ over the three-jet region y₁₃ = 1 − x₂, y₂₃ = 1 − x₁,
    /// y₁₂ = x₁ + x₂ − 1 all &gt; <paramref name="yCut"/>, intersected with the box [x1Low, x1High] × [x2Low, x2High]
    /// (deterministic: the x₁ integral in closed form, the x₂ integral by adaptive Gauss–Kronrod quadrature in ln(1 − x₂)
    /// with breakpoints at the kinks; relative accuracy ~1e-13).
    /// </summary>
    public static double DalitzIntegral(double yCut, double x1Low = 0, double x1High = 1, double x2Low = 0, double x2High = 1)
    {
        if (!(yCut > 0 && yCut < 1.0 / 3)) throw new ArgumentOutOfRangeException(nameof(yCut), yCut, "y_cut must lie in (0, 1/3)");
        // a = 1 − x₂ = y₁₃, b = 1 − x₁ = y₂₃; region a > y, b > y, a + b < 1 − y.
        double y = yCut;
        double aLo = Math.Max(y, 1 - x2High), aHi = Math.Min(1 - 2 * y, 1 - x2Low);
        double bLo = Math.Max(y, 1 - x1High), bHi = 1 - x1Low;
        if (!(aHi > aLo) || !(bHi > bLo)) return 0.0;
        // Inner b ∈ [bLo, min(bHi, 1 − y − a)] in closed form.
        double Inner(double a)
        {
            double upper = Math.Min(bHi, 1 - y - a);
            if (!(upper > bLo)) return 0.0;
            double c = 1 + (1 - a) * (1 - a);
            return c * Math.Log(upper / bLo) - 2 * (upper - bLo) + 0.5 * (upper * upper - bLo * bLo);
        }
        // ∫ Inner(a) da / a = ∫ Inner(e^t) dt over t = ln a, with breakpoints at the kinks of the inner integral as a
        // function of a: where 1 − y − a crosses bHi and bLo.
        double tLo = Math.Log(aLo), tHi = Math.Log(aHi);
        if (!(tHi > tLo)) return 0.0;
        double[] kinks = [.. new[] { 1 - y - bHi, 1 - y - bLo }.Where(k => k > aLo && k < aHi).Select(k => Math.Log(k))];
        return AdaptiveQuadrature.Integrate(t => Inner(Math.Exp(t)), tLo, tHi, absoluteTolerance: 0, relativeTolerance: 1e-13, breakpoints: kinks).Value;
    }

    /// <summary>
    /// σ(e⁺e⁻ → q q̄ g) in pb with y_ij &gt; <paramref name="yCut"/> from the Dalitz formula:
    /// Σ_q σ₀(q) · α_s C_F/(2π) · <see cref="DalitzIntegral"/>(y_cut). With the cuts depending on invariants only this is
    /// the exact integral of <see cref="QqgSquaredAmplitude"/> over three-body phase space.
    /// </summary>
    public static double QqgDalitzCrossSection(double sqrtS, double yCut, IReadOnlyList<Fermion> quarks, StandardModelParameters sm)
    {
        ArgumentNullException.ThrowIfNull(quarks);
        double born = 0;
        foreach (var q in quarks) born += PairCrossSection(q, sqrtS, sm);
        return born * sm.AlphaS * StandardModelParameters.CF / (2 * Math.PI) * DalitzIntegral(yCut);
    }

    static double CheckedS(double sqrtS)
    {
        if (!(sqrtS > 0) || double.IsInfinity(sqrtS)) throw new ArgumentOutOfRangeException(nameof(sqrtS), sqrtS, "√s must be positive and finite");
        return sqrtS * sqrtS;
    }
}
