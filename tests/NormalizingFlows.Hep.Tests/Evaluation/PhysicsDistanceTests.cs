using NormalizingFlows.Hep.Evaluation;
using NormalizingFlows.Tensors;
using Xunit.Abstractions;

namespace NormalizingFlows.Hep.Tests.Evaluation;

public class PhysicsDistanceTests(ITestOutputHelper output)
{
    [Fact]
    public void JacobiEigendecompositionReconstructsTheMatrix()
    {
        var rng = new Rng(5);
        const int n = 7;
        var b = new double[n, n];
        for (int i = 0; i < n; i++) for (int j = 0; j < n; j++) b[i, j] = rng.NextNormal();
        var a = new double[n, n];
        for (int i = 0; i < n; i++) for (int j = 0; j < n; j++) a[i, j] = b[i, j] + b[j, i];
        var (values, vectors) = SymmetricEigen.Decompose(a);
        for (int k = 1; k < n; k++) Assert.True(values[k] >= values[k - 1]);
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++)
            {
                double rebuilt = 0, orthogonality = 0;
                for (int k = 0; k < n; k++) { rebuilt += vectors[i, k] * values[k] * vectors[j, k]; orthogonality += vectors[k, i] * vectors[k, j]; }
                Assert.Equal(a[i, j], rebuilt, 12);
                Assert.Equal(i == j ? 1 : 0, orthogonality, 12);
            }
        // trace = sum of eigenvalues; the square root squares back
        Assert.Equal(Enumerable.Range(0, n).Sum(i => a[i, i]), values.Sum(), 12);
        var spd = new double[n, n];
        for (int i = 0; i < n; i++) for (int j = 0; j < n; j++) for (int k = 0; k < n; k++) spd[i, j] += b[i, k] * b[j, k];
        var root = SymmetricEigen.Sqrt(spd);
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++)
            {
                double sq = 0;
                for (int k = 0; k < n; k++) sq += root[i, k] * root[k, j];
                Assert.Equal(spd[i, j], sq, 10);
            }
    }

    [Fact]
    public void FrechetDistanceMatchesTheClosedFormOnGaussians()
    {
        // commuting covariances: Tr (Σ₁Σ₂)^½ = Σ √(a_i b_i)
        double[] m1 = [1, -2, 0.5], m2 = [0, 1, 0.5];
        var c1 = new double[3, 3];
        var c2 = new double[3, 3];
        double[] a = [1, 4, 0.25], b = [9, 1, 1];
        for (int i = 0; i < 3; i++) { c1[i, i] = a[i]; c2[i, i] = b[i]; }
        double expected = 1 + 9 + 0 + (1 + 9 - 2 * 3) + (4 + 1 - 2 * 2) + (0.25 + 1 - 2 * 0.5);
        Assert.Equal(expected, PhysicsDistance.Frechet(m1, c1, m2, c2), 12);
        // non-commuting, 2-D: √(Σ₁Σ₂) has trace √(tr M + 2√det M) for M = Σ₁Σ₂ (both eigenvalues real and positive)
        var s1 = new double[,] { { 2, 0.8 }, { 0.8, 1 } };
        var s2 = new double[,] { { 1, -0.3 }, { -0.3, 3 } };
        double p00 = 2 * 1 + 0.8 * -0.3, p11 = 0.8 * -0.3 + 1 * 3, det = (2 * 1 - 0.8 * 0.8) * (1 * 3 - 0.3 * 0.3);
        double traceRoot = Math.Sqrt(p00 + p11 + 2 * Math.Sqrt(det));
        double closed = 0.5 * 0.5 + 2 + 1 + 1 + 3 - 2 * traceRoot;
        Assert.Equal(closed, PhysicsDistance.Frechet([0.5, 0], s1, [0, 0], s2), 12);
        Assert.Equal(0, PhysicsDistance.Frechet([0.5, 0], s1, [0.5, 0], s1), 12);
        // the sample-based FPD of two large Gaussian samples approaches the closed form of their distributions
        var rng = new Rng(11);
        var x = Correlated(rng, 60_000, [0.5, 0], s1);
        var y = Correlated(rng, 60_000, [0, 0], s2);
        var fpd = PhysicsDistance.Fpd(x, y, new PhysicsDistanceOptions { Normalise = false, FpdMinSamples = 5_000, FpdMaxSamples = 20_000, FpdBatches = 5 });
        output.WriteLine($"FPD {fpd.Describe()} vs closed form {closed:G4}");
        Assert.InRange(fpd.Value, closed - 0.03, closed + 0.03);
        Assert.True(fpd.Error > 0 && fpd.Error < 0.02, $"error {fpd.Error}");
    }

    [Fact]
    public void FpdAndKpdAreZeroWithinErrorsForOneDistributionAndPositiveForShiftedOnes()
    {
        var options = new PhysicsDistanceOptions { FpdMinSamples = 1_000, FpdMaxSamples = 4_000, FpdBatches = 10, KpdBatchSize = 1_000, KpdBatches = 10 };
        var (a, b) = TestData.Pair(3, 40_000, 40_000, 4);
        var fpd = PhysicsDistance.Fpd(a, b, options);
        var kpd = PhysicsDistance.Kpd(a, b, options);
        output.WriteLine($"same: FPD {fpd.Describe()}, KPD {kpd.Describe()}");
        Assert.True(fpd.Value <= 3 * fpd.Error, $"FPD {fpd.Describe()} of one distribution");
        Assert.True(Math.Abs(kpd.Value) <= 3 * kpd.Error, $"KPD {kpd.Describe()} of one distribution");
        var (c, d) = TestData.Pair(3, 40_000, 40_000, 4, shiftA: 0.3);
        var fpdShift = PhysicsDistance.Fpd(c, d, options);
        var kpdShift = PhysicsDistance.Kpd(c, d, options);
        output.WriteLine($"shifted by 0.3σ: FPD {fpdShift.Describe()}, KPD {kpdShift.Describe()}");
        Assert.True(fpdShift.Value > 10 * fpdShift.Error && fpdShift.Value > 10 * fpd.Value, $"FPD {fpdShift.Describe()} of shifted samples");
        Assert.True(kpdShift.Value > 5 * kpdShift.Error, $"KPD {kpdShift.Describe()} of shifted samples");
        // without normalisation a mean shift δ gives FPD ≈ δ²
        var raw = PhysicsDistance.Fpd(c, d, options with { Normalise = false });
        Assert.InRange(raw.Value, 0.09 - 0.02, 0.09 + 0.02);
        // the same seed gives the same numbers
        Assert.Equal(kpdShift, PhysicsDistance.Kpd(c, d, options));
    }

    [Fact]
    public void UnbiasedMmdMatchesTheDefinitionAndArgumentsAreChecked()
    {
        double[] x = [0.1, 0.2, -0.3, 0.5, 0.7, -0.1];
        double[] y = [0.0, 0.4, 0.9, -0.2];
        static double K(double[] a, int i, double[] b, int j) => Math.Pow((a[2 * i] * b[2 * j] + a[2 * i + 1] * b[2 * j + 1]) / 2 + 1, 3);
        double xx = 0, yy = 0, xy = 0;
        for (int i = 0; i < 3; i++) for (int j = 0; j < 3; j++) if (i != j) xx += K(x, i, x, j);
        for (int i = 0; i < 2; i++) for (int j = 0; j < 2; j++) if (i != j) yy += K(y, i, y, j);
        for (int i = 0; i < 3; i++) for (int j = 0; j < 2; j++) xy += K(x, i, y, j);
        Assert.Equal(xx / 6 + yy / 2 - 2 * xy / 6, PhysicsDistance.UnbiasedMmd2(x, y, 2, 3), 12);
        var ex = Assert.Throws<ArgumentException>(() => PhysicsDistance.Kpd([[1, 2, 3]], [[1, 2], [3, 4]]));
        Assert.Contains("generated", ex.Message);
        ex = Assert.Throws<ArgumentException>(() => PhysicsDistance.Fpd([[1, double.NaN, 3]], [[1, 2, 3]]));
        Assert.Contains("event 1", ex.Message);
        Assert.Throws<ArgumentException>(() => PhysicsDistance.Fpd([new double[10]], [new double[10]]));
    }

    private static double[][] Correlated(Rng rng, int n, double[] mean, double[,] covariance)
    {
        // x = μ + L z with L Lᵀ = Σ (2×2 Cholesky)
        double l00 = Math.Sqrt(covariance[0, 0]), l10 = covariance[1, 0] / l00, l11 = Math.Sqrt(covariance[1, 1] - l10 * l10);
        var c = new[] { new double[n], new double[n] };
        for (int i = 0; i < n; i++)
        {
            double z0 = rng.NextNormal(), z1 = rng.NextNormal();
            c[0][i] = mean[0] + l00 * z0;
            c[1][i] = mean[1] + l10 * z0 + l11 * z1;
        }
        return c;
    }
}
