using NormalizingFlows.Hep.Evaluation;
using NormalizingFlows.Tensors;

namespace NormalizingFlows.Hep.Tests.Evaluation;

public class RocTests
{
    private static double[] Normal(int n, double mean, Rng rng) => Enumerable.Range(0, n).Select(_ => mean + rng.NextNormal()).ToArray();

    /// <summary>O(n²) reference: weighted Mann–Whitney with ties counted one half.</summary>
    private static double BruteAuc(double[] pos, double[] neg, double[]? wp = null, double[]? wn = null)
    {
        double s = 0, sp = 0, sn = 0;
        for (int i = 0; i < pos.Length; i++) sp += wp?[i] ?? 1;
        for (int j = 0; j < neg.Length; j++) sn += wn?[j] ?? 1;
        for (int i = 0; i < pos.Length; i++)
            for (int j = 0; j < neg.Length; j++)
                s += (wp?[i] ?? 1) * (wn?[j] ?? 1) * (pos[i] > neg[j] ? 1 : pos[i] == neg[j] ? 0.5 : 0);
        return s / (sp * sn);
    }

    [Fact]
    public void PerfectSeparationGivesOneAndReversedGivesZero()
    {
        var roc = Roc.Compute([3.0, 4, 5], [0.0, 1, 2]);
        Assert.Equal(1.0, roc.Auc, 12);
        Assert.Equal(0.0, Roc.Compute([0.0, 1, 2], [3.0, 4, 5]).Auc, 12);
        Assert.Equal(0.0, roc.FalsePositiveRate[0]);
        Assert.Equal(1.0, roc.TruePositiveRate[^1]);
        Assert.Equal(1.0, roc.FalsePositiveRate[^1]);
    }

    [Fact]
    public void TiesCountOneHalf()
    {
        Assert.Equal(4.0 / 6, Roc.Compute([1.0, 2, 2], [2.0, 0]).Auc, 12);
        Assert.Equal(0.5, Roc.Compute([1.0, 1, 1], [1.0, 1]).Auc, 12);
        var rng = new Rng(3);
        var pos = Enumerable.Range(0, 200).Select(_ => (double)rng.NextInt(6)).ToArray();
        var neg = Enumerable.Range(0, 150).Select(_ => (double)rng.NextInt(5)).ToArray();
        var wp = pos.Select(_ => 0.2 + rng.NextDouble()).ToArray();
        var wn = neg.Select(_ => 0.2 + rng.NextDouble()).ToArray();
        Assert.Equal(BruteAuc(pos, neg), Roc.Compute(pos, neg).Auc, 12);
        Assert.Equal(BruteAuc(pos, neg, wp, wn), Roc.Compute(pos, neg, wp, wn).Auc, 12);
    }

    [Fact]
    public void IntegerWeightsEqualDuplicatedEvents()
    {
        var rng = new Rng(5);
        var pos = Normal(100, 0.7, rng); var neg = Normal(80, 0, rng);
        var wp = pos.Select(_ => (double)(1 + rng.NextInt(3))).ToArray();
        var wn = neg.Select(_ => (double)(1 + rng.NextInt(3))).ToArray();
        var dupPos = pos.SelectMany((v, i) => Enumerable.Repeat(v, (int)wp[i])).ToArray();
        var dupNeg = neg.SelectMany((v, i) => Enumerable.Repeat(v, (int)wn[i])).ToArray();
        var w = Roc.Compute(pos, neg, wp, wn);
        var d = Roc.Compute(dupPos, dupNeg);
        Assert.Equal(d.Auc, w.Auc, 12);
        Assert.Equal(d.TruePositiveRate, w.TruePositiveRate, (a, b) => Math.Abs(a - b) < 1e-12);
        Assert.Equal(d.FalsePositiveRate, w.FalsePositiveRate, (a, b) => Math.Abs(a - b) < 1e-12);
        // unit weights give exactly the unweighted DeLong error
        var u = Roc.Compute(pos, neg, pos.Select(_ => 1.0).ToArray(), neg.Select(_ => 1.0).ToArray());
        Assert.Equal(Roc.Compute(pos, neg).AucError, u.AucError, 12);
    }

    [Fact]
    public void IdenticalSamplesGiveOneHalfWithinTheStatedError()
    {
        var rng = new Rng(11);
        var roc = Roc.Compute(Normal(5000, 0, rng), Normal(4000, 0, rng));
        Assert.InRange(roc.AucError, 0.004, 0.008); // ≈ √((1/n₊ + 1/n₋)/12)
        Assert.True(Math.Abs(roc.Auc - 0.5) < 3 * roc.AucError, $"AUC {roc.Auc} ± {roc.AucError}");
    }

    [Theory]
    [InlineData(0.5)]
    [InlineData(1.0)]
    [InlineData(2.0)]
    public void GaussianShiftMatchesTheAnalyticAuc(double delta)
    {
        var rng = new Rng(17 + (int)(10 * delta));
        var roc = Roc.Compute(Normal(20000, delta, rng), Normal(20000, 0, rng));
        double expected = TestData.NormalCdf(delta / Math.Sqrt(2));
        Assert.True(Math.Abs(roc.Auc - expected) < 4 * roc.AucError, $"AUC {roc.Auc} ± {roc.AucError}, Φ(Δ/√2) = {expected}");
    }

    [Fact]
    public void DeLongErrorMatchesBruteForceComponentsAndTheBootstrap()
    {
        var rng = new Rng(23);
        var pos = Normal(60, 1.0, rng); var neg = Normal(50, 0, rng);
        var roc = Roc.Compute(pos, neg);
        // DeLong by definition, O(n²)
        double a = BruteAuc(pos, neg);
        var v10 = pos.Select(p => neg.Average(q => p > q ? 1 : p == q ? 0.5 : 0)).ToArray();
        var v01 = neg.Select(q => pos.Average(p => p > q ? 1 : p == q ? 0.5 : 0)).ToArray();
        double s10 = v10.Sum(v => (v - a) * (v - a)) / (pos.Length - 1), s01 = v01.Sum(v => (v - a) * (v - a)) / (neg.Length - 1);
        Assert.Equal(Math.Sqrt(s10 / pos.Length + s01 / neg.Length), roc.AucError, 12);
        // stratified bootstrap
        var boot = new double[2000];
        for (int b = 0; b < boot.Length; b++)
        {
            var bp = pos.Select(_ => pos[rng.NextInt(pos.Length)]).ToArray();
            var bn = neg.Select(_ => neg[rng.NextInt(neg.Length)]).ToArray();
            boot[b] = Roc.Compute(bp, bn).Auc;
        }
        double m = boot.Average(), sd = Math.Sqrt(boot.Sum(v => (v - m) * (v - m)) / (boot.Length - 1));
        Assert.InRange(roc.AucError / sd, 0.85, 1.15);
        Assert.Equal("DeLong", Roc.AucWithError(pos.Concat(neg).ToArray(), pos.Select(_ => true).Concat(neg.Select(_ => false)).ToArray()).Method);
    }

    [Fact]
    public void HanleyMcNeilIsCloseToDeLongForBinormalScores()
    {
        var rng = new Rng(29);
        var roc = Roc.Compute(Normal(3000, 1, rng), Normal(3000, 0, rng));
        Assert.InRange(Roc.HanleyMcNeilError(roc.Auc, 3000, 3000) / roc.AucError, 0.85, 1.2);
        // a single weighted event per class cannot give DeLong's variance: the fallback is used
        var est = Roc.AucWithError([1.0, 0.0], [true, false]);
        Assert.Equal("Hanley-McNeil", est.Method);
        Assert.True(double.IsFinite(est.Error));
    }

    [Fact]
    public void SicAndRejectionOnAKnownCurve()
    {
        // positives: half at score 2, half at 0; negatives: 4% at 2, 96% at 0
        var pos = Enumerable.Repeat(2.0, 500).Concat(Enumerable.Repeat(0.0, 500)).ToArray();
        var neg = Enumerable.Repeat(2.0, 40).Concat(Enumerable.Repeat(0.0, 960)).ToArray();
        var roc = Roc.Compute(pos, neg);
        Assert.Equal(3, roc.TruePositiveRate.Length);
        Assert.Equal(0.5, roc.TruePositiveRate[1], 12);
        Assert.Equal(0.04, roc.FalsePositiveRate[1], 12);
        Assert.Equal(40, roc.BackgroundCounts[1]);
        var sic = Roc.Sic(roc);
        Assert.Equal(2.5, sic.MaxSic, 12);
        Assert.Equal(0.5, sic.TruePositiveRateAtMax, 12);
        Assert.Equal(0.04, sic.FalsePositiveRateAtMax, 12);
        // the guard: 40 background events are too few when 50 are required
        Assert.Equal(1.0, Roc.Sic(roc, minBackgroundEvents: 50).MaxSic, 12);
        Assert.Equal(1.0, Roc.Sic(roc, minFalsePositiveRate: 0.05).MaxSic, 12);
        Assert.Equal(25, Roc.RejectionAt(roc, 0.5), 9);
        Assert.Equal(50, Roc.RejectionAt(roc, 0.25), 9);
        Assert.Equal(1, Roc.RejectionAt(roc, 1.0), 9);
        Assert.Equal(double.PositiveInfinity, Roc.RejectionAt(Roc.Compute([3.0, 4], [0.0, 1]), 1.0));
    }

    [Fact]
    public void EmptyClassesAndBadInputsAreRejectedClearly()
    {
        var e = Assert.Throws<ArgumentException>(() => Roc.Compute(new[] { 1.0, 2 }, Array.Empty<double>()));
        Assert.Contains("both classes", e.Message);
        Assert.Throws<ArgumentException>(() => Roc.Compute(Array.Empty<double>(), new[] { 1.0 }));
        Assert.Throws<ArgumentException>(() => Roc.Auc([1.0, double.NaN], [true, false]));
        Assert.Throws<ArgumentException>(() => Roc.Auc([1.0, 2], [true]));
        Assert.Throws<ArgumentException>(() => Roc.Compute([1.0], [2.0], [-1.0], [1.0]));
    }

    [Fact]
    public void ThinKeepsEndsAndAuc()
    {
        var rng = new Rng(31);
        var roc = Roc.Compute(Normal(1000, 1, rng), Normal(1000, 0, rng));
        var t = roc.Thin(50);
        Assert.True(t.TruePositiveRate.Length <= 50);
        Assert.Equal(0.0, t.FalsePositiveRate[0]);
        Assert.Equal(1.0, t.FalsePositiveRate[^1]);
        Assert.Equal(roc.Auc, t.Auc);
    }
}
