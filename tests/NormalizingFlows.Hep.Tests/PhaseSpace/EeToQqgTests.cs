using NormalizingFlows.Hep.PhaseSpace;
using Xunit.Abstractions;

namespace NormalizingFlows.Hep.Tests.PhaseSpace;

public class EeToQqgTests(ITestOutputHelper output)
{
    const double SqrtS = 91.2;
    const double PicobarnPerInverseGeV2 = 0.3893794e9;

    static double Li2(double x)
    {
        double sum = 0, term = 1;
        for (int k = 1; k < 400; k++) { term *= x; sum += term / ((double)k * k); }
        return sum;
    }

    /// <summary>A q q̄ g configuration with energy fractions x₁, x₂ (x₃ = 2 − x₁ − x₂), in a generic orientation.</summary>
    static FourVector[] Configuration(double x1, double x2, double sqrtS)
    {
        double e1 = x1 * sqrtS / 2, e2 = x2 * sqrtS / 2, e3 = (2 - x1 - x2) * sqrtS / 2;
        // Angle between p₁ and p₂ from p₃² = 0: cos θ₁₂ = (e3² − e1² − e2²)/(2 e1 e2).
        double c12 = (e3 * e3 - e1 * e1 - e2 * e2) / (2 * e1 * e2);
        var p1 = new FourVector(e1, 0, 0, e1);
        var p2 = FourVector.FromPolar(e2, e2, c12, 0);
        var p3 = new FourVector(e3, -p1.Px - p2.Px, -p1.Py - p2.Py, -p1.Pz - p2.Pz);
        return [p1.RotatedToDirection(0.37, 1.3), p2.RotatedToDirection(0.37, 1.3), p3.RotatedToDirection(0.37, 1.3)];
    }

    [Theory]
    [InlineData(0.9, 0.8)]
    [InlineData(0.5, 0.7)]
    [InlineData(0.99, 0.3)]
    [InlineData(0.7, 0.95)]
    public void AveragingOverOrientationsGivesTheDalitzFormula(double x1, double x2)
    {
        // |M|² is quadratic in the beam direction n, so the average over the six octahedron directions ±x̂, ±ŷ, ±ẑ
        // (a spherical 3-design) is the exact orientation average. dσ/dx₁dx₂ = ⟨|M|²⟩/(2s) · s/(128π³) must equal
        // σ₀ α_s C_F/(2π) (x₁² + x₂²)/((1 − x₁)(1 − x₂)), for each flavour with its own Born σ₀ (γ and Z).
        var sm = StandardModelParameters.Default;
        var p = Configuration(x1, x2, SqrtS);
        double s = SqrtS * SqrtS, e = SqrtS / 2;
        (double, double, double)[] dirs = [(1, 0, 0), (-1, 0, 0), (0, 1, 0), (0, -1, 0), (0, 0, 1), (0, 0, -1)];
        foreach (var q in Fermion.Quarks(5))
        {
            double avg = 0;
            foreach (var (nx, ny, nz) in dirs)
                avg += EeAnnihilation.QqgSquaredAmplitude(new FourVector(e, e * nx, e * ny, e * nz), new FourVector(e, -e * nx, -e * ny, -e * nz),
                                                          p[0], p[1], p[2], q, sm) / dirs.Length;
            double dsigma = avg / (2 * s) * s / (128 * Math.Pow(Math.PI, 3)) * PicobarnPerInverseGeV2;
            double dalitz = EeAnnihilation.PairCrossSection(q, SqrtS, sm) * sm.AlphaS * (4.0 / 3) / (2 * Math.PI) * EeAnnihilation.DalitzDensity(x1, x2);
            Assert.Equal(dalitz, dsigma, 1e-10 * dalitz);
        }
        // A single orientation is not the average: the angular dependence is really there.
        double one = EeAnnihilation.QqgSquaredAmplitude(new FourVector(e, 0, 0, e), new FourVector(e, 0, 0, -e), p[0], p[1], p[2], Fermion.Up, sm);
        double other = EeAnnihilation.QqgSquaredAmplitude(new FourVector(e, e, 0, 0), new FourVector(e, -e, 0, 0), p[0], p[1], p[2], Fermion.Up, sm);
        Assert.True(Math.Abs(one / other - 1) > 1e-3);
    }

    [Theory]
    [InlineData(0.2, 0.25, 0.7)]
    [InlineData(0.7, 0.8, 0.1)]
    public void CollinearGluonFactorisesIntoSplittingFunctionTimesBorn(double u0, double u2, double u3)
    {
        // q ∥ g: |M₃|² → 8πα_s C_F/s₁₃ · (1 + z²)/(1 − z) · |M₂(P, p₂)|², z = E₁/(E₁ + E₃); this fixes which
        // helicity combination goes with which invariants (swapping them breaks the limit off the symmetric point).
        var sm = StandardModelParameters.Default;
        double s = SqrtS * SqrtS;
        var k1 = new FourVector(SqrtS / 2, 0, 0, SqrtS / 2);
        var k2 = new FourVector(SqrtS / 2, 0, 0, -SqrtS / 2);
        foreach (double ratio in new[] { 1e-4, 1e-6, 1e-8 })
        {
            var map = new ThreeBodyMultichannelMapping(SqrtS, ratio * s, 2 * ratio * s);
            var p = new FourVector[3];
            map.Map([u0, 0.3, u2, u3, 0.0, 0.1], p); // channel 0: s₁₃ = ratio · s
            double s13 = 2 * FourVector.Dot(p[0], p[2]);
            double z = p[0].E / (p[0].E + p[2].E);
            var parent = new FourVector(p[1].E, -p[1].Px, -p[1].Py, -p[1].Pz); // massless, back to back with p₂
            foreach (var q in new[] { Fermion.Up, Fermion.Down })
            {
                double m3 = EeAnnihilation.QqgSquaredAmplitude(k1, k2, p[0], p[1], p[2], q, sm);
                double limit = 8 * Math.PI * sm.AlphaS * (4.0 / 3) / s13 * (1 + z * z) / (1 - z)
                               * EeAnnihilation.PairSquaredAmplitude(k1, k2, parent, p[1], q, sm);
                double dev = Math.Abs(m3 / limit - 1);
                output.WriteLine($"s13/s = {ratio:E0}, z = {z:F3}, {q.Name}: |M3|²/limit − 1 = {dev:E2}");
                if (ratio <= 1e-8) Assert.True(dev < 1e-3, $"collinear limit off by {dev}");
            }
        }
    }

    [Theory]
    [InlineData(0.01)]
    [InlineData(0.1)]
    public void DalitzQuadratureMatchesTheClosedForm(double y)
    {
        // ∫ with y_ij > y: (3 − 6y) ln(y/(1 − 2y)) + 2 ln²(y/(1 − y)) + 5/2 − 6y − 9y²/2 + 4 Li₂(y/(1 − y)) − π²/3.
        double closed = (3 - 6 * y) * Math.Log(y / (1 - 2 * y)) + 2 * Math.Pow(Math.Log(y / (1 - y)), 2) + 2.5 - 6 * y - 4.5 * y * y
                        + 4 * Li2(y / (1 - y)) - Math.PI * Math.PI / 3;
        double quad = EeAnnihilation.DalitzIntegral(y);
        output.WriteLine($"y = {y}: quadrature {quad:R}, closed form {closed:R}");
        Assert.Equal(closed, quad, 1e-11 * closed);
        // Bins add up to the whole.
        double[] edges = [0, 0.5, 0.7, 0.9, 0.95, 1.0];
        double sum = 0;
        for (int i = 0; i + 1 < edges.Length; i++) sum += EeAnnihilation.DalitzIntegral(y, x1Low: edges[i], x1High: edges[i + 1]);
        Assert.Equal(quad, sum, 1e-11 * quad);
    }

    [Fact]
    public void MonteCarloCrossSectionAndX1DistributionMatchTheDalitzIntegral()
    {
        const double yCut = 0.01;
        var process = new EeToQqgProcess(SqrtS, yCut);
        const int n = 200_000;
        var r = PlainMc.Integrate(process, n, 31);
        double dalitz = process.DalitzCrossSection;
        output.WriteLine($"ee->qqg y_cut = {yCut}, multichannel (d = 6), {n} points: {r.Mean:F2} ± {r.Error:F2} pb; Dalitz {dalitz:F2} pb; pull {(r.Mean - dalitz) / r.Error:F2}");
        Assert.True(Math.Abs(r.Mean - dalitz) < 4 * r.Error, $"{r.Mean} ± {r.Error} vs {dalitz}");
        Assert.True(r.Error < 0.01 * dalitz);
        // Quark energy fraction x₁ in bins against the quadrature of the Dalitz formula over the same bins.
        double[] edges = [0, 0.6, 0.8, 0.9, 0.97, 1.0];
        var perBin = new double[edges.Length - 1][];
        for (int b = 0; b < perBin.Length; b++) perBin[b] = new double[n];
        var p = new FourVector[3];
        for (int i = 0; i < n; i++)
        {
            if (r.Values[i] == 0) continue;
            process.Evaluate(r.Points.AsSpan(6 * i, 6), p);
            double x1 = 2 * p[0].E / SqrtS;
            for (int b = 0; b < perBin.Length; b++)
                if (x1 >= edges[b] && x1 < edges[b + 1]) perBin[b][i] = r.Values[i];
        }
        double norm = dalitz / EeAnnihilation.DalitzIntegral(yCut);
        for (int b = 0; b < perBin.Length; b++)
        {
            var (mean, err) = PlainMc.MeanAndError(perBin[b]);
            double expected = norm * EeAnnihilation.DalitzIntegral(yCut, x1Low: edges[b], x1High: edges[b + 1]);
            output.WriteLine($"  x1 in [{edges[b]}, {edges[b + 1]}): {mean:F2} ± {err:F2} pb, Dalitz {expected:F2} pb");
            Assert.True(Math.Abs(mean - expected) < 4 * err, $"bin {b}: {mean} ± {err} vs {expected}");
        }
    }

    [Fact]
    public void RamboAndMultichannelMappingsGiveTheSameCrossSection()
    {
        const double yCut = 0.05;
        var channels = new EeToQqgProcess(SqrtS, yCut, mapping: PhaseSpaceMappingKind.Angles);
        var rambo = new EeToQqgProcess(SqrtS, yCut, mapping: PhaseSpaceMappingKind.Rambo);
        Assert.Equal(6, channels.Dimensions);
        Assert.Equal(12, rambo.Dimensions);
        var a = PlainMc.Integrate(channels, 100_000, 41);
        var b = PlainMc.Integrate(rambo, 100_000, 43);
        double diff = a.Mean - b.Mean, err = Math.Sqrt(a.Error * a.Error + b.Error * b.Error);
        output.WriteLine($"y_cut = {yCut}: multichannel {a.Mean:F2} ± {a.Error:F2} pb, RAMBO {b.Mean:F2} ± {b.Error:F2} pb, Dalitz {channels.DalitzCrossSection:F2} pb");
        Assert.True(Math.Abs(diff) < 4 * err, $"{a.Mean} ± {a.Error} vs {b.Mean} ± {b.Error}");
        Assert.True(Math.Abs(b.Mean - channels.DalitzCrossSection) < 4 * b.Error);
        Assert.True(err < 0.02 * a.Mean);
        // The multichannel map follows the 1/s₁₃ 1/s₂₃ peaks: much smaller variance than flat RAMBO.
        Assert.True(a.Error < b.Error, $"multichannel error {a.Error} not below RAMBO's {b.Error}");
    }
}
