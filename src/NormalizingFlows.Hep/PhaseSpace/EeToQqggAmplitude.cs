using System.Numerics;

namespace NormalizingFlows.Hep.PhaseSpace;

/// <summary>
/// The exact tree-level |M|² of e⁻(k₁) e⁺(k₂) → γ*/Z → q(p₁) q̄(p₂) g(p₃) g(p₄), massless quarks, evaluated numerically
/// from the Feynman diagrams: Weyl spinors for the massless fermions, real linear polarisation vectors for the gluons,
/// the six diagrams with both gluons on the quark line (every order of γ*, g₁, g₂ along it) and the two with the
/// triple-gluon vertex. Helicity is conserved on the massless lines, so the amplitude for e⁻ chirality i and quark
/// chirality j is the (γ*/Z) coupling A_ij of <see cref="EeAnnihilation"/> times the contraction of the lepton current
/// with the quark current.
/// <para>
/// Colour: M = (tᵃtᵇ)_{ij} A₁₂ + (tᵇtᵃ)_{ij} A₂₁ (A₁₂: g₁ next to the quark, the abelian diagrams with g₁ nearer p₁
/// plus the triple-gluon ones; A₂₁ the other order, minus the triple-gluon ones), so the colour sum is
/// Σ|M|² = N_c C_F² (|A₁₂|² + |A₂₁|²) − C_F Re(A₁₂ A₂₁*): the colour matrix has Tr(tᵃtᵇtᵇtᵃ) = N_c C_F² = 16/3 on the
/// diagonal and Tr(tᵃtᵇtᵃtᵇ) = −C_F/2 = −2/3 off it.
/// </para>
/// The result is averaged over the e⁺e⁻ spins and summed over final spins and colours; it does not include the 1/2!
/// for the identical gluons (the phase-space integral does: <see cref="EeToQqggProcess"/>).
/// </summary>
public static class EeToQqggAmplitude
{
    /// <summary>The diagonal entry of the colour matrix, N_c C_F² = 16/3.</summary>
    public const double DiagonalColour = 3 * StandardModelParameters.CF * StandardModelParameters.CF;

    /// <summary>The off-diagonal entry of the colour matrix, −C_F/2 = −2/3.</summary>
    public const double OffDiagonalColour = -StandardModelParameters.CF / 2;

    /// <summary>
    /// |M|² for one flavour <paramref name="q"/>: (4πα)² (4πα_s)² / (4s²) · Σ_ij |A_ij|² H_ij with H_ij the colour- and
    /// gluon-polarisation-summed square of the current contraction.
    /// </summary>
    public static double SquaredAmplitude(FourVector k1, FourVector k2, FourVector p1, FourVector p2, FourVector p3, FourVector p4,
                                          Fermion q, StandardModelParameters sm)
    {
        ArgumentNullException.ThrowIfNull(q);
        ArgumentNullException.ThrowIfNull(sm);
        double s = FourVector.Dot(k1 + k2, k1 + k2);
        var (same, opp) = EeAnnihilation.HelicitySums(q, s, sm);
        var h = Sums(k1, k2, p1, p2, p3, p4);
        return Prefactor(s, sm) * (same * h.Same + opp * h.Opposite);
    }

    /// <summary>(4πα)² (4πα_s)² / (4s²): the couplings, the photon propagator and the beam-spin average.</summary>
    internal static double Prefactor(double s, StandardModelParameters sm)
    {
        double a = 4 * Math.PI * sm.AlphaQed, g = 4 * Math.PI * sm.AlphaS;
        return a * a * g * g / (4 * s * s);
    }

    /// <summary>
    /// The colour- and polarisation-summed squares for equal (e⁻ and q both left-handed) and opposite (e⁻ left, q right)
    /// chiralities (the right-handed e⁻ give the same by parity), and their leading-colour parts N_c C_F² |A₁₂|² and
    /// N_c C_F² |A₂₁|² (for the colour flow of an event).
    /// </summary>
    internal static QqggSums Sums(FourVector k1, FourVector k2, FourVector p1, FourVector p2, FourVector p3, FourVector p4)
    {
        Span<FourVector> e3 = stackalloc FourVector[2], e4 = stackalloc FourVector[2];
        Polarisations(p3, e3);
        Polarisations(p4, e4);
        var lepton = LeptonCurrent(k1, k2, left: true);
        double same = 0, opp = 0, same12 = 0, same21 = 0, opp12 = 0, opp21 = 0;
        for (int j = 0; j < 2; j++)
        {
            bool leftQuark = j == 0;
            for (int a = 0; a < 2; a++)
                for (int b = 0; b < 2; b++)
                {
                    var (x, y) = PartialAmplitudes(lepton, p1, p2, p3, p4, e3[a], e4[b], leftQuark);
                    double d12 = DiagonalColour * x.Magnitude * x.Magnitude, d21 = DiagonalColour * y.Magnitude * y.Magnitude;
                    double total = d12 + d21 + 2 * OffDiagonalColour * (x * Complex.Conjugate(y)).Real;
                    if (leftQuark) { same += total; same12 += d12; same21 += d21; }
                    else { opp += total; opp12 += d12; opp21 += d21; }
                }
        }
        return new QqggSums(same, opp, same12, same21, opp12, opp21);
    }

    /// <summary>Two real unit polarisation vectors (0, ê) with ê ⊥ k⃗ and ê₁ ⊥ ê₂.</summary>
    internal static void Polarisations(FourVector k, Span<FourVector> eps)
    {
        double p = k.P, nx = k.Px / p, ny = k.Py / p, nz = k.Pz / p;
        // ê₁ = n̂ × (axis least aligned with n̂), normalised; ê₂ = n̂ × ê₁
        double ax = 0, ay = 0, az = 0;
        if (Math.Abs(nx) <= Math.Abs(ny) && Math.Abs(nx) <= Math.Abs(nz)) ax = 1;
        else if (Math.Abs(ny) <= Math.Abs(nz)) ay = 1;
        else az = 1;
        double x1 = ny * az - nz * ay, y1 = nz * ax - nx * az, z1 = nx * ay - ny * ax;
        double norm = Math.Sqrt(x1 * x1 + y1 * y1 + z1 * z1);
        x1 /= norm; y1 /= norm; z1 /= norm;
        eps[0] = new FourVector(0, x1, y1, z1);
        eps[1] = new FourVector(0, ny * z1 - nz * y1, nz * x1 - nx * z1, nx * y1 - ny * x1);
    }

    /// <summary>The lepton current v̄(k₂) γ^μ P u(k₁) (P = P_L or P_R) as a complex contravariant vector.</summary>
    internal static ComplexVector LeptonCurrent(FourVector k1, FourVector k2, bool left)
    {
        var u = Spinor(k1, left ? -1 : 1);
        var v = Spinor(k2, left ? -1 : 1);
        // v† σ̄^μ u (left) or v† σ^μ u (right), σ̄ = (1, −σ⃗), σ = (1, σ⃗)
        Complex v0 = Complex.Conjugate(v.A), v1 = Complex.Conjugate(v.B);
        Complex t = v0 * u.A + v1 * u.B;
        Complex x = v0 * u.B + v1 * u.A;
        Complex y = -Complex.ImaginaryOne * v0 * u.B + Complex.ImaginaryOne * v1 * u.A;
        Complex z = v0 * u.A - v1 * u.B;
        return left ? new ComplexVector(t, -x, -y, -z) : new ComplexVector(t, x, y, z);
    }

    /// <summary>
    /// The colour-ordered partial amplitudes (A₁₂, A₂₁) for the lepton current <paramref name="lepton"/>, gluon
    /// polarisations <paramref name="e3"/>, <paramref name="e4"/> (any vectors, e.g. a gluon's momentum for the Ward
    /// identity) and quark chirality, without couplings and the photon propagator.
    /// </summary>
    internal static (Complex A12, Complex A21) PartialAmplitudes(ComplexVector lepton, FourVector p1, FourVector p2, FourVector p3, FourVector p4,
                                                                  FourVector e3, FourVector e4, bool leftQuark)
    {
        var u = Spinor(p1, leftQuark ? -1 : 1);
        var v = Spinor(p2, leftQuark ? -1 : 1);
        var q = p1 + p2 + p3 + p4;
        var g3 = ComplexVector.Of(e3);
        var g4 = ComplexVector.Of(e4);
        // the quark line from ū(p₁): each vertex emits a momentum (γ*: −Q); a propagator carries p₁ + the momenta emitted before it
        Complex Line3(ComplexVector a, FourVector ka, ComplexVector b, FourVector kb, ComplexVector c)
        {
            var q1 = p1 + ka;
            var q2 = q1 + kb;
            return Chain(u, v, leftQuark, a, Propagator(q1), b, Propagator(q2), c);
        }
        var minusQ = -1.0 * q;
        Complex a12 = Line3(g3, p3, g4, p4, lepton) + Line3(g3, p3, lepton, minusQ, g4) + Line3(lepton, minusQ, g3, p3, g4);
        Complex a21 = Line3(g4, p4, g3, p3, lepton) + Line3(g4, p4, lepton, minusQ, g3) + Line3(lepton, minusQ, g4, p4, g3);
        // triple-gluon vertex: the off-shell gluon of momentum K = p₃ + p₄ with
        // V^ρ = [(ε₃·ε₄)(p₄ − p₃)^ρ − 2(p₄·ε₃) ε₄^ρ + 2(p₃·ε₄) ε₃^ρ] / K²
        var k = p3 + p4;
        double k2 = FourVector.Dot(k, k);
        var vNab = (1 / k2) * (FourVector.Dot(e3, e4) * (p4 - p3) - 2 * FourVector.Dot(p4, e3) * e4 + 2 * FourVector.Dot(p3, e4) * e3);
        var gv = ComplexVector.Of(vNab);
        Complex nab = Chain(u, v, leftQuark, gv, Propagator(p1 + k), lepton, default, default)
                    + Chain(u, v, leftQuark, lepton, Propagator(p1 - q), gv, default, default);
        return (a12 + nab, a21 - nab);
    }

    /// <summary>The q q̄ g partial amplitude (quark chirality, gluon polarisation <paramref name="e3"/>), for checks against the closed form.</summary>
    internal static Complex QqgAmplitude(ComplexVector lepton, FourVector p1, FourVector p2, FourVector p3, FourVector e3, bool leftQuark)
    {
        var u = Spinor(p1, leftQuark ? -1 : 1);
        var v = Spinor(p2, leftQuark ? -1 : 1);
        var g3 = ComplexVector.Of(e3);
        return Chain(u, v, leftQuark, g3, Propagator(p1 + p3), lepton, default, default)
             + Chain(u, v, leftQuark, lepton, Propagator(-1.0 * (p2 + p3)), g3, default, default);
    }

    static FourVector Propagator(FourVector q) => (1 / FourVector.Dot(q, q)) * q;

    /// <summary>
    /// ū(p₁) a̸ q̸₁ b̸ [q̸₂ c̸] P v(p₂) in two-component form: u† σ̄·a σ·q₁ σ̄·b … v for the left chirality, u† σ·a σ̄·q₁ σ·b … v
    /// for the right one (c is skipped when <paramref name="q2"/> is the zero vector).
    /// </summary>
    static Complex Chain(WeylSpinor u, WeylSpinor v, bool left, ComplexVector a, FourVector q1, ComplexVector b, FourVector q2, ComplexVector c)
    {
        Complex r0 = Complex.Conjugate(u.A), r1 = Complex.Conjugate(u.B);
        Times(ref r0, ref r1, a, left);
        Times(ref r0, ref r1, ComplexVector.Of(q1), !left);
        Times(ref r0, ref r1, b, left);
        if (q2 != default)
        {
            Times(ref r0, ref r1, ComplexVector.Of(q2), !left);
            Times(ref r0, ref r1, c, left);
        }
        return r0 * v.A + r1 * v.B;
    }

    /// <summary>The row spinor (r₀, r₁) times σ̄·a = a⁰ + a⃗·σ⃗ (<paramref name="bar"/>) or σ·a = a⁰ − a⃗·σ⃗.</summary>
    static void Times(ref Complex r0, ref Complex r1, ComplexVector a, bool bar)
    {
        Complex sign = bar ? 1 : -1;
        Complex m00 = a.T + sign * a.Z, m11 = a.T - sign * a.Z;
        Complex m01 = sign * (a.X - Complex.ImaginaryOne * a.Y), m10 = sign * (a.X + Complex.ImaginaryOne * a.Y);
        Complex n0 = r0 * m00 + r1 * m10, n1 = r0 * m01 + r1 * m11;
        r0 = n0;
        r1 = n1;
    }

    /// <summary>
    /// √(2E) ξ_h(p) for a massless momentum: the two-spinor of helicity h = ±1 (n̂·σ⃗ ξ = h ξ), with the phase convention
    /// that stays finite on either side of the −z axis.
    /// </summary>
    internal static WeylSpinor Spinor(FourVector p, int helicity)
    {
        double e = p.P;
        var perp = new Complex(p.Px, p.Py);
        if (p.Pz >= 0)
        {
            double r = Math.Sqrt(e + p.Pz);
            return helicity > 0 ? new WeylSpinor(r, perp / r) : new WeylSpinor(-Complex.Conjugate(perp) / r, r);
        }
        else
        {
            double r = Math.Sqrt(e - p.Pz);
            return helicity > 0 ? new WeylSpinor(Complex.Conjugate(perp) / r, r) : new WeylSpinor(-r, perp / r);
        }
    }

    /// <summary>A two-component spinor.</summary>
    internal readonly record struct WeylSpinor(Complex A, Complex B);

    /// <summary>A four-vector with complex components (contravariant).</summary>
    internal readonly record struct ComplexVector(Complex T, Complex X, Complex Y, Complex Z)
    {
        public static ComplexVector Of(FourVector p) => new(p.E, p.Px, p.Py, p.Pz);
    }

    /// <summary>Colour- and polarisation-summed squares (see <see cref="Sums"/>).</summary>
    internal readonly record struct QqggSums(double Same, double Opposite, double Same12, double Same21, double Opposite12, double Opposite21);
}
