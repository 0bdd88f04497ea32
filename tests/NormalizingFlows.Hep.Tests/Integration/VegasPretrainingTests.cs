using NormalizingFlows.Hep.Integration;
using NormalizingFlows.Tensors;

namespace NormalizingFlows.Hep.Tests.Integration;

public class VegasPretrainingTests
{
    /// <summary>The adapted grid's map inverts, and its log J matches a central-difference Jacobian determinant in double.</summary>
    [Fact]
    public void VegasMap_InvertsAndItsLogJacobianMatchesFiniteDifferences()
    {
        var vegas = new Vegas(new CamelIntegrand(2), seed: 1);
        vegas.Train(20_000);
        var edges = vegas.GridEdges(0);
        Assert.True(edges.Zip(edges.Skip(1), (a, b) => b - a).Max() > 3.0 / (edges.Length - 1), "the grid did not adapt");
        const int n = 500, bins = 64;
        var rng = new Rng(2);
        var y = new double[2 * n];
        for (int i = 0; i < y.Length; i++)
        {
            // stay away from bin edges, where the piecewise-linear map has a kink
            int bin = rng.NextInt(bins);
            y[i] = (bin + 0.05 + 0.9 * rng.NextDouble()) / bins;
        }
        var x = new double[2 * n];
        var logJ = new double[n];
        vegas.Map(y, x, logJ);
        var back = new double[2 * n];
        var logJBack = new double[n];
        vegas.InverseMap(x, back, logJBack);
        const double h = 1e-7;
        Span<double> yp = stackalloc double[2], xp = stackalloc double[2], xm = stackalloc double[2];
        Span<double> lj = stackalloc double[1];
        for (int p = 0; p < n; p++)
        {
            Assert.Equal(y[2 * p], back[2 * p], 1e-12);
            Assert.Equal(y[2 * p + 1], back[2 * p + 1], 1e-12);
            Assert.Equal(logJ[p], logJBack[p], 1e-12);
            var jac = new double[2, 2];
            for (int j = 0; j < 2; j++)
            {
                y.AsSpan(2 * p, 2).CopyTo(yp); yp[j] += h;
                vegas.Map(yp, xp, lj);
                y.AsSpan(2 * p, 2).CopyTo(yp); yp[j] -= h;
                vegas.Map(yp, xm, lj);
                for (int i = 0; i < 2; i++) jac[i, j] = (xp[i] - xm[i]) / (2 * h);
            }
            double det = jac[0, 0] * jac[1, 1] - jac[0, 1] * jac[1, 0];
            Assert.True(Math.Abs(Math.Log(det) - logJ[p]) < 1e-6, $"point {p}: log det {Math.Log(det)}, log J {logJ[p]}");
        }
        Assert.Throws<ArgumentException>(() => vegas.Map(new double[3], new double[2], new double[1]));
    }

    [Fact]
    public void Pretraining_CountsTheGridCallsAndKeepsTheDensityNormalised()
    {
        var f = new CamelIntegrand(2);
        var flow = new FlowIntegrator(f, TrainedCamelFlow.Smaller with { VegasPretraining = 0.3 }, seed: 6);
        flow.Train(8000);
        // 2400 calls adapt the grid, the remaining 5600 give ⌊5600 / 512⌋ = 10 flow rounds
        Assert.Equal(2400 + 10 * 512, flow.FunctionCalls);
        Assert.NotNull(flow.Grid);
        Assert.Equal(10, flow.History.Count);

        const int g = 200;
        var lq = flow.LogDensity(TrainedCamelFlow.MidpointGrid(g));
        Assert.InRange(lq.Sum(Math.Exp) / (g * g), 0.995, 1.005);
        var x = new double[2 * 2000];
        var q = new double[2000];
        flow.Sample(x, q);
        var lqx = flow.LogDensity(x);
        for (int i = 0; i < q.Length; i++) Assert.True(Math.Abs(Math.Log(q[i]) - lqx[i]) < 1e-4, $"point {i}: sampled log q {Math.Log(q[i])}, density of the point {lqx[i]}");

        var result = flow.Integrate(20_000, 4);
        Assert.True(Math.Abs(result.Pull(f.AnalyticValue!.Value)) < 4, $"{result.Estimate} ± {result.Error}");
        // plain Monte Carlo: σ_w/⟨w⟩ = 1.09 on the 2-D camel
        Assert.True(result.Weights.RelativeStandardDeviation < 0.5, $"σ_w/⟨w⟩ = {result.Weights.RelativeStandardDeviation}");
        Assert.Throws<ArgumentOutOfRangeException>(() => new FlowIntegrator(f, TrainedCamelFlow.Smaller with { VegasPretraining = 1 }));
    }
}
