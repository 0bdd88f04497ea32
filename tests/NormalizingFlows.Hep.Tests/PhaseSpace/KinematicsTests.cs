using NormalizingFlows.Hep.PhaseSpace;
using NormalizingFlows.Tensors;
using Xunit.Abstractions;

namespace NormalizingFlows.Hep.Tests.PhaseSpace;

public class KinematicsTests(ITestOutputHelper output)
{
    const double SqrtS = 91.2;

    static void AssertConservesAndMassless(ReadOnlySpan<FourVector> p, double sqrtS)
    {
        FourVector sum = default;
        foreach (var q in p)
        {
            Assert.True(Math.Abs(q.M2) < 1e-9 * sqrtS * sqrtS, $"M² = {q.M2} for {q}");
            Assert.True(q.E > 0, $"negative energy {q}");
            sum += q;
        }
        Assert.Equal(sqrtS, sum.E, 1e-9 * sqrtS);
        Assert.True(Math.Abs(sum.Px) + Math.Abs(sum.Py) + Math.Abs(sum.Pz) < 1e-9 * sqrtS, $"total momentum {sum}");
    }

    [Fact]
    public void BoostAndRotationPreserveInvariants()
    {
        var frame = new FourVector(50, 10, -20, 30);
        var rest = new FourVector(frame.M, 0, 0, 0);
        var lab = rest.BoostedFromRestFrameOf(frame);
        Assert.Equal(frame.E, lab.E, 1e-12);
        Assert.Equal(frame.Px, lab.Px, 1e-12);
        Assert.Equal(frame.Pz, lab.Pz, 1e-12);
        var a = new FourVector(7, 1, 2, 3);
        var b = new FourVector(9, -2, 4, 1);
        double dot = FourVector.Dot(a, b);
        Assert.Equal(dot, FourVector.Dot(a.BoostedFromRestFrameOf(frame), b.BoostedFromRestFrameOf(frame)), 1e-10);
        Assert.Equal(dot, FourVector.Dot(a.RotatedToDirection(0.3, 2.0), b.RotatedToDirection(0.3, 2.0)), 1e-12);
        var z = new FourVector(1, 0, 0, 1).RotatedToDirection(-0.4, 1.1);
        Assert.Equal(-0.4, z.CosTheta, 1e-14);
        Assert.Equal(1.1, z.Phi, 1e-14);
    }

    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(5)]
    public void RamboMomentaConserveEnergyMomentumAndAreMassless(int n)
    {
        var map = new RamboMapping(n, SqrtS);
        var rng = new Rng(10 + n);
        var u = new double[map.Dimensions];
        var p = new FourVector[n];
        for (int k = 0; k < 2000; k++)
        {
            for (int i = 0; i < u.Length; i++) u[i] = rng.NextDouble();
            double w = map.Map(u, p);
            Assert.Equal(PhaseSpaceVolume.Massless(n, SqrtS * SqrtS), w);
            AssertConservesAndMassless(p, SqrtS);
        }
    }

    [Fact]
    public void MasslessVolumeMatchesTheTwoAndThreeBodyFormulas()
    {
        double s = SqrtS * SqrtS;
        Assert.Equal(1 / (8 * Math.PI), PhaseSpaceVolume.Massless(2, s), 1e-15);
        Assert.Equal(s / (256 * Math.Pow(Math.PI, 3)), PhaseSpaceVolume.Massless(3, s), 1e-12);
    }

    [Fact]
    public void RamboThreeBodyPointsAreUniformOnTheDalitzTriangle()
    {
        // Flat three-body phase space is uniform in (x₁, x₂): the share with all y_ij > y is (1 − 3y)², ⟨x₁⟩ = 2/3.
        var map = new RamboMapping(3, SqrtS);
        var rng = new Rng(3);
        const int n = 40_000;
        const double y = 0.1;
        var u = new double[12];
        var p = new FourVector[3];
        double s = SqrtS * SqrtS;
        int inside = 0;
        double sumX1 = 0, sumX1Sq = 0;
        for (int k = 0; k < n; k++)
        {
            for (int i = 0; i < 12; i++) u[i] = rng.NextDouble();
            map.Map(u, p);
            double y12 = 2 * FourVector.Dot(p[0], p[1]) / s, y13 = 2 * FourVector.Dot(p[0], p[2]) / s, y23 = 2 * FourVector.Dot(p[1], p[2]) / s;
            if (y12 > y && y13 > y && y23 > y) inside++;
            double x1 = 2 * p[0].E / SqrtS;
            sumX1 += x1; sumX1Sq += x1 * x1;
        }
        double share = (double)inside / n, expected = (1 - 3 * y) * (1 - 3 * y);
        double shareErr = Math.Sqrt(expected * (1 - expected) / n);
        double meanX1 = sumX1 / n, meanErr = Math.Sqrt((sumX1Sq / n - meanX1 * meanX1) / n);
        output.WriteLine($"share {share:F4} (expect {expected:F4} ± {shareErr:F4}), <x1> {meanX1:F4} ± {meanErr:F4} (expect 0.6667)");
        Assert.True(Math.Abs(share - expected) < 4 * shareErr, $"share {share} vs {expected}");
        Assert.True(Math.Abs(meanX1 - 2.0 / 3) < 4 * meanErr, $"<x1> {meanX1}");
    }

    [Fact]
    public void MultichannelMappingConservesMomentumAndHitsTheSampledVirtuality()
    {
        var map = ThreeBodyMultichannelMapping.ForCut(SqrtS, 0.01);
        double s = SqrtS * SqrtS;
        var p = new FourVector[3];
        // u₄ = 1/2 gives the geometric mean of the virtuality range; channel 0 puts it on s₁₃, channel 1 on s₂₃.
        double mid = Math.Sqrt(map.SMin * map.SMax);
        map.Map([0.3, 0.7, 0.2, 0.9, 0.5, 0.25], p);
        AssertConservesAndMassless(p, SqrtS);
        Assert.Equal(mid, 2 * FourVector.Dot(p[0], p[2]), 1e-9 * s);
        // The decaying fermion 1+3 flies at cos θ = 2·0.3 − 1 = −0.4, φ = 2π·0.7 − 2π; p₂ recoils.
        var parent = p[0] + p[2];
        Assert.Equal(-0.4, parent.CosTheta, 1e-12);
        Assert.Equal(2 * Math.PI * 0.7 - 2 * Math.PI, parent.Phi, 1e-12);
        map.Map([0.3, 0.7, 0.2, 0.9, 0.5, 0.75], p);
        AssertConservesAndMassless(p, SqrtS);
        Assert.Equal(mid, 2 * FourVector.Dot(p[1], p[2]), 1e-9 * s);
        var rng = new Rng(5);
        var u = new double[6];
        for (int k = 0; k < 2000; k++)
        {
            for (int i = 0; i < 6; i++) u[i] = rng.NextDouble();
            Assert.True(map.Map(u, p) > 0);
            AssertConservesAndMassless(p, SqrtS);
        }
    }

    [Theory]
    [InlineData(0.01)]
    [InlineData(0.1)]
    public void MultichannelWeightIntegratesTheCutPhaseSpaceVolume(double y)
    {
        // ∫ Θ(cuts) dΦ₃ = s/(128π³) · Area = s/(256π³) (1 − 3y)²: checks the multichannel weight 1/Σ α_k g_k.
        var map = ThreeBodyMultichannelMapping.ForCut(SqrtS, y);
        double s = SqrtS * SqrtS;
        var rng = new Rng(7);
        const int n = 100_000;
        var u = new double[6];
        var p = new FourVector[3];
        var v = new double[n];
        for (int k = 0; k < n; k++)
        {
            for (int i = 0; i < 6; i++) u[i] = rng.NextDouble();
            double w = map.Map(u, p);
            bool pass = 2 * FourVector.Dot(p[0], p[1]) > y * s && 2 * FourVector.Dot(p[0], p[2]) > y * s && 2 * FourVector.Dot(p[1], p[2]) > y * s;
            v[k] = pass ? w : 0;
        }
        var (mean, err) = PlainMc.MeanAndError(v);
        double expected = PhaseSpaceVolume.Massless(3, s) * (1 - 3 * y) * (1 - 3 * y);
        output.WriteLine($"y = {y}: volume {mean:G6} ± {err:G3}, expected {expected:G6} (pull {(mean - expected) / err:F2})");
        Assert.True(Math.Abs(mean - expected) < 4 * err, $"volume {mean} ± {err} vs {expected}");
        Assert.True(err < 0.01 * expected);
    }

    [Fact]
    public void MappingsRejectWrongLengthsAndBadRanges()
    {
        var map = new RamboMapping(3, SqrtS);
        Assert.Throws<ArgumentException>(() => map.Map(new double[11], new FourVector[3]));
        Assert.Throws<ArgumentException>(() => map.Map(new double[12], new FourVector[2]));
        Assert.Throws<ArgumentOutOfRangeException>(() => new RamboMapping(1, SqrtS));
        Assert.Throws<ArgumentOutOfRangeException>(() => ThreeBodyMultichannelMapping.ForCut(SqrtS, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new ThreeBodyMultichannelMapping(SqrtS, 100, 50));
    }
}
