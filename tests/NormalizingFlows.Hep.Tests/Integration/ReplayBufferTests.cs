using NormalizingFlows.Hep.Integration;
using NormalizingFlows.Tensors;
using NormalizingFlows.Training;

namespace NormalizingFlows.Hep.Tests.Integration;

public class ReplayBufferTests
{
    [Fact]
    public void Buffer_KeepsTheLatestEventsAndDrawsWithoutReplacement()
    {
        var buffer = new ReplayBuffer(capacity: 3, dimensions: 2);
        for (int i = 0; i < 5; i++) buffer.Add([i, -i], [10.0 * i], [0.5 * i]);
        Assert.Equal(3, buffer.Count);
        var all = buffer.Draw(10, new Rng(1));
        Assert.Equal(3, all.Count);
        // the two oldest events were overwritten; each event keeps its own point and log-density
        Assert.Equal([20.0, 30.0, 40.0], all.Values.Order().ToArray());
        for (int k = 0; k < 3; k++)
        {
            double i = all.Values[k] / 10;
            Assert.Equal(i, all.X[2 * k]);
            Assert.Equal(-i, all.X[2 * k + 1]);
            Assert.Equal(0.5 * i, all.LogDensity[k]);
        }
        var two = buffer.Draw(2, new Rng(2));
        Assert.Equal(2, two.Values.Distinct().Count());
        Assert.Throws<ArgumentException>(() => buffer.Add([0.0], [1.0], [0.0]));
        Assert.Throws<ArgumentException>(() => buffer.Add([0.0, 0.0], [1.0], [double.NaN]));
        Assert.Throws<InvalidOperationException>(() => new ReplayBuffer(4, 1).Draw(1, new Rng(0)));
    }

    /// <summary>
    /// The variance loss on buffered events drawn from other densities (a trained flow and the uniform density, mixed)
    /// estimates the same ∫ p²/q of a fixed flow q as the loss on fresh events from q: both agree with quadrature within
    /// 4σ, while the same buffered events without the q_old/q reweighting miss it by far.
    /// </summary>
    [Fact]
    public void BufferedVarianceLoss_IsExactForAFixedDensity()
    {
        var f = new GaussianIntegrand(2);
        var old = new FlowIntegrator(new CamelIntegrand(2), TrainedCamelFlow.Smaller, seed: 3);
        old.Train(12 * 512);
        var current = new FlowIntegrator(f, TrainedCamelFlow.Smaller, seed: 5);
        current.Train(12 * 512);

        // the buffer: 20 000 events of the old flow and 20 000 uniform ones, each with the log q it was drawn from
        const int half = 20_000;
        var buffer = new ReplayBuffer(2 * half, 2);
        var x = new double[2 * half];
        var q = new double[half];
        var values = new double[half];
        old.Sample(x, q);
        f.Evaluate(x, values);
        buffer.Add(x, values, q.Select(v => Math.Log(v)).ToArray());
        new Rng(7).Uniform<double>(x);
        f.Evaluate(x, values);
        buffer.Add(x, values, new double[half]);

        // exact ∫ p²/q = ∫ f²/q / I² by the midpoint rule on a 400 × 400 grid
        const int g = 400;
        var grid = TrainedCamelFlow.MidpointGrid(g);
        var fg = new double[g * g];
        f.Evaluate(grid, fg);
        var lqg = current.LogDensity(grid);
        double exact = 0;
        for (int i = 0; i < fg.Length; i++) exact += fg[i] * fg[i] / Math.Exp(lqg[i]);
        exact /= (double)g * g * f.AnalyticValue!.Value * f.AnalyticValue.Value;

        // the buffered estimate and its statistical error (delta method for mean(a)/mean(w)², a = f²/(q_old q))
        var sample = buffer.Draw(2 * half, new Rng(9));
        var lqCurrent = current.LogDensity(sample.X);
        var w = new double[sample.Count];
        var a = new double[sample.Count];
        var naive = new double[sample.Count];
        for (int i = 0; i < w.Length; i++)
        {
            w[i] = sample.Values[i] / Math.Exp(sample.LogDensity[i]);
            a[i] = w[i] * w[i] * Math.Exp(sample.LogDensity[i] - lqCurrent[i]);
            naive[i] = w[i] * w[i];
        }
        var (ratio, sigma) = RatioAndError(a, w);
        Assert.True(sigma < 0.02 * exact, $"σ = {sigma} of {exact}: too few events for a sharp test");
        Assert.True(Math.Abs(ratio - exact) < 4 * sigma, $"buffered {ratio} ± {sigma}, exact {exact}");
        var (unweighted, _) = RatioAndError(naive, w);
        Assert.True(Math.Abs(unweighted - exact) > 20 * sigma, $"without q_old/q the estimate {unweighted} would be right by chance (exact {exact})");

        // the loss the integrator trains with, on the same buffered events, is that estimate
        double loss = double.NaN;
        var divergence = new SampledDivergenceLoss<float>(
            t => current.Flow.Transform.Forward(t).LogAbsDet,
            () => (Tensor<float>.FromDoubles(sample.X, sample.Count, 2), Tensor<float>.FromDoubles(sample.LogDensity, sample.Count)),
            _ => sample.Values)
        { RoundDone = r => loss = r.Loss };
        new TrainingLoop<float>(current.Flow, new TrainingOptions { Steps = 1, ReportEverySteps = int.MaxValue }).Fit(divergence, 1);
        Assert.True(Math.Abs(loss - ratio) < 1e-4 * ratio, $"SampledDivergenceLoss {loss}, double-precision estimate {ratio}");

        // fresh events from q itself estimate the same value
        var fresh = new FlowIntegrator(f, TrainedCamelFlow.Smaller, seed: 5);
        fresh.Train(12 * 512);
        old.Sample(x, q); // (keeps the streams apart)
        fresh.Sample(x, q);
        f.Evaluate(x, values);
        var wf = values.Select((v, i) => v / q[i]).ToArray();
        var (freshRatio, freshSigma) = RatioAndError(wf.Select(v => v * v).ToArray(), wf);
        Assert.True(Math.Abs(freshRatio - exact) < 4 * freshSigma, $"fresh {freshRatio} ± {freshSigma}, exact {exact}");
    }

    [Fact]
    public void FlowIntegrator_WithBuffer_TrainsOnBufferedRoundsWithoutCalls()
    {
        var f = new GaussianIntegrand(2);
        var options = TrainedCamelFlow.Smaller with { BufferSize = 2048, BufferedRounds = 2 };
        var flow = new FlowIntegrator(f, options, seed: 2);
        flow.Train(10 * 512);
        Assert.Equal(10 * 512, flow.FunctionCalls);
        Assert.Equal(30, flow.History.Count);
        Assert.Equal(20, flow.History.Count(r => r.Calls == 0));
        Assert.All(flow.History.Where((_, i) => i % 3 == 0), r => Assert.Equal(512, r.Calls));
        Assert.Equal(2048, flow.Buffer!.Count);
        var result = flow.Integrate(20_000, 4);
        Assert.True(Math.Abs(result.Pull(f.AnalyticValue!.Value)) < 4, $"{result.Estimate} ± {result.Error}");
        // plain Monte Carlo has σ_w/⟨w⟩ = 1.73 on this Gaussian
        Assert.True(result.Weights.RelativeStandardDeviation < 0.6, $"σ_w/⟨w⟩ = {result.Weights.RelativeStandardDeviation}");
        Assert.Throws<ArgumentOutOfRangeException>(() => new FlowIntegrator(f, options with { BufferSize = 100 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => new FlowIntegrator(f, options with { BufferedRounds = -1 }));
    }

    /// <summary>R = mean(a)/mean(b)² and its standard error by the delta method.</summary>
    private static (double Ratio, double Error) RatioAndError(double[] a, double[] b)
    {
        int n = a.Length;
        double ma = a.Average(), mb = b.Average();
        double vaa = 0, vbb = 0, vab = 0;
        for (int i = 0; i < n; i++)
        {
            double da = a[i] - ma, db = b[i] - mb;
            vaa += da * da; vbb += db * db; vab += da * db;
        }
        vaa /= n - 1; vbb /= n - 1; vab /= n - 1;
        // ∂R/∂A = 1/B², ∂R/∂B = −2A/B³
        double ga = 1 / (mb * mb), gb = -2 * ma / (mb * mb * mb);
        double variance = (ga * ga * vaa + gb * gb * vbb + 2 * ga * gb * vab) / n;
        return (ma / (mb * mb), Math.Sqrt(variance));
    }
}
