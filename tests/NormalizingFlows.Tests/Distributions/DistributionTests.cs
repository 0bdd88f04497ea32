using NormalizingFlows.Autograd;
using NormalizingFlows.Distributions;
using NormalizingFlows.Tensors;

namespace NormalizingFlows.Tests.BaseDistributions;

public class DistributionTests
{
    private static double NormalLogPdf(double x, double mu, double sigma) =>
        -0.5 * Math.Pow((x - mu) / sigma, 2) - Math.Log(sigma) - 0.5 * Math.Log(2 * Math.PI);

    [Fact]
    public void StandardNormalLogProbAndGradient()
    {
        var d = new StandardNormal<double>(3);
        var x = new Rng(1).Normal<double>(7, 3);
        var lp = d.LogProb(x).Value;
        for (int r = 0; r < 7; r++)
            Assert.Equal(Enumerable.Range(0, 3).Sum(j => NormalLogPdf(x[r, j], 0, 1)), lp[r], 12);
        Assert.True(GradCheck.Check(v => d.LogProb(v[0]), x).Passed);
    }

    [Fact]
    public void DiagonalNormalMatchesAnalyticAndSamplesHaveItsMoments()
    {
        var d = new DiagonalNormal<double>(2);
        d.Mean.Value[0] = 1.5; d.Mean.Value[1] = -2;
        d.LogStd.Value[0] = Math.Log(0.5); d.LogStd.Value[1] = Math.Log(3);
        var x = new Rng(2).Normal<double>(5, 2);
        var lp = d.LogProb(x).Value;
        for (int r = 0; r < 5; r++)
            Assert.Equal(NormalLogPdf(x[r, 0], 1.5, 0.5) + NormalLogPdf(x[r, 1], -2, 3), lp[r], 12);
        var leaf = new Var<double>(x, requiresGrad: true);
        Assert.True(GradCheck.Check(() => d.LogProb(leaf), [leaf, d.Mean, d.LogStd]).Passed);
        var s = d.Sample(40_000, new Rng(3)).Value;
        var c0 = Enumerable.Range(0, s.Dim(0)).Select(r => s[r, 0]).ToArray();
        var c1 = Enumerable.Range(0, s.Dim(0)).Select(r => s[r, 1]).ToArray();
        Assert.Equal(1.5, c0.Average(), 0.01);
        Assert.Equal(-2, c1.Average(), 0.05);
        Assert.Equal(3, Math.Sqrt(c1.Select(v => (v + 2) * (v + 2)).Average()), 0.05);
    }

    [Fact]
    public void BoxUniformIsFlatInsideAndMinusInfinityOutside()
    {
        var d = new BoxUniform<double>([0, -1], [2, 3]);
        var x = Tensor<double>.From(new[] { 1.0, 0.0, 2.0, 3.0, 2.1, 0.0, -0.1, 1.0 }, 4, 2);
        var lp = d.LogProb(x).Value;
        Assert.Equal(-Math.Log(8), lp[0], 12);
        Assert.Equal(-Math.Log(8), lp[1], 12); // the boundary belongs to the box
        Assert.Equal(double.NegativeInfinity, lp[2]);
        Assert.Equal(double.NegativeInfinity, lp[3]);
        var s = d.Sample(10_000, new Rng(4)).Value;
        for (int r = 0; r < s.Dim(0); r++) { Assert.InRange(s[r, 0], 0, 2); Assert.InRange(s[r, 1], -1, 3); }
        Assert.Throws<ArgumentException>(() => new BoxUniform<double>([1], [1]));
    }

    [Fact]
    public void GaussianMixtureLogProbGradientsAndNormalisation()
    {
        var gm = new GaussianMixture<double>(2, 3, new Rng(5), meanSpread: 2);
        var r = new Rng(6);
        foreach (var p in gm.Parameters()) { var sp = p.Value.Span; for (int i = 0; i < sp.Length; i++) sp[i] += 0.3 * r.NextNormal(); }
        // analytic mixture density
        var x = new Rng(7).Normal<double>(6, 2);
        var lp = gm.LogProb(x).Value;
        var logits = gm.Logits.Value.ToArray();
        double lse = Math.Log(logits.Sum(Math.Exp));
        for (int row = 0; row < 6; row++)
        {
            double p = 0;
            for (int c = 0; c < 3; c++)
            {
                double comp = Math.Exp(logits[c] - lse);
                for (int j = 0; j < 2; j++) comp *= Math.Exp(NormalLogPdf(x[row, j], gm.Means.Value[c, j], Math.Exp(gm.LogStds.Value[c, j])));
                p += comp;
            }
            Assert.Equal(Math.Log(p), lp[row], 10);
        }
        var leaf = new Var<double>(x, requiresGrad: true);
        Assert.True(GradCheck.Check(() => gm.LogProb(leaf), [leaf, gm.Logits, gm.Means, gm.LogStds]).Passed);
        // integrates to one on a grid
        const int n = 300;
        double lo = -12, hi = 12, h = (hi - lo) / n, total = 0;
        var grid = Tensor<double>.Empty(n * n, 2);
        for (int i = 0; i < n; i++) for (int j = 0; j < n; j++) { grid[i * n + j, 0] = lo + (i + 0.5) * h; grid[i * n + j, 1] = lo + (j + 0.5) * h; }
        var g = gm.LogProb(grid).Value;
        for (int k = 0; k < g.Length; k++) total += Math.Exp(g[k]) * h * h;
        Assert.Equal(1.0, total, 3);
    }

    [Fact]
    public void GaussianMixtureSamplesFollowTheWeightsAndAreReparametrised()
    {
        var gm = new GaussianMixture<double>(1, 2, new Rng(8));
        gm.Means.Value[0, 0] = -5; gm.Means.Value[1, 0] = 5;
        gm.Logits.Value[0] = Math.Log(0.25); gm.Logits.Value[1] = Math.Log(0.75);
        var s = gm.Sample(20_000, new Rng(9));
        double right = s.Value.ToArray().Count(v => v > 0) / 20_000.0;
        Assert.Equal(0.75, right, 0.015);
        // d(mean of samples)/d(means) = component frequency: samples carry gradients to μ
        Ops.Mean(s).Backward();
        Assert.Equal(0.25, gm.Means.Grad![0, 0], 0.015);
        Assert.Equal(0.75, gm.Means.Grad![1, 0], 0.015);
    }

    [Fact]
    public void ConditionalDiagonalNormalUsesItsContextAndChecksIt()
    {
        var d = new ConditionalDiagonalNormal<double>(2, 3, new Rng(10));
        var r = new Rng(11);
        foreach (var p in d.Parameters()) { var sp = p.Value.Span; for (int i = 0; i < sp.Length; i++) sp[i] += 0.2 * r.NextNormal(); }
        var x = new Rng(12).Normal<double>(4, 2);
        var c1 = new Rng(13).Normal<double>(4, 3);
        var c2 = new Rng(14).Normal<double>(4, 3);
        Assert.NotEqual(d.LogProb(x, c1).Value.ToArray(), d.LogProb(x, c2).Value.ToArray());
        var cx = new Var<double>(c1, requiresGrad: true);
        var leaf = new Var<double>(x, requiresGrad: true);
        Assert.True(GradCheck.Check(() => d.LogProb(leaf, cx), [leaf, cx, .. d.Parameters()]).Passed);
        Assert.Contains("context", Assert.Throws<ArgumentException>(() => d.LogProb(x)).Message);
        Assert.Contains("context", Assert.Throws<ArgumentException>(() => d.LogProb(x, new Rng(1).Normal<double>(4, 2))).Message);
        Assert.True(d.Sample(4, new Rng(15), c1).Value.HasShape(4, 2));
        Assert.Throws<ArgumentException>(() => d.Sample(5, new Rng(15), c1));
    }
}
