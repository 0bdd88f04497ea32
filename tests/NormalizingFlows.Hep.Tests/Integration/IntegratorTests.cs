using NormalizingFlows.Hep.Integration;

namespace NormalizingFlows.Hep.Tests.Integration;

/// <summary>A small i-flow trained once on the 2-D camel, shared by the flow tests.</summary>
public sealed class TrainedCamelFlow
{
    public static FlowIntegratorOptions Small { get; } = new()
    {
        Hidden = 16, Bins = 8, Blocks = 2, SamplesPerRound = 1024, StepsPerRound = 8, LearningRate = 5e-3,
    };

    /// <summary><see cref="Small"/> with one block of masks and 512 samples per round, for the flows each test trains itself.</summary>
    public static FlowIntegratorOptions Smaller { get; } = Small with { Blocks = 1, SamplesPerRound = 512 };

    /// <summary>The midpoints of a g × g grid on the unit square, row-major (x₁, x₂) pairs.</summary>
    public static double[] MidpointGrid(int g)
    {
        var x = new double[g * g * 2];
        for (int a = 0; a < g; a++)
            for (int b = 0; b < g; b++) { x[2 * (a * g + b)] = (a + 0.5) / g; x[2 * (a * g + b) + 1] = (b + 0.5) / g; }
        return x;
    }

    public TrainedCamelFlow()
    {
        Integrator = new FlowIntegrator(Function, Small, seed: 11);
        Integrator.Train(40 * 1024);
    }

    public CamelIntegrand Function { get; } = new(2);

    public FlowIntegrator Integrator { get; }
}

public class FlowIntegratorTests(TrainedCamelFlow trained) : IClassFixture<TrainedCamelFlow>
{
    [Fact]
    public void BinaryMasks_ConditionEveryDimensionOnEveryOther()
    {
        foreach (int d in new[] { 2, 3, 4, 5, 8, 9, 16, 17 })
        {
            var masks = FlowIntegrator.BinaryMasks(d);
            int bits = (int)Math.Ceiling(Math.Log2(d));
            Assert.Equal(2 * bits, masks.Count);
            for (int i = 0; i < d; i++)
                for (int j = 0; j < d; j++)
                    if (i != j) Assert.Contains(masks, m => m.Transformed[i] && !m.Transformed[j]);
        }
        Assert.Throws<ArgumentOutOfRangeException>(() => FlowIntegrator.BinaryMasks(1));
    }

    [Fact]
    public void TrainedDensity_IntegratesToOne()
    {
        var flow = trained.Integrator;
        // midpoint rule on a 200 × 200 grid
        const int g = 200;
        var lq = flow.LogDensity(TrainedCamelFlow.MidpointGrid(g));
        double grid = lq.Sum(Math.Exp) / (g * g);
        Assert.InRange(grid, 0.995, 1.005);
        // the flow is far from uniform after training (otherwise this test would be trivial)
        Assert.True(lq.Max() > Math.Log(2), $"max q = {Math.Exp(lq.Max())}");
        // uniform Monte Carlo of q, independent of q's own sampling
        var rng = new NormalizingFlows.Tensors.Rng(5);
        var u = new double[2 * 40_000];
        rng.Uniform<double>(u);
        var q = flow.LogDensity(u).Select(Math.Exp).ToArray();
        double mean = q.Average(), se = Math.Sqrt(q.Select(v => (v - mean) * (v - mean)).Sum() / (q.Length - 1) / q.Length);
        Assert.True(Math.Abs(mean - 1) < 4 * se, $"E_uniform[q] = {mean} ± {se}");
    }

    [Fact]
    public void SampledDensity_MatchesDensityOfThePoints()
    {
        var flow = trained.Integrator;
        var x = new double[2 * 2000];
        var q = new double[2000];
        flow.Sample(x, q);
        Assert.All(x, v => Assert.InRange(v, 0.0, 1.0));
        var lq = flow.LogDensity(x);
        for (int i = 0; i < q.Length; i++) Assert.True(Math.Abs(Math.Log(q[i]) - lq[i]) < 1e-4, $"point {i}: sampled log q {Math.Log(q[i])}, density of the point {lq[i]}");
    }

    [Fact]
    public void Integrate_Within4SigmaAndBetterThanPlainMonteCarlo()
    {
        var flow = trained.Integrator;
        var result = flow.Integrate(50_000, iterations: 5);
        double exact = trained.Function.AnalyticValue!.Value;
        Assert.True(Math.Abs(result.Pull(exact)) < 4, $"{result.Estimate} ± {result.Error} vs {exact}");
        Assert.Equal(5, result.Iterations.Count);
        var mc = new PlainMonteCarlo(trained.Function, seed: 3).Integrate(50_000);
        Assert.True(result.Weights.RelativeStandardDeviation < 0.5 * mc.Weights.RelativeStandardDeviation,
            $"flow σ_w/⟨w⟩ {result.Weights.RelativeStandardDeviation} vs mc {mc.Weights.RelativeStandardDeviation}");
        Assert.True(result.Weights.UnweightingEfficiency > mc.Weights.UnweightingEfficiency);
        Assert.True(result.Weights.EffectiveSampleSize > 2 * mc.Weights.EffectiveSampleSize);
    }

    [Fact]
    public void UnweightedEvents_ReproduceTheMarginalsOfF()
    {
        var flow = trained.Integrator;
        flow.Integrate(20_000);
        const int events = 20_000, bins = 20;
        var u = flow.GenerateUnweighted(events);
        Assert.Equal(events, u.Count);
        Assert.True(u.Efficiency > 0.1, $"efficiency {u.Efficiency}");
        double alpha = trained.Function.Alpha;
        double Cdf(double x) => SpecialFunctions.Erf((x - 1.0 / 3) / alpha) + SpecialFunctions.Erf((x - 2.0 / 3) / alpha);
        for (int dim = 0; dim < 2; dim++)
        {
            var sumW = new double[bins];
            var sumW2 = new double[bins];
            for (int i = 0; i < u.Count; i++)
            {
                int b = Math.Min(bins - 1, (int)(u.Events[2 * i + dim] * bins));
                sumW[b] += u.EventWeights[i];
                sumW2[b] += u.EventWeights[i] * u.EventWeights[i];
            }
            double total = sumW.Sum(), norm = Cdf(1) - Cdf(0), chi2 = 0;
            for (int b = 0; b < bins; b++)
            {
                double expected = total * (Cdf((b + 1.0) / bins) - Cdf((double)b / bins)) / norm;
                chi2 += (sumW[b] - expected) * (sumW[b] - expected) / Math.Max(sumW2[b], 1);
            }
            // χ² with 19 degrees of freedom: mean 19, standard deviation 6.2; 45 is p ≈ 7e-4
            Assert.True(chi2 < 45, $"dimension {dim + 1}: χ² = {chi2:F1} for {bins - 1} dof");
        }
        double exact = trained.Function.AnalyticValue!.Value;
        Assert.InRange(u.IntegralEstimate, 0.97 * exact, 1.03 * exact);
    }

    [Theory]
    [InlineData(IntegrationLoss.KullbackLeibler)]
    [InlineData(IntegrationLoss.Variance)]
    [InlineData(IntegrationLoss.Exponential)]
    public void EveryLoss_LearnsTheGaussian(IntegrationLoss loss)
    {
        var f = new GaussianIntegrand(2);
        var flow = new FlowIntegrator(f, TrainedCamelFlow.Smaller with { Loss = loss }, seed: 2);
        flow.Train(30 * 512);
        Assert.Equal(30 * 512, flow.FunctionCalls);
        Assert.Equal(30, flow.History.Count);
        var result = flow.Integrate(20_000, 4);
        Assert.True(Math.Abs(result.Pull(f.AnalyticValue!.Value)) < 4, $"{loss}: {result.Estimate} ± {result.Error}");
        // plain Monte Carlo has σ_w/⟨w⟩ = 1.73 on this Gaussian
        Assert.True(result.Weights.RelativeStandardDeviation < 0.6, $"{loss}: σ_w/⟨w⟩ = {result.Weights.RelativeStandardDeviation}");
        Assert.Equal(30 * 512 + 20_000, flow.FunctionCalls);
        Assert.Equal(flow.FunctionCalls, result.TotalCalls);
    }

    [Theory]
    [InlineData(UnitSplineKind.PiecewiseLinear)]
    [InlineData(UnitSplineKind.PiecewiseQuadratic)]
    public void OtherSplines_GiveNormalisedDensities(UnitSplineKind spline)
    {
        var f = new CamelIntegrand(2);
        var flow = new FlowIntegrator(f, TrainedCamelFlow.Smaller with { Spline = spline }, seed: 4);
        flow.Train(6 * 512);
        var lq = flow.LogDensity(TrainedCamelFlow.MidpointGrid(100));
        Assert.InRange(lq.Sum(Math.Exp) / 1e4, 0.99, 1.01);
        Assert.True(lq.Max() - lq.Min() > 0.1, "the flow did not move away from the uniform density");
        var result = flow.Integrate(20_000, 2);
        Assert.True(Math.Abs(result.Pull(f.AnalyticValue!.Value)) < 4, $"{spline}: {result.Estimate} ± {result.Error}");
    }

    [Fact]
    public void Annealing_EndsOnTheTrueIntegrand()
    {
        var f = new CamelIntegrand(2);
        var options = TrainedCamelFlow.Smaller with { InitialExponent = 0.1, AnnealingFraction = 0.5 };
        var flow = new FlowIntegrator(f, options, seed: 8);
        flow.Train(30 * 512);
        var result = flow.Integrate(20_000, 4);
        Assert.True(Math.Abs(result.Pull(f.AnalyticValue!.Value)) < 4, $"{result.Estimate} ± {result.Error}");
        // plain Monte Carlo: σ_w/⟨w⟩ = 1.09; a flow stuck on f^0.1 (nearly flat) would stay close to that
        Assert.True(result.Weights.RelativeStandardDeviation < 0.5, $"σ_w/⟨w⟩ = {result.Weights.RelativeStandardDeviation}");
        Assert.Throws<ArgumentOutOfRangeException>(() => new FlowIntegrator(f, options with { InitialExponent = 0 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => new FlowIntegrator(f, options with { AnnealingFraction = 1.5 }));
    }

    [Fact]
    public void FlowNeedsTwoDimensions() =>
        Assert.Throws<ArgumentException>(() => new FlowIntegrator(new GaussianIntegrand(1)));
}

public class BaselineIntegratorTests
{
    [Fact]
    public void Vegas_ConvergesOnTheGaussian()
    {
        var f = new GaussianIntegrand(4);
        var vegas = new Vegas(f, seed: 1);
        double before = vegas.Integrate(20_000).Weights.RelativeStandardDeviation;
        vegas.Train(100_000);
        var edges = vegas.GridEdges(0);
        double middle = edges[33] - edges[32], outer = edges[1] - edges[0];
        Assert.True(middle < 0.5 * outer, $"grid did not concentrate at the peak: middle bin {middle}, outer bin {outer}");
        var result = vegas.Integrate(100_000, iterations: 5);
        Assert.True(Math.Abs(result.Pull(f.AnalyticValue!.Value)) < 4, $"{result.Estimate} ± {result.Error}");
        Assert.True(result.Weights.RelativeStandardDeviation < 0.4, $"σ_w/⟨w⟩ = {result.Weights.RelativeStandardDeviation}");
        Assert.True(result.Weights.RelativeStandardDeviation < 0.2 * before, $"before {before}, after {result.Weights.RelativeStandardDeviation}");
        Assert.True(result.ChiSquaredPerDof < 4, $"χ²/dof = {result.ChiSquaredPerDof}");
        Assert.True(result.RelativeError < 2e-3);
    }

    public static TheoryData<string, int> Functions => new()
    {
        { "gaussian", 2 }, { "gaussian", 4 }, { "gaussian", 8 }, { "camel", 2 }, { "camel", 4 }, { "polynomial", 4 },
        { "circles", 2 }, { "annulus", 2 }, { "box", 3 },
    };

    [Theory]
    [MemberData(nameof(Functions))]
    public void PlainMonteCarloAndVegas_Within4SigmaOfTheReference(string name, int d)
    {
        var f = IntegrandCatalog.Create(name, d);
        double reference = name == "box" ? BoxReference.Value : IntegrandCatalog.Reference(f)!.Value;
        foreach (var method in new[] { "mc", "vegas" })
        {
            var integrator = IntegrationComparison.Create(method, f, seed: 7);
            var run = IntegrationComparison.Run(integrator, 60_000, IntegrationComparison.DefaultTrainFraction(method), 4, reference);
            Assert.True(Math.Abs(run.Result.Pull(reference)) < 4, $"{name} {d}-D {method}: {run.Result.Estimate} ± {run.Result.Error} vs {reference}");
            Assert.Equal(60_000, run.Result.TotalCalls);
        }
    }

    [Theory]
    [InlineData("circles", 2)]
    [InlineData("annulus", 2)]
    [InlineData("box", 3)]
    [InlineData("polynomial", 4)]
    public void Flow_Within4SigmaOfTheReference(string name, int d)
    {
        var f = IntegrandCatalog.Create(name, d);
        double reference = name == "box" ? BoxReference.Value : IntegrandCatalog.Reference(f)!.Value;
        var flow = new FlowIntegrator(f, TrainedCamelFlow.Small with { Blocks = 1 }, seed: 9);
        var run = IntegrationComparison.Run(flow, 60_000, 0.5, 4, reference);
        Assert.True(Math.Abs(run.Result.Pull(reference)) < 4, $"{name}: {run.Result.Estimate} ± {run.Result.Error} vs {reference}");
        Assert.Equal(60_000, run.Result.TotalCalls);
    }

    private static class BoxReference
    {
        public static readonly double Value = new ScalarBoxIntegrand().ComputeReference().Value;
    }

    [Fact]
    public void Combine_WeightsByInverseVariance()
    {
        var (v, e, chi2) = ImportanceSamplingIntegrator.Combine([new(1, 1, 10), new(3, 1, 10)]);
        Assert.Equal(2, v, 12);
        Assert.Equal(1 / Math.Sqrt(2), e, 12);
        Assert.Equal(2, chi2, 12);
        var (v2, e2, _) = ImportanceSamplingIntegrator.Combine([new(1, 1, 10), new(4, 2, 10)]);
        Assert.Equal((1 + 4 / 4.0) / (1 + 1 / 4.0), v2, 12);
        Assert.Equal(1 / Math.Sqrt(1.25), e2, 12);
        Assert.True(double.IsNaN(ImportanceSamplingIntegrator.Combine([new(1, 1, 10)]).ChiSquaredPerDof));
    }

    [Fact]
    public void WeightStatistics_OfAKnownSample()
    {
        var s = WeightStatistics.Compute([1, 1, 1, 1, 6], quantile: 0.8);
        Assert.Equal(2, s.Mean, 12);
        Assert.Equal(6, s.MaxWeight);
        Assert.Equal(1 / 3.0, s.UnweightingEfficiency, 12);
        Assert.Equal(100 / 40.0, s.EffectiveSampleSize, 12);
        Assert.Equal(1, s.RobustMaxWeight);
        Assert.Equal(2, s.RobustUnweightingEfficiency, 12);
        Assert.Equal(0.5, s.OverweightFraction, 12);
        Assert.Equal(Math.Sqrt(5) / 2, s.RelativeStandardDeviation, 12);
        Assert.Throws<ArgumentException>(() => WeightStatistics.Compute([1, -1]));
    }

    [Fact]
    public void Unweighting_WithALowMaximum_KeepsOverweightsAndStaysUnbiased()
    {
        var f = new PolynomialIntegrand(2); // f ∈ [0, 0.5], ∫ = 1/3
        var mc = new PlainMonteCarlo(f, seed: 5);
        var u = mc.GenerateUnweighted(20_000, maxWeight: 0.4);
        Assert.Equal(20_000, u.Count);
        Assert.True(u.OverweightEventFraction > 0.01, $"overweight fraction {u.OverweightEventFraction}");
        Assert.All(u.EventWeights, w => Assert.InRange(w, 1.0, 0.5 / 0.4 + 1e-12));
        // the unweighted sample still estimates ∫ f: Var ≈ I·max/N
        double se = Math.Sqrt(u.IntegralEstimate * 0.4 / u.Trials);
        Assert.True(Math.Abs(u.IntegralEstimate - 1 / 3.0) < 4 * se, $"{u.IntegralEstimate} ± {se}");
        Assert.InRange(mc.FunctionCalls, u.Trials, u.Trials + mc.BatchSize);
    }

    [Fact]
    public void InvalidIntegrandValues_AreReportedWithThePoint()
    {
        var mc = new PlainMonteCarlo(new NegativeIntegrand());
        var ex = Assert.Throws<InvalidOperationException>(() => mc.Integrate(100));
        Assert.Contains("negative-test", ex.Message);
    }

    private sealed class NegativeIntegrand : IIntegrand
    {
        public string Name => "negative-test";
        public int Dimensions => 2;
        public double? AnalyticValue => null;
        public void Evaluate(ReadOnlySpan<double> x, Span<double> values) => values.Fill(-1);
    }
}
