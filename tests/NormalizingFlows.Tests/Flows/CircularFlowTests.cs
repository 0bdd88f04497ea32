using NormalizingFlows.Autograd;
using NormalizingFlows.Distributions;
using NormalizingFlows.Flows;
using NormalizingFlows.Models;
using NormalizingFlows.Tensors;
using NormalizingFlows.Training;
using NormalizingFlows.Transforms;

namespace NormalizingFlows.Tests.Flows;

/// <summary>Flows with periodic features: normalised on the circle, samples in range and distributed by the density, registry round trip.</summary>
public class CircularFlowTests
{
    /// <summary>von Mises(μ, κ) angles in [−π, π) by rejection from the uniform.</summary>
    internal static double VonMises(Rng r, double mu, double kappa)
    {
        while (true)
        {
            double t = Math.PI * (2 * r.NextDouble() - 1);
            if (r.NextDouble() < Math.Exp(kappa * (Math.Cos(t - mu) - 1))) return t;
        }
    }

    private static Flow<double> TrainedCircle()
    {
        // centred on the seam (μ = 3): a flow on the line would have to split this bump across ±π
        var r = new Rng(11);
        var data = Tensor<double>.Empty(3000, 1);
        for (int i = 0; i < 3000; i++) data[i, 0] = VonMises(r, 3.0, 2.0);
        var flow = FlowBuilders.MafRqs<double>(1, layers: 2, hidden: 16, bins: 6, rng: new Rng(2), periodic: [0]);
        new MaximumLikelihoodTrainer<double>(flow, new TrainingOptions { Steps = 200, BatchSize = 256, LearningRate = 5e-3 }).Fit(new TrainingData<double>(data));
        flow.Eval();
        return flow;
    }

    [Fact]
    public void TrainedCircularFlowIsADensityOnTheCircleAndSamplesFollowIt()
    {
        var flow = TrainedCircle();
        Assert.IsType<PeriodicNormal<double>>(flow.Base);
        const int n = 4000;
        var grid = Tensor<double>.Empty(n, 1);
        for (int i = 0; i < n; i++) grid[i, 0] = -Math.PI + (i + 0.5) * 2 * Math.PI / n;
        double[] p;
        using (GradMode.Disable()) p = flow.LogProb(new Var<double>(grid)).Value.ToArray().Select(Math.Exp).ToArray();
        double integral = p.Sum() * 2 * Math.PI / n;
        Assert.True(Math.Abs(integral - 1) < 1e-3, $"∫p over the circle = {integral}");
        // learned something: the density at the mode (3) well above the uniform 1/2π, at the antipode (3 − π) below it
        Assert.True(p[(int)((3 + Math.PI) / (2 * Math.PI) * n)] > 2 / (2 * Math.PI), "no mass at the mode");

        // seam: the density is continuous across ±π (both ends of the grid agree)
        Assert.True(Math.Abs(Math.Log(p[0]) - Math.Log(p[^1])) < 0.01, $"density jumps across the seam: {p[0]} vs {p[^1]}");

        // samples: in [−π, π), and their 20-bin histogram follows the density (χ², 19 dof: 99.9 % quantile 43.8)
        Tensor<double> x;
        using (GradMode.Disable()) x = flow.Sample(20000, new Rng(5)).Value;
        const int bins = 20;
        var counts = new int[bins];
        for (int i = 0; i < x.Length; i++)
        {
            Assert.True(x[i] >= -Math.PI && x[i] < Math.PI, $"sample {x[i]} outside [−π, π)");
            counts[Math.Min(bins - 1, (int)((x[i] + Math.PI) / (2 * Math.PI) * bins))]++;
        }
        double chi2 = 0;
        for (int b = 0; b < bins; b++)
        {
            double expected = p.Skip(b * n / bins).Take(n / bins).Sum() * 2 * Math.PI / n / integral * x.Length;
            chi2 += (counts[b] - expected) * (counts[b] - expected) / expected;
        }
        Assert.True(chi2 < 43.8, $"histogram χ² = {chi2} over {bins} bins");
    }

    [Fact]
    public void TwoDimensionalPeriodicFlowIntegratesToOneOnTheCylinder()
    {
        // angle × line: nsf with feature 0 periodic, trained briefly on (φ, cos φ + noise)
        var r = new Rng(3);
        var data = Tensor<double>.Empty(3000, 2);
        for (int i = 0; i < 3000; i++)
        {
            double phi = VonMises(r, -3.0, 1.5);
            data[i, 0] = phi; data[i, 1] = Math.Cos(phi) + 0.3 * r.NextNormal();
        }
        var flow = FlowBuilders.NeuralSplineFlow<double>(2, layers: 3, hidden: 16, bins: 6, bound: 4, rng: new Rng(4), periodic: [0]);
        new MaximumLikelihoodTrainer<double>(flow, new TrainingOptions { Steps = 150, BatchSize = 256, LearningRate = 5e-3 }).Fit(new TrainingData<double>(data));
        flow.Eval();
        const int n = 400;
        double y0 = -7, y1 = 7, hx = 2 * Math.PI / n, hy = (y1 - y0) / n;
        var grid = Tensor<double>.Empty(n * n, 2);
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++)
            {
                grid[i * n + j, 0] = -Math.PI + (i + 0.5) * hx;
                grid[i * n + j, 1] = y0 + (j + 0.5) * hy;
            }
        double integral = 0;
        using (GradMode.Disable())
        {
            var lp = flow.LogProb(new Var<double>(grid)).Value;
            for (int k = 0; k < lp.Length; k++) integral += Math.Exp(lp[k]) * hx * hy;
        }
        Assert.True(Math.Abs(integral - 1) < 0.01, $"∫p over [−π, π) × [−7, 7] = {integral}");
    }

    [Theory]
    [InlineData("nsf")]
    [InlineData("maf-rqs")]
    public void PeriodicFlowsRoundTripThroughTheRegistry(string builder)
    {
        var flow = builder == "nsf"
            ? FlowBuilders.NeuralSplineFlow<float>(3, layers: 2, hidden: 8, bins: 4, rng: new Rng(1), periodic: [2])
            : FlowBuilders.MafRqs<float>(3, layers: 2, hidden: 8, bins: 4, rng: new Rng(1), periodic: [0, 2]);
        var pr = new Rng(9);
        foreach (var p in flow.Parameters())
        {
            var s = p.Value.Span;
            for (int i = 0; i < s.Length; i++) s[i] += (float)(0.2 * pr.NextNormal());
        }
        var architecture = FlowArchitecture.Describe(flow);
        Assert.Contains("circular-rational-quadratic", architecture.ToJsonString());
        Assert.Contains("periodic-normal", architecture.ToJsonString());
        var rebuilt = FlowArchitecture.Build<float>(architecture, new Rng(123));
        rebuilt.LoadStateDict(flow.StateDict());
        var x = new Var<float>(new Rng(4).Normal<float>(50, 3));
        using (GradMode.Disable())
        {
            Assert.Equal(flow.LogProb(x).Value.ToArray(), rebuilt.LogProb(x).Value.ToArray());
            Assert.Equal(flow.Sample(30, new Rng(6)).Value.ToArray(), rebuilt.Sample(30, new Rng(6)).Value.ToArray());
        }
        Assert.Equal(architecture.ToJsonString(), FlowArchitecture.Describe(rebuilt).ToJsonString());

        // and through a model file
        string path = Path.Combine(Path.GetTempPath(), $"circ-{builder}-{Environment.ProcessId}.nflow");
        try
        {
            ModelFile.Save(path, FlowModel<float>.FromFlow(flow, seed: 1));
            var loaded = ModelFile.Load<float>(path);
            Assert.Equal(FlowModel<float>.FromFlow(flow).LogProb(x.Value), loaded.LogProb(x.Value));
            Assert.Equal(FlowModel<float>.FromFlow(flow).Sample(30, new Rng(8)).ToArray(), loaded.Sample(30, new Rng(8)).ToArray());
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void MaskedUpdateRefusesUpdatesWhoseIdentitiesDisagree()
    {
        var ex = Assert.Throws<ArgumentException>(() => new MaskedUpdate([true, false], SplineUpdate.Circular(4), SplineUpdate.RationalQuadratic(5)));
        Assert.Contains("identity parameters differ", ex.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => FlowBuilders.NeuralSplineFlow<double>(2, periodic: [2]));
    }
}
