using System.Numerics;
using NormalizingFlows.Hep.PhaseSpace;
using Xunit.Abstractions;

namespace NormalizingFlows.Hep.Tests.PhaseSpace;

public class EeToMuMuTests(ITestOutputHelper output)
{
    const double PicobarnPerInverseGeV2 = 0.3893794e9;

    /// <summary>The PDG textbook form: σ = 4πα²/(3s)[Q² − 2Q v_e v_f Re χ + (v_e² + a_e²)(v_f² + a_f²)|χ|²].</summary>
    static double TextbookCrossSection(double sqrtS, StandardModelParameters p)
    {
        double s = sqrtS * sqrtS, sw2 = p.SinSquaredThetaW;
        Complex chi = s / (4 * sw2 * (1 - sw2) * new Complex(s - p.ZMass * p.ZMass, p.ZMass * p.ZWidth));
        double q = -1, v = -0.5 + 2 * sw2, a = -0.5;
        double bracket = q * q - 2 * q * v * v * chi.Real + (v * v + a * a) * (v * v + a * a) * chi.Magnitude * chi.Magnitude;
        return 4 * Math.PI * p.AlphaQed * p.AlphaQed / (3 * s) * bracket * PicobarnPerInverseGeV2;
    }

    /// <summary>A_FB = (3/4)[−2Q a_e a_f Re χ + 4 v_e a_e v_f a_f |χ|²] / [Q² − 2Q v_e v_f Re χ + (v_e² + a_e²)(v_f² + a_f²)|χ|²].</summary>
    static double TextbookAsymmetry(double sqrtS, StandardModelParameters p)
    {
        double s = sqrtS * sqrtS, sw2 = p.SinSquaredThetaW;
        Complex chi = s / (4 * sw2 * (1 - sw2) * new Complex(s - p.ZMass * p.ZMass, p.ZMass * p.ZWidth));
        double q = -1, v = -0.5 + 2 * sw2, a = -0.5, abs2 = chi.Magnitude * chi.Magnitude;
        double a1 = -2 * q * a * a * chi.Real + 4 * v * a * v * a * abs2;
        double a0 = q * q - 2 * q * v * v * chi.Real + (v * v + a * a) * (v * v + a * a) * abs2;
        return 0.75 * a1 / a0;
    }

    [Theory]
    [InlineData(91.2)]
    [InlineData(60.0)]
    [InlineData(200.0)]
    public void AnalyticCrossSectionAndAsymmetryMatchTheTextbookGammaZFormulas(double sqrtS)
    {
        var p = StandardModelParameters.Default;
        double sigma = EeAnnihilation.PairCrossSection(Fermion.Muon, sqrtS, p);
        double textbook = TextbookCrossSection(sqrtS, p);
        double afb = EeAnnihilation.PairForwardBackwardAsymmetry(Fermion.Muon, sqrtS, p);
        output.WriteLine($"sqrt(s) = {sqrtS}: sigma = {sigma:G8} pb, textbook {textbook:G8} pb; A_FB = {afb:G6}, textbook {TextbookAsymmetry(sqrtS, p):G6}");
        Assert.Equal(textbook, sigma, 1e-10 * textbook);
        Assert.Equal(TextbookAsymmetry(sqrtS, p), afb, 1e-12);
    }

    [Fact]
    public void WithoutTheZTheCrossSectionAndAmplitudeArePureQed()
    {
        // M_Z → ∞ decouples the Z: σ = 4πα²/(3s), |M|² = 16π²α²(1 + cos²θ), no asymmetry.
        var p = StandardModelParameters.Default with { ZMass = 1e7 };
        double sqrtS = 10, s = 100;
        double qed = 4 * Math.PI * p.AlphaQed * p.AlphaQed / (3 * s) * PicobarnPerInverseGeV2;
        Assert.Equal(qed, EeAnnihilation.PairCrossSection(Fermion.Muon, sqrtS, p), 1e-6 * qed);
        Assert.True(Math.Abs(EeAnnihilation.PairForwardBackwardAsymmetry(Fermion.Muon, sqrtS, p)) < 1e-8);
        var k1 = new FourVector(5, 0, 0, 5);
        var k2 = new FourVector(5, 0, 0, -5);
        foreach (double c in new[] { -0.9, -0.2, 0.0, 0.5, 1.0 })
        {
            var mu = FourVector.FromPolar(5, 5, c, 0.3);
            double m2 = EeAnnihilation.PairSquaredAmplitude(k1, k2, mu, mu.Reflected, Fermion.Muon, p);
            double expected = 16 * Math.PI * Math.PI * p.AlphaQed * p.AlphaQed * (1 + c * c);
            Assert.Equal(expected, m2, 1e-6 * expected);
        }
    }

    [Theory]
    [InlineData(PhaseSpaceMappingKind.Angles, 100_000)]
    [InlineData(PhaseSpaceMappingKind.Rambo, 100_000)]
    public void PlainMonteCarloReproducesTheAnalyticCrossSection(PhaseSpaceMappingKind mapping, int n)
    {
        var process = new EeToMuMuProcess(91.2, mapping);
        var r = PlainMc.Integrate(process, n, 17);
        double exact = process.AnalyticCrossSection;
        output.WriteLine($"ee->mumu {mapping} (d = {process.Dimensions}), {n} points: {r.Mean:F3} ± {r.Error:F3} pb, analytic {exact:F3} pb, pull {(r.Mean - exact) / r.Error:F2}");
        Assert.Equal(exact, process.AnalyticValue);
        Assert.True(Math.Abs(r.Mean - exact) < 4 * r.Error, $"{r.Mean} ± {r.Error} vs {exact}");
        Assert.True(r.Error < 0.01 * exact, $"error {r.Error} too large to test anything");
    }

    [Theory]
    [InlineData(91.2)]
    [InlineData(60.0)]
    public void ForwardBackwardAsymmetryMatchesTheAnalyticValue(double sqrtS)
    {
        var process = new EeToMuMuProcess(sqrtS);
        const int n = 500_000;
        var r = PlainMc.Integrate(process, n, 23);
        // μ⁻ direction from the mapping: cos θ = 2u₀ − 1. A_FB = Σ f sign(cos θ) / Σ f (ratio estimator).
        var p = new FourVector[2];
        var signed = new double[n];
        for (int i = 0; i < n; i++)
        {
            process.Evaluate(r.Points.AsSpan(2 * i, 2), p);
            signed[i] = r.Values[i] * Math.Sign(p[0].CosTheta);
        }
        var (num, _) = PlainMc.MeanAndError(signed);
        double afb = num / r.Mean;
        double varSum = 0;
        for (int i = 0; i < n; i++) { double d = signed[i] - afb * r.Values[i]; varSum += d * d; }
        double err = Math.Sqrt(varSum / n / (n - 1)) / r.Mean;
        double exact = process.AnalyticForwardBackwardAsymmetry;
        output.WriteLine($"sqrt(s) = {sqrtS}: A_FB = {afb:F5} ± {err:F5}, analytic {exact:F5}");
        Assert.True(Math.Abs(afb - exact) < 4 * err, $"A_FB {afb} ± {err} vs {exact}");
        Assert.True(Math.Abs(exact) > 5 * err, "the asymmetry must be resolved for the test to mean something");
    }
}
