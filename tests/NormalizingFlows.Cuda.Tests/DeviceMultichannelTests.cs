using NormalizingFlows.Autograd;
using NormalizingFlows.Flows;
using NormalizingFlows.Hep.Integration;
using NormalizingFlows.Tensors;
using NormalizingFlows.Training;
using Xunit.Abstractions;

namespace NormalizingFlows.Cuda.Tests;

/// <summary>
/// <see cref="MultichannelFlowIntegrator"/> with <see cref="FlowIntegratorOptions.Device"/> (fixed channel weights) on
/// ILGPU's CPU accelerator, on a 2-channel camel (each channel the identity map, the prior α_k the share of peak k):
/// one round on the same sample gives the CPU's loss, shares and weights; a short run's estimate lies within 4σ of the
/// analytic value with weights narrower than the untrained flow's; the learned channel weights (with the prior or the
/// balance weights), the balance weights alone and the mixture loss follow the CPU's two rounds step by step (every
/// step's loss, the shares, the flow's and the channel-weight network's final weights, then an integration's estimate).
/// </summary>
public sealed class DeviceMultichannelTests(CpuAcceleratorFixture fixture, ITestOutputHelper output) : IClassFixture<CpuAcceleratorFixture>
{
    private readonly ComputeDevice _dev = fixture.Device;

    private MultichannelOptions Fixed(IFlowAccelerator? device, int steps = 2) =>
        new() { Flow = DeviceFlowIntegratorTests.Small(device, steps: steps), LearnChannelWeights = false };

    /// <summary>Draws of the integrator's host flow from a fixed seed: two integrators with equal flows draw the same points.</summary>
    private static Func<int, int, (Tensor<float> X, Tensor<float> LogQ)> HostDraws(MultichannelFlowIntegrator owner, int channels)
    {
        var rng = new Rng(9);
        return (c, m) =>
        {
            var context = Tensor<float>.Zeros(m, channels);
            for (int i = 0; i < m; i++) context.Span[i * channels + c] = 1;
            return FlowIntegrator.SampleUnitFlow(owner.Flow, m, rng, new Var<float>(context));
        };
    }

    /// <summary>Moves the flow's weights off the identity (the same for every call with one seed), so the context changes q.</summary>
    private static void Perturb(Flow<float> flow) => Perturb(flow.Parameters());

    private static void Perturb(IEnumerable<Parameter<float>> parameters)
    {
        var noise = new Rng(1234);
        foreach (var p in parameters)
        {
            var s = p.Value.Span;
            for (int i = 0; i < s.Length; i++) s[i] += (float)(0.3 * noise.NextNormal());
        }
    }

    [Fact]
    public void OneRoundOnTheSameSampleGivesTheCpusLossSharesAndWeights()
    {
        var integrand = new TwoPeaks();
        using var device = new MultichannelFlowIntegrator(integrand, Fixed(_dev, steps: 3), seed: 4);
        var cpu = new MultichannelFlowIntegrator(integrand, Fixed(null, steps: 3), seed: 4);
        Perturb(device.Flow);
        Perturb(cpu.Flow);
        device.DrawOverride = HostDraws(device, 2);
        cpu.DrawOverride = HostDraws(cpu, 2);
        device.Train(64);
        cpu.Train(64);

        Assert.Single(cpu.RoundLosses);
        Assert.Single(device.RoundLosses);
        double expected = cpu.RoundLosses[0], actual = device.RoundLosses[0];
        output.WriteLine($"first step's loss: CPU {expected}, device {actual}");
        Assert.True(Math.Abs(expected - actual) <= 2e-4 * Math.Abs(expected), $"CPU loss {expected}, device {actual}");
        Assert.Equal(cpu.Shares, device.Shares);
        var e = cpu.Flow.Parameters().ToList(); var a = device.Flow.Parameters().ToList();
        Assert.Equal(e.Count, a.Count);
        double moved = 0;
        var before = new MultichannelFlowIntegrator(integrand, Fixed(null), seed: 4).Flow;
        Perturb(before);
        var b = before.Parameters().ToList();
        for (int i = 0; i < e.Count; i++)
        {
            Assert2.Close(e[i].Value, a[i].Value, 0, 2e-3, $"parameter {i}");
            moved = Math.Max(moved, e[i].Value.ToArray().Zip(b[i].Value.ToArray()).Max(p => Math.Abs(p.First - p.Second)));
        }
        Assert.True(moved > 1e-2, $"the round moved the weights by at most {moved}");
    }

    [Fact]
    public void AShortRunOnTheDeviceIntegratesTheCamelWithinFourSigma()
    {
        var integrand = new TwoPeaks();
        double truth = integrand.AnalyticValue!.Value;
        using var device = new MultichannelFlowIntegrator(integrand, Fixed(_dev), seed: 3);
        device.Train(384);
        var result = device.Integrate(1024, 2);
        var untrained = new MultichannelFlowIntegrator(integrand, Fixed(null), seed: 3).Integrate(1024, 2);
        output.WriteLine($"device {result.Estimate} ± {result.Error} (analytic {truth}), σ_w/⟨w⟩ {result.Weights.RelativeStandardDeviation:F3}, untrained {untrained.Weights.RelativeStandardDeviation:F3}");
        Assert.Equal(6, device.RoundLosses.Count);
        Assert.All(device.RoundLosses, l => Assert.True(double.IsFinite(l)));
        Assert.True(Math.Abs(result.Estimate - truth) <= 4 * result.Error, $"device: {result.Estimate} ± {result.Error}, analytic {truth}");
        // measured: σ_w/⟨w⟩ 0.80 trained on the device, 1.78 untrained
        Assert.True(result.Weights.RelativeStandardDeviation <= 0.6 * untrained.Weights.RelativeStandardDeviation, "the device's training did not narrow the weights");
        Assert.Equal(384 + 1024, device.FunctionCalls);
        Assert.True(device.Channels.All(c => c.Calls > 0));
        // the host flow holds the trained weights: its density is no longer uniform
        var x = new Rng(5).Uniform<float>([16, 2]);
        var context = Tensor<float>.Zeros(16, 2);
        for (int i = 0; i < 16; i++) context.Span[i * 2 + i % 2] = 1;
        var logq = device.Flow.LogProb(new Var<float>(x), new Var<float>(context)).Value.ToArray();
        Assert.True(logq.Max() - logq.Min() > 0.01, "the flow is still uniform");
    }

    /// <summary>
    /// Uniform points of a fixed stream with a log q_old that is not the flow's (so that the coefficients vary): two
    /// integrators draw the same rounds whatever their flows (the device's host flow is a call behind while it trains).
    /// </summary>
    private static Func<int, int, (Tensor<float> X, Tensor<float> LogQ)> FixedDraws()
    {
        var rng = new Rng(19);
        return (c, m) =>
        {
            var x = rng.Uniform<float>([m, 2]);
            var logq = Tensor<float>.Empty(m);
            for (int i = 0; i < m; i++) logq.Span[i] = (float)(0.3 * rng.NextNormal());
            return (x, logq);
        };
    }

    [Theory]
    [InlineData(true, false, false)]  // learned channel weights over the integrand's prior
    [InlineData(false, true, false)]  // balance weights alone (the device's divergence steps, the weights from its log q)
    [InlineData(true, true, false)]   // learned channel weights over the balance weights
    [InlineData(false, true, true)]   // the mixture loss
    public void EachModeFollowsTheCpuStepByStepOverTwoRounds(bool learn, bool balance, bool mixture)
    {
        var integrand = new TwoPeaks();
        MultichannelOptions Options(IFlowAccelerator? device) => new()
        {
            Flow = DeviceFlowIntegratorTests.Small(device, steps: 2) with { SamplesPerRound = 32 },
            LearnChannelWeights = learn, BalanceWeights = balance, MixtureLoss = mixture,
        };
        using var device = new MultichannelFlowIntegrator(integrand, Options(_dev), seed: 4);
        var cpu = new MultichannelFlowIntegrator(integrand, Options(null), seed: 4);
        var start = new MultichannelFlowIntegrator(integrand, Options(null), seed: 4);
        foreach (var owner in new[] { device, cpu, start })
        {
            Perturb(owner.Flow);
            if (owner.ChannelWeights is { } net) Perturb(net.Parameters());
            owner.DrawOverride = FixedDraws();
        }
        device.Train(64);
        cpu.Train(64);

        Assert.Equal(2, cpu.RoundLosses.Count);
        Assert.Equal(2, device.RoundLosses.Count);
        for (int r = 0; r < 2; r++)
        {
            double expected = cpu.RoundLosses[r], actual = device.RoundLosses[r];
            output.WriteLine($"round {r}'s first loss: CPU {expected}, device {actual}");
            Assert.True(Math.Abs(expected - actual) <= 2e-4 * Math.Abs(expected), $"round {r}: CPU loss {expected}, device {actual}");
        }
        Assert.Equal(4, cpu.StepLosses.Count);
        // the device's fixed-weight steps (balance weights alone) read their loss once a round; the others every step
        Assert.Equal(learn || mixture ? 4 : 0, device.StepLosses.Count);
        for (int s = 0; s < device.StepLosses.Count; s++)
            Assert.True(Math.Abs(cpu.StepLosses[s] - device.StepLosses[s]) <= 2e-4 * Math.Abs(cpu.StepLosses[s]), $"step {s}: CPU loss {cpu.StepLosses[s]}, device {device.StepLosses[s]}");
        Assert.NotEqual(cpu.RoundLosses[0], cpu.RoundLosses[1]);
        for (int c = 0; c < 2; c++) Assert.True(Math.Abs(cpu.Shares[c] - device.Shares[c]) <= 1e-5, $"share {c}: CPU {cpu.Shares[c]}, device {device.Shares[c]}");

        AssertTrainedAlike(cpu.Flow.Parameters(), device.Flow.Parameters(), start.Flow.Parameters(), "flow");
        if (learn) AssertTrainedAlike(cpu.ChannelWeights!.Parameters(), device.ChannelWeights!.Parameters(), start.ChannelWeights!.Parameters(), "channel-weight network");
        // an integration on the same draws: the same estimate (the balance weights from the device flow's log q)
        var expectedResult = cpu.Integrate(64);
        var actualResult = device.Integrate(64);
        output.WriteLine($"integration: CPU {expectedResult.Estimate} ± {expectedResult.Error}, device {actualResult.Estimate} ± {actualResult.Error}");
        Assert.True(Math.Abs(expectedResult.Estimate - actualResult.Estimate) <= 1e-5 * Math.Abs(expectedResult.Estimate), $"estimate: CPU {expectedResult.Estimate}, device {actualResult.Estimate}");
    }

    [Fact]
    public void ADivergenceWithTheChannelWeightNetworkKeepsTheStepsTakenAsOnTheCpu()
    {
        // a learning rate of 1e30: the first step throws the weights to ±1e30, the second step's loss is not finite. The
        // loss is read back before each step, so (as on the CPU) the flow and the network keep the first step's weights
        static MultichannelOptions Diverging(IFlowAccelerator? device) => new()
        {
            Flow = DeviceFlowIntegratorTests.Small(device, steps: 2) with { SamplesPerRound = 32, LearningRate = 1e30 },
            LearnChannelWeights = true,
        };
        var integrand = new TwoPeaks();
        using var device = new MultichannelFlowIntegrator(integrand, Diverging(_dev), seed: 4);
        var cpu = new MultichannelFlowIntegrator(integrand, Diverging(null), seed: 4);
        foreach (var owner in new[] { device, cpu })
        {
            Perturb(owner.Flow);
            Perturb(owner.ChannelWeights!.Parameters());
            owner.DrawOverride = FixedDraws();
        }
        Assert.Throws<TrainingDivergedException>(() => cpu.Train(64));
        Assert.Throws<TrainingDivergedException>(() => device.Train(64));
        Assert.Equal(cpu.StepLosses.Count, device.StepLosses.Count); // the same step diverged
        foreach (var (e, a, what) in new[] { (cpu.Flow.Parameters().ToList(), device.Flow.Parameters().ToList(), "flow"),
            (cpu.ChannelWeights!.Parameters().ToList(), device.ChannelWeights!.Parameters().ToList(), "channel-weight network") })
            for (int i = 0; i < e.Count; i++) Assert2.Close(e[i].Value, a[i].Value, 1e-3, 2e-3, $"{what} parameter {i} after the divergence");
        Assert.Contains(device.Flow.Parameters(), p => p.Value.ToArray().Max(Math.Abs) > 1e29); // the first step was taken
    }

    /// <summary>The CPU's and the device's weights agree (2e−3) and moved from the start by more than 1e−2.</summary>
    private static void AssertTrainedAlike(IEnumerable<Parameter<float>> cpu, IEnumerable<Parameter<float>> device, IEnumerable<Parameter<float>> start, string what)
    {
        var e = cpu.ToList(); var a = device.ToList(); var b = start.ToList();
        Assert.Equal(e.Count, a.Count);
        double moved = 0;
        for (int i = 0; i < e.Count; i++)
        {
            Assert2.Close(e[i].Value, a[i].Value, 0, 2e-3, $"{what} parameter {i}");
            moved = Math.Max(moved, e[i].Value.ToArray().Zip(b[i].Value.ToArray()).Max(p => Math.Abs(p.First - p.Second)));
        }
        Assert.True(moved > 1e-2, $"the rounds moved the {what}'s weights by at most {moved}");
    }

    /// <summary>The 2-D camel (<see cref="CamelIntegrand"/>) in two identity channels, the prior α_k the share of the peak at 1/3 (k = 0) or 2/3 (k = 1).</summary>
    [Fact]
    public void ATrainingCallThatFailsMidwayKeepsTheStepsTakenAsOnTheCpu()
    {
        // the integrand fails in the second round: the host flow keeps round 1's steps on the CPU, and so must the device's
        using var device = new MultichannelFlowIntegrator(new TwoPeaks(failAfter: 64), Fixed(_dev), seed: 4);
        var cpu = new MultichannelFlowIntegrator(new TwoPeaks(failAfter: 64), Fixed(null), seed: 4);
        Perturb(device.Flow);
        Perturb(cpu.Flow);
        device.DrawOverride = HostDraws(device, 2);
        cpu.DrawOverride = HostDraws(cpu, 2);
        var before = cpu.Flow.Parameters().Select(p => p.Value.ToArray()).ToList();
        Assert.Throws<InvalidOperationException>(() => cpu.Train(128));
        Assert.Throws<InvalidOperationException>(() => device.Train(128));
        var expected = cpu.Flow.Parameters().ToList(); var actual = device.Flow.Parameters().ToList();
        Assert.Contains(Enumerable.Range(0, before.Count), i => !before[i].SequenceEqual(expected[i].Value.ToArray())); // the CPU took round 1's steps
        for (int i = 0; i < expected.Count; i++) Assert2.Close(expected[i].Value, actual[i].Value, 1e-4, 1e-4, $"parameter {i} after the failed call");
    }

    /// <summary>Two channels over the camel; the evaluations throw once more than <paramref name="failAfter"/> points were asked for.</summary>
    private sealed class TwoPeaks(int failAfter = int.MaxValue) : IMultichannelIntegrand
    {
        private readonly CamelIntegrand _camel = new(2);
        private int _done;

        public string Name => "two-peaks";

        public int Dimensions => 2;

        public int Channels => 2;

        public int Features => 2;

        public double? AnalyticValue => _camel.AnalyticValue;

        public void Evaluate(int channel, ReadOnlySpan<double> u, Span<double> values, Span<double> priors, Span<double> features)
        {
            if (_done + values.Length > failAfter) throw new InvalidOperationException("the integrand failed");
            _done += values.Length;
            _camel.Evaluate(u, values);
            u.CopyTo(features);
            for (int i = 0; i < values.Length; i++)
            {
                double a = 0, b = 0;
                for (int j = 0; j < 2; j++)
                {
                    double x = u[2 * i + j];
                    a += (x - 1.0 / 3) * (x - 1.0 / 3);
                    b += (x - 2.0 / 3) * (x - 2.0 / 3);
                }
                // the shares of the two peaks, computed stably (their difference only)
                double share = 1 / (1 + Math.Exp((a - b) / 0.04));
                priors[2 * i] = share;
                priors[2 * i + 1] = 1 - share;
            }
        }

        public void ChannelCoordinates(int channel, ReadOnlySpan<double> u, Span<double> coordinates, Span<double> weights)
        {
            int n = u.Length / 2;
            for (int i = 0; i < n; i++)
                for (int j = 0; j < 2; j++)
                {
                    u.Slice(2 * i, 2).CopyTo(coordinates.Slice((2 * i + j) * 2, 2));
                    weights[2 * i + j] = 1;
                }
        }
    }
}
