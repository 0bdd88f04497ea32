using System.Numerics;
using NormalizingFlows.Hep.PhaseSpace;
using NormalizingFlows.Tensors;

namespace NormalizingFlows.Hep.Tests.PhaseSpace;

/// <summary>
/// Independent checks of the numerical e⁺e⁻ → q q̄ g g matrix element: the same spinor machinery against the closed
/// form of q q̄ g, gauge invariance, parity, Bose symmetry, and the soft and collinear limits against the existing
/// closed-form q q̄ g |M|² (<see cref="EeAnnihilation.QqgSquaredAmplitude"/>).
/// </summary>
public class EeToQqggAmplitudeTests
{
    const double SqrtS = 91.2;
    static readonly StandardModelParameters Sm = StandardModelParameters.Default;
    static readonly FourVector K1 = new(SqrtS / 2, 0, 0, SqrtS / 2), K2 = new(SqrtS / 2, 0, 0, -SqrtS / 2);

    /// <summary>Random massless momenta of n partons at √s (RAMBO), away from the singular corners.</summary>
    static FourVector[] Point(int n, Rng rng, double minY = 0.02)
    {
        var map = new RamboMapping(n, SqrtS);
        var p = new FourVector[n];
        var u = new double[map.Dimensions];
        while (true)
        {
            for (int i = 0; i < u.Length; i++) u[i] = rng.NextDouble();
            map.Map(u, p);
            bool ok = true;
            for (int i = 0; i < n; i++)
                for (int j = i + 1; j < n; j++)
                    ok &= 2 * FourVector.Dot(p[i], p[j]) > minY * SqrtS * SqrtS;
            if (ok) return p;
        }
    }

    /// <summary>The two polarisation vectors of each gluon, p[2] and p[3].</summary>
    static (FourVector[] E3, FourVector[] E4) GluonPolarisations(FourVector[] p)
    {
        var e3 = new FourVector[2];
        var e4 = new FourVector[2];
        EeToQqggAmplitude.Polarisations(p[2], e3);
        EeToQqggAmplitude.Polarisations(p[3], e4);
        return (e3, e4);
    }

    static double M4(FourVector[] p, Fermion q) => EeToQqggAmplitude.SquaredAmplitude(K1, K2, p[0], p[1], p[2], p[3], q, Sm);

    [Fact]
    public void TheProcessIntegratesHalfTheFlavourSumAndItsSoftLimitIsTheQqgProcess()
    {
        // what ee-qqgg integrates: ½ (identical gluons) Σ_q |M|² of the checked amplitude, five flavours ...
        var process = new EeToQqggProcess(SqrtS, parameters: Sm);
        var qqg = new EeToQqgProcess(SqrtS, parameters: Sm);
        var rng = new Rng(41);
        for (int t = 0; t < 5; t++)
        {
            var p = Point(4, rng);
            double sum = Fermion.Quarks(5).Sum(q => M4(p, q));
            Assert.Equal(0.5 * sum, process.SquaredAmplitude(p), 1e-12 * sum);
        }
        // ... and as g₂ goes soft, ½ eikonal × what ee-qqg integrates (its colour and flavour sums from its own code)
        double cf = 4.0 / 3, ca = 3, lambda = 1e-5;
        var total = new FourVector(SqrtS, 0, 0, 0);
        for (int t = 0; t < 5; t++)
        {
            var hard = Point(3, rng, 0.05);
            var soft = FourVector.FromPolar(lambda * SqrtS, lambda * SqrtS, 2 * rng.NextDouble() - 1, 2 * Math.PI * rng.NextDouble());
            var rest = total - soft;
            var p = new FourVector[4];
            for (int i = 0; i < 3; i++) p[i] = (rest.M / SqrtS * hard[i]).BoostedFromRestFrameOf(rest);
            p[3] = soft;
            double d14 = FourVector.Dot(p[0], p[3]), d24 = FourVector.Dot(p[1], p[3]), d34 = FourVector.Dot(p[2], p[3]);
            double eikonal = 4 * Math.PI * Sm.AlphaS * (ca * FourVector.Dot(p[0], p[2]) / (d14 * d34) + ca * FourVector.Dot(p[1], p[2]) / (d24 * d34)
                                                        + (2 * cf - ca) * FourVector.Dot(p[0], p[1]) / (d14 * d24));
            double ratio = process.SquaredAmplitude(p) / (0.5 * eikonal * qqg.SquaredAmplitude(p.AsSpan(0, 3)));
            Assert.True(Math.Abs(ratio - 1) < 300 * lambda, $"ee-qqgg / (½ eikonal · ee-qqg) = {ratio}");
        }
    }

    [Fact]
    public void TheSpinorChainsReproduceTheClosedFormQqgCurrent()
    {
        // Σ_pol |ū … v · L|² per chirality pair must be 8s ((k₁·p₂)² + (k₂·p₁)²)/((p₁·p₃)(p₂·p₃)) for equal e⁻/q
        // chiralities and 8s ((k₁·p₁)² + (k₂·p₂)²)/(…) for opposite ones: the normalisation of EeAnnihilation.QqgSquaredAmplitude.
        var rng = new Rng(5);
        Span<FourVector> eps = stackalloc FourVector[2];
        double s = SqrtS * SqrtS;
        for (int t = 0; t < 20; t++)
        {
            var p = Point(3, rng);
            EeToQqggAmplitude.Polarisations(p[2], eps);
            double denominator = FourVector.Dot(p[0], p[2]) * FourVector.Dot(p[1], p[2]);
            double same = 8 * s * (Math.Pow(FourVector.Dot(K1, p[1]), 2) + Math.Pow(FourVector.Dot(K2, p[0]), 2)) / denominator;
            double opposite = 8 * s * (Math.Pow(FourVector.Dot(K1, p[0]), 2) + Math.Pow(FourVector.Dot(K2, p[1]), 2)) / denominator;
            foreach (bool leftLepton in new[] { true, false })
            {
                var lepton = EeToQqggAmplitude.LeptonCurrent(K1, K2, leftLepton);
                foreach (bool leftQuark in new[] { true, false })
                {
                    double sum = 0;
                    foreach (var e in eps.ToArray()) sum += Math.Pow(Complex.Abs(EeToQqggAmplitude.QqgAmplitude(lepton, p[0], p[1], p[2], e, leftQuark)), 2);
                    double want = leftLepton == leftQuark ? same : opposite;
                    Assert.Equal(want, sum, 1e-11 * want);
                }
            }
        }
    }

    [Fact]
    public void BothPartialAmplitudesAreGaugeInvariantForEitherGluon()
    {
        // ε₃ → p₃ (or ε₄ → p₄) with the other gluon physical: each colour-ordered amplitude vanishes, for every chirality.
        var rng = new Rng(11);
        for (int t = 0; t < 20; t++)
        {
            var p = Point(4, rng);
            var (e3, e4) = GluonPolarisations(p);
            foreach (bool leftLepton in new[] { true, false })
            {
                var lepton = EeToQqggAmplitude.LeptonCurrent(K1, K2, leftLepton);
                foreach (bool leftQuark in new[] { true, false })
                {
                    double scale = 0;
                    foreach (var a in e3)
                        foreach (var b in e4)
                        {
                            var (x, y) = EeToQqggAmplitude.PartialAmplitudes(lepton, p[0], p[1], p[2], p[3], a, b, leftQuark);
                            scale = Math.Max(scale, Math.Max(x.Magnitude, y.Magnitude));
                        }
                    // the momentum has the scale of the energy: compare with the physical amplitudes times E
                    foreach (var b in e4)
                    {
                        var (x, y) = EeToQqggAmplitude.PartialAmplitudes(lepton, p[0], p[1], p[2], p[3], p[2], b, leftQuark);
                        Assert.True(x.Magnitude < 1e-10 * scale * p[2].E && y.Magnitude < 1e-10 * scale * p[2].E, $"ε₃ → p₃: |A₁₂| = {x.Magnitude:G3}, |A₂₁| = {y.Magnitude:G3}, scale {scale:G3}");
                    }
                    foreach (var a in e3)
                    {
                        var (x, y) = EeToQqggAmplitude.PartialAmplitudes(lepton, p[0], p[1], p[2], p[3], a, p[3], leftQuark);
                        Assert.True(x.Magnitude < 1e-10 * scale * p[3].E && y.Magnitude < 1e-10 * scale * p[3].E, $"ε₄ → p₄: |A₁₂| = {x.Magnitude:G3}, |A₂₁| = {y.Magnitude:G3}, scale {scale:G3}");
                    }
                    // the physical amplitudes are not trivially small: the bounds above are relative to a real size
                    var (x1, y1) = EeToQqggAmplitude.PartialAmplitudes(lepton, p[0], p[1], p[2], p[3], e3[0], e4[0], leftQuark);
                    Assert.True((x1 + y1).Magnitude > 1e-3 * scale, "the abelian sum A₁₂ + A₂₁ is a non-trivial amplitude");
                }
            }
        }
    }

    [Fact]
    public void HoistedSumsEqualThePerPolarisationEvaluationBitForBit()
    {
        // Sums computes spinors, propagators and the shared row prefixes once per point; summing the per-call
        // PartialAmplitudes (which builds them afresh for every polarisation pair) must give the same bits
        var rng = new Rng(29);
        for (int t = 0; t < 20; t++)
        {
            var p = Point(4, rng, minY: 1e-4);
            var sums = EeToQqggAmplitude.Sums(K1, K2, p[0], p[1], p[2], p[3]);
            var (e3, e4) = GluonPolarisations(p);
            var lepton = EeToQqggAmplitude.LeptonCurrent(K1, K2, left: true);
            foreach (bool leftQuark in new[] { true, false })
            {
                double total = 0, d12 = 0, d21 = 0;
                foreach (var a in e3)
                    foreach (var b in e4)
                    {
                        var (x, y) = EeToQqggAmplitude.PartialAmplitudes(lepton, p[0], p[1], p[2], p[3], a, b, leftQuark);
                        double x2 = EeToQqggAmplitude.DiagonalColour * x.Magnitude * x.Magnitude, y2 = EeToQqggAmplitude.DiagonalColour * y.Magnitude * y.Magnitude;
                        total += x2 + y2 + 2 * EeToQqggAmplitude.OffDiagonalColour * (x * Complex.Conjugate(y)).Real;
                        d12 += x2;
                        d21 += y2;
                    }
                Assert.Equal(leftQuark ? sums.Same : sums.Opposite, total);
                Assert.Equal(leftQuark ? sums.Same12 : sums.Opposite12, d12);
                Assert.Equal(leftQuark ? sums.Same21 : sums.Opposite21, d21);
            }
        }
    }

    [Fact]
    public void ProcessMatrixElementIsUnchangedByTheHoisting()
    {
        // the flavour-summed |M|² of ee-qqgg at the first five RAMBO points of Rng(12345), as the evaluation before the
        // spinors and propagators were hoisted out of the polarisation loop gave them (IEEE bits)
        string[] before = ["3F7F447EC8AE8B88", "3F9786ADE29F19DE", "3F7276E15DD55CEB", "3F7376A8030E4E22", "3FC570153CEA68F5"];
        var process = new EeToQqggProcess();
        var map = new RamboMapping(4, 91.2);
        var rng = new Rng(12345);
        var u = new double[map.Dimensions];
        var p = new FourVector[4];
        foreach (var bits in before)
        {
            for (int j = 0; j < u.Length; j++) u[j] = rng.NextDouble();
            map.Map(u, p);
            Assert.Equal(BitConverter.Int64BitsToDouble(Convert.ToInt64(bits, 16)), process.SquaredAmplitude(p));
        }
    }

    [Fact]
    public void RightHandedBeamsGiveTheLeftHandedSums()
    {
        // Flipping every helicity conjugates the amplitudes: the polarisation- and colour-summed squares for (R, R) and
        // (R, L) equal those for (L, L) and (L, R) at the same momenta, which the matrix element relies on.
        var rng = new Rng(3);
        for (int t = 0; t < 10; t++)
        {
            var p = Point(4, rng);
            var sums = EeToQqggAmplitude.Sums(K1, K2, p[0], p[1], p[2], p[3]);
            var (e3, e4) = GluonPolarisations(p);
            var right = EeToQqggAmplitude.LeptonCurrent(K1, K2, left: false);
            foreach (bool leftQuark in new[] { false, true })
            {
                double total = 0;
                foreach (var a in e3)
                    foreach (var b in e4)
                    {
                        var (x, y) = EeToQqggAmplitude.PartialAmplitudes(right, p[0], p[1], p[2], p[3], a, b, leftQuark);
                        total += EeToQqggAmplitude.DiagonalColour * (x.Magnitude * x.Magnitude + y.Magnitude * y.Magnitude)
                               + 2 * EeToQqggAmplitude.OffDiagonalColour * (x * Complex.Conjugate(y)).Real;
                    }
                double want = leftQuark ? sums.Opposite : sums.Same;
                Assert.Equal(want, total, 1e-11 * want);
            }
            Assert.True(Math.Abs(sums.Same / sums.Opposite - 1) > 1e-3, "equal and opposite chiralities differ");
        }
    }

    [Fact]
    public void IsSymmetricUnderExchangingTheGluons()
    {
        var rng = new Rng(17);
        for (int t = 0; t < 20; t++)
        {
            var p = Point(4, rng);
            double m = M4(p, Fermion.Down), swapped = M4([p[0], p[1], p[3], p[2]], Fermion.Down);
            Assert.Equal(m, swapped, 1e-12 * m);
            // but not under exchanging a gluon with the quark (the test can fail)
            Assert.True(Math.Abs(M4([p[2], p[1], p[0], p[3]], Fermion.Down) / m - 1) > 1e-4);
        }
    }

    /// <summary>
    /// The soft limit p₄ → 0: |M₄|² → 4πα_s [C_A (p₁·p₃)/((p₁·p₄)(p₃·p₄)) + C_A (p₂·p₃)/((p₂·p₄)(p₃·p₄))
    /// + (2C_F − C_A)(p₁·p₂)/((p₁·p₄)(p₂·p₄))] |M₃|²(p₁, p₂, p₃), with |M₃|² from the closed form.
    /// </summary>
    [Fact]
    public void SoftGluonLimitIsTheEikonalFactorTimesTheQqgMatrixElement()
    {
        var rng = new Rng(23);
        double cf = 4.0 / 3, ca = 3;
        var total = new FourVector(SqrtS, 0, 0, 0);
        for (int t = 0; t < 10; t++)
        {
            var hard = Point(3, rng, 0.05);
            double cosTheta = 2 * rng.NextDouble() - 1, phi = 2 * Math.PI * rng.NextDouble();
            double previous = double.PositiveInfinity;
            foreach (double lambda in new[] { 1e-3, 1e-5 })
            {
                var soft = FourVector.FromPolar(lambda * SqrtS, lambda * SqrtS, cosTheta, phi);
                var rest = total - soft;
                double scale = rest.M / SqrtS;
                var p = new FourVector[4];
                for (int i = 0; i < 3; i++) p[i] = (scale * hard[i]).BoostedFromRestFrameOf(rest);
                p[3] = soft;
                double d14 = FourVector.Dot(p[0], p[3]), d24 = FourVector.Dot(p[1], p[3]), d34 = FourVector.Dot(p[2], p[3]);
                double eikonal = 4 * Math.PI * Sm.AlphaS * (ca * FourVector.Dot(p[0], p[2]) / (d14 * d34) + ca * FourVector.Dot(p[1], p[2]) / (d24 * d34)
                                                            + (2 * cf - ca) * FourVector.Dot(p[0], p[1]) / (d14 * d24));
                foreach (var q in new[] { Fermion.Down, Fermion.Up })
                {
                    double m3 = EeAnnihilation.QqgSquaredAmplitude(K1, K2, p[0], p[1], p[2], q, Sm);
                    double ratio = M4(p, q) / (eikonal * m3);
                    Assert.True(Math.Abs(ratio - 1) < 300 * lambda, $"λ = {lambda}: |M₄|²/(eikonal |M₃|²) = {ratio}");
                    if (q == Fermion.Down) { Assert.True(Math.Abs(ratio - 1) < Math.Max(previous / 10, 1e-9)); previous = Math.Abs(ratio - 1); }
                }
            }
        }
    }

    /// <summary>
    /// The q ∥ g₁ limit: |M₄|²(p₁, p₂, p₃, p₄) → 8πα_s/s₁₃ · C_F (1 + z²)/(1 − z) · |M₃|²(p̃, p̃₂, p₄), with z the quark's
    /// momentum fraction and no azimuthal dependence (q → qg has no spin correlation); momenta built with the
    /// Catani–Seymour final-state map around a q q̄ g point (spectator q̄), which conserves momentum exactly.
    /// </summary>
    [Fact]
    public void QuarkGluonCollinearLimitIsTheSplittingFunctionTimesTheQqgMatrixElement()
    {
        var rng = new Rng(29);
        const double cf = 4.0 / 3;
        for (int t = 0; t < 10; t++)
        {
            var hard = Point(3, rng, 0.05); // p̃ (quark), p̃₂ (antiquark, spectator), p₄ (gluon 2)
            double z = 0.1 + 0.8 * rng.NextDouble(), phi = 2 * Math.PI * rng.NextDouble();
            double previous = double.PositiveInfinity;
            foreach (double y in new[] { 1e-6, 1e-10 })
            {
                var (a, b) = (hard[0], hard[1]);
                double ab = FourVector.Dot(a, b);
                var e1 = Transverse(a, b, new FourVector(0, 1, 0.3, -0.2), null);
                var e2 = Transverse(a, b, new FourVector(0, -0.4, 1, 0.5), e1);
                double kt = Math.Sqrt(z * (1 - z) * y * 2 * ab);
                var kPerp = kt * (Math.Cos(phi) * e1 + Math.Sin(phi) * e2);
                var p1 = z * a + ((1 - z) * y) * b + kPerp;
                var p3 = (1 - z) * a + (z * y) * b - kPerp;
                var p2 = (1 - y) * b;
                double s13 = 2 * FourVector.Dot(p1, p3);
                foreach (var q in new[] { Fermion.Down, Fermion.Up })
                {
                    double m3 = EeAnnihilation.QqgSquaredAmplitude(K1, K2, a, b, hard[2], q, Sm);
                    double limit = 8 * Math.PI * Sm.AlphaS / s13 * cf * (1 + z * z) / (1 - z) * m3;
                    double ratio = M4([p1, p2, p3, hard[2]], q) / limit;
                    Assert.True(Math.Abs(ratio - 1) < 30 * Math.Sqrt(y), $"y = {y}: |M₄|²/limit = {ratio}");
                    if (q == Fermion.Down) { Assert.True(Math.Abs(ratio - 1) < Math.Max(previous / 10, 1e-7)); previous = Math.Abs(ratio - 1); }
                }
            }
        }
    }

    /// <summary>A unit space-like vector orthogonal to the light-like a and b (and to <paramref name="other"/>), from r.</summary>
    static FourVector Transverse(FourVector a, FourVector b, FourVector r, FourVector? other)
    {
        double ab = FourVector.Dot(a, b);
        var e = r - (FourVector.Dot(r, b) / ab) * a - (FourVector.Dot(r, a) / ab) * b;
        if (other is { } o) e += FourVector.Dot(e, o) * o;
        return (1 / Math.Sqrt(-FourVector.Dot(e, e))) * e;
    }
}
