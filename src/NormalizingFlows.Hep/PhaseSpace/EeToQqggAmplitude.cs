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
    /// N_c C_F² |A₂₁|² (for the colour flow of an event). The spinors, propagators and slashed currents are computed
    /// once per point (and chirality), not once per polarisation pair; the values are those of summing
    /// <see cref="PartialAmplitudes"/> over the polarisations, bit for bit.
    /// </summary>
    internal static QqggSums Sums(FourVector k1, FourVector k2, FourVector p1, FourVector p2, FourVector p3, FourVector p4)
    {
        Span<FourVector> e3 = stackalloc FourVector[2], e4 = stackalloc FourVector[2];
        Polarisations(p3, e3);
        Polarisations(p4, e4);
        var lepton = LeptonCurrent(k1, k2, left: true);
        var propagators = new Propagators(p1, p2, p3, p4);
        // the triple-gluon current of each polarisation pair (the same for both chiralities)
        Span<ComplexVector> nab = stackalloc ComplexVector[4];
        for (int a = 0; a < 2; a++)
            for (int b = 0; b < 2; b++)
                nab[2 * a + b] = ComplexVector.Of(TripleGluonCurrent(p3, p4, e3[a], e4[b]));
        double same = 0, opp = 0, same12 = 0, same21 = 0, opp12 = 0, opp21 = 0;
        Span<Slash> g3 = stackalloc Slash[2], g4 = stackalloc Slash[2];
        Span<Row> r3 = stackalloc Row[2], r4 = stackalloc Row[2];
        for (int j = 0; j < 2; j++)
        {
            bool leftQuark = j == 0;
            var line = new QuarkLine(p1, p2, propagators, lepton, leftQuark);
            for (int a = 0; a < 2; a++)
            {
                g3[a] = Slash.Of(ComplexVector.Of(e3[a]), leftQuark);
                g4[a] = Slash.Of(ComplexVector.Of(e4[a]), leftQuark);
                r3[a] = line.Start.Times(g3[a]).Times(line.P13);
                r4[a] = line.Start.Times(g4[a]).Times(line.P14);
            }
            for (int a = 0; a < 2; a++)
                for (int b = 0; b < 2; b++)
                {
                    var (x, y) = line.Partial(g3[a], g4[b], r3[a], r4[b], Slash.Of(nab[2 * a + b], leftQuark));
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
        var line = new QuarkLine(p1, p2, new Propagators(p1, p2, p3, p4), lepton, leftQuark);
        var g3 = Slash.Of(ComplexVector.Of(e3), leftQuark);
        var g4 = Slash.Of(ComplexVector.Of(e4), leftQuark);
        var nab = Slash.Of(ComplexVector.Of(TripleGluonCurrent(p3, p4, e3, e4)), leftQuark);
        return line.Partial(g3, g4, line.Start.Times(g3).Times(line.P13), line.Start.Times(g4).Times(line.P14), nab);
    }

    /// <summary>
    /// The off-shell gluon current of the triple-gluon vertex, K = p₃ + p₄:
    /// V^ρ = [(ε₃·ε₄)(p₄ − p₃)^ρ − 2(p₄·ε₃) ε₄^ρ + 2(p₃·ε₄) ε₃^ρ] / K².
    /// </summary>
    static FourVector TripleGluonCurrent(FourVector p3, FourVector p4, FourVector e3, FourVector e4)
    {
        var k = p3 + p4;
        double k2 = FourVector.Dot(k, k);
        return (1 / k2) * (FourVector.Dot(e3, e4) * (p4 - p3) - 2 * FourVector.Dot(p4, e3) * e4 + 2 * FourVector.Dot(p3, e4) * e3);
    }

    /// <summary>The q q̄ g partial amplitude (quark chirality, gluon polarisation <paramref name="e3"/>), for checks against the closed form.</summary>
    internal static Complex QqgAmplitude(ComplexVector lepton, FourVector p1, FourVector p2, FourVector p3, FourVector e3, bool leftQuark)
    {
        var u = Spinor(p1, leftQuark ? -1 : 1);
        var v = Spinor(p2, leftQuark ? -1 : 1);
        var g3 = Slash.Of(ComplexVector.Of(e3), leftQuark);
        var l = Slash.Of(lepton, leftQuark);
        var start = new Row(Complex.Conjugate(u.A), Complex.Conjugate(u.B));
        return start.Times(g3).Times(Slash.Of(ComplexVector.Of(Propagator(p1 + p3)), !leftQuark)).Times(l).Close(v)
             + start.Times(l).Times(Slash.Of(ComplexVector.Of(Propagator(-1.0 * (p2 + p3))), !leftQuark)).Times(g3).Close(v);
    }

    static FourVector Propagator(FourVector q) => (1 / FourVector.Dot(q, q)) * q;

    /// <summary>
    /// The fermion propagators q/q² of the q q̄ g g diagrams, each momentum summed in the order the quark line
    /// accumulates it from p₁ (Q = p₁ + p₂ + p₃ + p₄ flows out at the γ* vertex); they depend on the momenta only.
    /// </summary>
    readonly struct Propagators
    {
        public Propagators(FourVector p1, FourVector p2, FourVector p3, FourVector p4)
        {
            var minusQ = -1.0 * (p1 + p2 + p3 + p4);
            FourVector q13 = p1 + p3, q14 = p1 + p4, q1Q = p1 + minusQ;
            P13 = Propagator(q13); P134 = Propagator(q13 + p4); P13Q = Propagator(q13 + minusQ);
            P14 = Propagator(q14); P143 = Propagator(q14 + p3); P14Q = Propagator(q14 + minusQ);
            P1Q = Propagator(q1Q); P1Q3 = Propagator(q1Q + p3); P1Q4 = Propagator(q1Q + p4);
            P1K = Propagator(p1 + (p3 + p4));
        }

        public FourVector P13 { get; }
        public FourVector P134 { get; }
        public FourVector P13Q { get; }
        public FourVector P14 { get; }
        public FourVector P143 { get; }
        public FourVector P14Q { get; }
        public FourVector P1Q { get; }
        public FourVector P1Q3 { get; }
        public FourVector P1Q4 { get; }
        public FourVector P1K { get; }
    }

    /// <summary>
    /// The quark line ū(p₁) … P v(p₂) of one chirality at one point: its spinors, the slashed propagators (σ·q for the
    /// left chirality, σ̄·q for the right one) and lepton current, and the row ū γ*-vertex q̸(p₁ − Q) shared by the
    /// diagrams where the γ* comes first.
    /// </summary>
    readonly struct QuarkLine
    {
        readonly WeylSpinor _v;

        public QuarkLine(FourVector p1, FourVector p2, in Propagators q, ComplexVector lepton, bool left)
        {
            var u = Spinor(p1, left ? -1 : 1);
            _v = Spinor(p2, left ? -1 : 1);
            Start = new Row(Complex.Conjugate(u.A), Complex.Conjugate(u.B));
            Lepton = Slash.Of(lepton, left);
            P13 = Slash.Of(ComplexVector.Of(q.P13), !left); P134 = Slash.Of(ComplexVector.Of(q.P134), !left); P13Q = Slash.Of(ComplexVector.Of(q.P13Q), !left);
            P14 = Slash.Of(ComplexVector.Of(q.P14), !left); P143 = Slash.Of(ComplexVector.Of(q.P143), !left); P14Q = Slash.Of(ComplexVector.Of(q.P14Q), !left);
            P1Q3 = Slash.Of(ComplexVector.Of(q.P1Q3), !left); P1Q4 = Slash.Of(ComplexVector.Of(q.P1Q4), !left);
            P1K = Slash.Of(ComplexVector.Of(q.P1K), !left);
            LeptonFirst = Start.Times(Lepton).Times(Slash.Of(ComplexVector.Of(q.P1Q), !left));
        }

        public Row Start { get; }
        public Slash Lepton { get; }
        public Slash P13 { get; }
        public Slash P134 { get; }
        public Slash P13Q { get; }
        public Slash P14 { get; }
        public Slash P143 { get; }
        public Slash P14Q { get; }
        public Slash P1Q3 { get; }
        public Slash P1Q4 { get; }
        public Slash P1K { get; }
        public Row LeptonFirst { get; }

        /// <summary>
        /// (A₁₂, A₂₁) for the slashed gluon polarisations and triple-gluon current, given the rows ū ε̸₃ q̸(p₁ + p₃)
        /// (<paramref name="r3"/>) and ū ε̸₄ q̸(p₁ + p₄) (<paramref name="r4"/>): A₁₂ = the three orders of γ*, g₃, g₄
        /// along the line with g₃ before g₄, A₂₁ the other three, ± the two triple-gluon diagrams.
        /// </summary>
        public (Complex A12, Complex A21) Partial(in Slash g3, in Slash g4, Row r3, Row r4, in Slash nab)
        {
            Complex a12 = r3.Times(g4).Times(P134).Times(Lepton).Close(_v) + r3.Times(Lepton).Times(P13Q).Times(g4).Close(_v)
                        + LeptonFirst.Times(g3).Times(P1Q3).Times(g4).Close(_v);
            Complex a21 = r4.Times(g3).Times(P143).Times(Lepton).Close(_v) + r4.Times(Lepton).Times(P14Q).Times(g3).Close(_v)
                        + LeptonFirst.Times(g4).Times(P1Q4).Times(g3).Close(_v);
            Complex triple = Start.Times(nab).Times(P1K).Times(Lepton).Close(_v) + LeptonFirst.Times(nab).Close(_v);
            return (a12 + triple, a21 - triple);
        }
    }

    /// <summary>
    /// The 2 × 2 matrix of σ̄·a = a⁰ + a⃗·σ⃗ (bar = true) or σ·a = a⁰ − a⃗·σ⃗ acting on a row spinor; a chain
    /// ū a̸ q̸₁ b̸ … P v(p₂) is u† σ̄·a σ·q₁ σ̄·b … v for the left chirality, u† σ·a σ̄·q₁ σ·b … v for the right one.
    /// </summary>
    internal readonly struct Slash
    {
        Slash(Complex m00, Complex m01, Complex m10, Complex m11) { M00 = m00; M01 = m01; M10 = m10; M11 = m11; }

        public Complex M00 { get; }
        public Complex M01 { get; }
        public Complex M10 { get; }
        public Complex M11 { get; }

        public static Slash Of(ComplexVector a, bool bar)
        {
            Complex sign = bar ? 1 : -1;
            return new Slash(a.T + sign * a.Z, sign * (a.X - Complex.ImaginaryOne * a.Y), sign * (a.X + Complex.ImaginaryOne * a.Y), a.T - sign * a.Z);
        }
    }

    /// <summary>A row two-spinor (r₀, r₁), multiplied from the left onto slashed vectors and closed with a column spinor.</summary>
    internal readonly record struct Row(Complex R0, Complex R1)
    {
        public Row Times(in Slash m) => new(R0 * m.M00 + R1 * m.M10, R0 * m.M01 + R1 * m.M11);

        public Complex Close(WeylSpinor v) => R0 * v.A + R1 * v.B;
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
