using NormalizingFlows.Hep.Integration;
using NormalizingFlows.Hep.PhaseSpace;

namespace NormalizingFlows.Hep.Tests.Integration;

/// <summary>
/// The 2-D camel as two channels: channel 0 maps x = u (weight 1), channel 1 x_j = u_j² (weight 4 u₁u₂). The prior
/// channel weights are deliberately bad: a step in x₁ that gives the channel 0.9 or 0.1 regardless of where f peaks.
/// </summary>
internal sealed class TwoChannelCamel : IMultichannelIntegrand
{
    private readonly CamelIntegrand _f = new(2);

    public string Name => "camel-2ch";
    public int Dimensions => 2;
    public int Channels => 2;
    public int Features => 2;
    public double? AnalyticValue => _f.AnalyticValue;

    public void Evaluate(int channel, ReadOnlySpan<double> u, Span<double> values, Span<double> priors, Span<double> features)
    {
        Span<double> x = stackalloc double[2];
        Span<double> v = stackalloc double[1];
        for (int i = 0; i < values.Length; i++)
        {
            double u1 = u[2 * i], u2 = u[2 * i + 1], w = 1;
            if (channel == 0) { x[0] = u1; x[1] = u2; }
            else { x[0] = u1 * u1; x[1] = u2 * u2; w = 4 * u1 * u2; }
            _f.Evaluate(x, v);
            values[i] = v[0] * w;
            priors[2 * i] = x[0] > 0.5 ? 0.9 : 0.1;
            priors[2 * i + 1] = 1 - priors[2 * i];
            features[2 * i] = x[0];
            features[2 * i + 1] = x[1];
        }
    }

    public void ChannelCoordinates(int channel, ReadOnlySpan<double> u, Span<double> coordinates, Span<double> weights)
    {
        for (int i = 0; i < u.Length / 2; i++)
        {
            double u1 = u[2 * i], u2 = u[2 * i + 1];
            double x1 = channel == 0 ? u1 : u1 * u1, x2 = channel == 0 ? u2 : u2 * u2;
            // channel 0: u = x, w = 1; channel 1: u = √x, w = 4 √x₁ √x₂
            coordinates[4 * i] = x1; coordinates[4 * i + 1] = x2; weights[2 * i] = 1;
            double r1 = Math.Sqrt(x1), r2 = Math.Sqrt(x2);
            coordinates[4 * i + 2] = r1; coordinates[4 * i + 3] = r2; weights[2 * i + 1] = 4 * r1 * r2;
        }
    }
}

/// <summary>
/// The two-channel camel with its inverse maps altered: channel 1's first coordinate shifted by <paramref name="shift"/>
/// (it leaves [0, 1]) and every channel's weight multiplied by <paramref name="weightScale"/> (which leaves the balance
/// weights as they are, since only ratios of the channels' densities enter them).
/// </summary>
internal sealed class TwoChannelCamelWithABrokenInverse(double shift, double weightScale = 1) : IMultichannelIntegrand
{
    private readonly TwoChannelCamel _f = new();

    public string Name => "camel-2ch-broken-inverse";
    public int Dimensions => 2;
    public int Channels => 2;
    public int Features => 2;
    public double? AnalyticValue => _f.AnalyticValue;

    public void Evaluate(int channel, ReadOnlySpan<double> u, Span<double> values, Span<double> priors, Span<double> features) =>
        _f.Evaluate(channel, u, values, priors, features);

    public void ChannelCoordinates(int channel, ReadOnlySpan<double> u, Span<double> coordinates, Span<double> weights)
    {
        _f.ChannelCoordinates(channel, u, coordinates, weights);
        for (int i = 0; i < u.Length / 2; i++) coordinates[4 * i + 2] += shift;
        for (int i = 0; i < weights.Length; i++) weights[i] *= weightScale;
    }
}

public class MultichannelTests
{
    private static readonly MultichannelOptions Small = new() { Flow = TrainedCamelFlow.Smaller };

    private static void AssertWithin4Sigma(IntegrationResult r, double reference, string what) =>
        Assert.True(Math.Abs(r.Pull(reference)) < 4, $"{what}: {r.Estimate} ± {r.Error}, reference {reference}");

    [Fact]
    public void Estimator_IsUnbiasedWithBadChannelWeights()
    {
        var f = new TwoChannelCamel();
        double exact = f.AnalyticValue!.Value;

        // the bad prior weights with an untrained flow
        var fixedWeights = new MultichannelFlowIntegrator(f, Small with { LearnChannelWeights = false }, seed: 1);
        var r = fixedWeights.Integrate(40_000, 4);
        AssertWithin4Sigma(r, exact, "prior weights");
        Assert.Equal(40_000, r.Calls);
        Assert.Equal(40_000, fixedWeights.Channels.Sum(c => c.Calls));
        // the channels' own estimates add up to the integral too
        double sum = fixedWeights.Channels.Sum(c => c.Estimate), sumError = Math.Sqrt(fixedWeights.Channels.Sum(c => c.Error * c.Error));
        Assert.True(Math.Abs(sum - exact) < 4 * sumError, $"Σ_k I_k = {sum} ± {sumError}, exact {exact}");
        Assert.All(fixedWeights.Channels, c => Assert.True(c.Estimate > 0.2 * exact, $"channel {c.Channel}: {c.Estimate}"));

        // a channel-weight network pushed far from the prior (every output bias ±4): still a partition of unity, still unbiased
        var bad = new MultichannelFlowIntegrator(f, Small, seed: 2);
        var bias = bad.ChannelWeights!.Layers[^1].Bias!.Value.Span;
        bias[0] = 4; bias[1] = -4;
        double[] priors = [0.9, 0.1, 0.1, 0.9, 0.5, 0.5];
        var alpha = bad.ChannelWeightsAt(priors, [0.7, 0.2, 0.3, 0.3, 0.5, 0.5]);
        for (int i = 0; i < 3; i++) Assert.Equal(1, alpha[2 * i] + alpha[2 * i + 1], 1e-12);
        Assert.True(alpha[2] > 0.99, $"α₀ = {alpha[2]}: the biases did not move the weights away from the prior 0.1");
        AssertWithin4Sigma(bad.Integrate(40_000, 4), exact, "biased network");

        // trained jointly: still unbiased, and better than the bad prior with the untrained flow
        var learned = new MultichannelFlowIntegrator(f, Small, seed: 3);
        learned.Train(16 * 512);
        Assert.Equal(16 * 512, learned.FunctionCalls);
        var rl = learned.Integrate(40_000, 4);
        AssertWithin4Sigma(rl, exact, "learned");
        Assert.True(rl.Weights.RelativeStandardDeviation < r.Weights.RelativeStandardDeviation,
            $"learned σ_w/⟨w⟩ {rl.Weights.RelativeStandardDeviation} not below the untrained {r.Weights.RelativeStandardDeviation}");
    }

    [Fact]
    public void BalanceWeights_AreTheCallWeightedChannelDensitiesAndKeepTheEstimateUnbiased()
    {
        var f = new TwoChannelCamel();
        double exact = f.AnalyticValue!.Value;
        // an untrained flow is uniform in u: q₀(x) = 1, q₁(x) = 1/(4 √x₁ √x₂); α₀ = N₀ q₀ / (N₀ q₀ + N₁ q₁)
        var fresh = new MultichannelFlowIntegrator(f, Small with { LearnChannelWeights = false, BalanceWeights = true }, seed: 7);
        double[] u = [0.3, 0.8, 0.05, 0.6];
        int[] calls = [300, 100];
        foreach (int channel in new[] { 0, 1 })
        {
            var alpha = fresh.BalanceWeightsAt(channel, u, calls);
            for (int i = 0; i < 2; i++)
            {
                double x1 = channel == 0 ? u[2 * i] : u[2 * i] * u[2 * i], x2 = channel == 0 ? u[2 * i + 1] : u[2 * i + 1] * u[2 * i + 1];
                double q0 = 300.0, q1 = 100 / (4 * Math.Sqrt(x1) * Math.Sqrt(x2));
                Assert.Equal(q0 / (q0 + q1), alpha[2 * i], 1e-5);
                Assert.Equal(1, alpha[2 * i] + alpha[2 * i + 1], 1e-12);
            }
        }
        // a dropped channel (no calls) gets no weight
        Assert.Equal(1, fresh.BalanceWeightsAt(0, u, [300, 0])[0]);

        // balance weights in training and integration instead of the bad prior: within 4σ, and a smaller spread than the prior's
        var prior = new MultichannelFlowIntegrator(f, Small with { LearnChannelWeights = false }, seed: 8);
        prior.Train(8 * 512);
        var rp = prior.Integrate(40_000, 4);
        var balance = new MultichannelFlowIntegrator(f, Small with { LearnChannelWeights = false, BalanceWeights = true }, seed: 8);
        balance.Train(8 * 512);
        var rb = balance.Integrate(40_000, 4);
        AssertWithin4Sigma(rb, exact, "balance weights");
        Assert.True(rb.Weights.RelativeStandardDeviation < rp.Weights.RelativeStandardDeviation,
            $"balance σ_w/⟨w⟩ {rb.Weights.RelativeStandardDeviation} not below the prior's {rp.Weights.RelativeStandardDeviation}");

        // the channel-weight network on top of the balance weights: still a partition of unity, still unbiased
        var both = new MultichannelFlowIntegrator(f, Small with { BalanceWeights = true }, seed: 9);
        both.Train(8 * 512);
        AssertWithin4Sigma(both.Integrate(40_000, 4), exact, "balance weights and network");
    }

    [Fact]
    public void BalanceWeights_StayAPartitionOfUnityWhenTheChannelDensitiesLeaveTheDoubleRange()
    {
        // weights scaled by 2^-1020 (exactly: a power of two) put N_j q_j/w_j beyond double's range (300 · 2^1020 > 1.8e308);
        // the balance weights depend only on the ratios and must not become ∞/∞
        double[] u = [0.3, 0.8, 0.05, 0.6];
        int[] calls = [300, 100];
        var options = Small with { LearnChannelWeights = false, BalanceWeights = true };
        var reference = new MultichannelFlowIntegrator(new TwoChannelCamel(), options, seed: 7).BalanceWeightsAt(1, u, calls);
        foreach (double scale in new[] { Math.ScaleB(1, -1020), Math.ScaleB(1, 1000) })
        {
            var alpha = new MultichannelFlowIntegrator(new TwoChannelCamelWithABrokenInverse(0, scale), options, seed: 7).BalanceWeightsAt(1, u, calls);
            for (int i = 0; i < alpha.Length; i++) Assert.Equal(reference[i], alpha[i], 1e-12);
        }
    }

    [Fact]
    public void BalanceWeights_RefuseChannelCoordinatesOutsideTheUnitCubeInsteadOfClampingThem()
    {
        double[] u = [0.3, 0.8, 0.05, 0.6];
        int[] calls = [300, 100];
        // rounding-sized excursions are put back on the boundary: at x₁ = 1 channel 1's coordinate √x₁ = 1 becomes
        // 1 + 1e-12, and the weights are those of the exact map
        double[] edge = [1.0, 0.8, 0.05, 0.6];
        var exact = new MultichannelFlowIntegrator(new TwoChannelCamel(), Small with { LearnChannelWeights = false, BalanceWeights = true }, seed: 7);
        var rounded = new MultichannelFlowIntegrator(new TwoChannelCamelWithABrokenInverse(1e-12), Small with { LearnChannelWeights = false, BalanceWeights = true }, seed: 7);
        var a = exact.BalanceWeightsAt(0, edge, calls);
        var b = rounded.BalanceWeightsAt(0, edge, calls);
        for (int i = 0; i < a.Length; i++) Assert.Equal(a[i], b[i], 1e-6);
        // an inverse map that is off: a clear error naming the integrand, the channel and the value, not a clamp
        var broken = new MultichannelFlowIntegrator(new TwoChannelCamelWithABrokenInverse(0.7), Small with { LearnChannelWeights = false, BalanceWeights = true }, seed: 7);
        var e = Assert.Throws<InvalidOperationException>(() => broken.BalanceWeightsAt(0, u, calls));
        Assert.Contains("TwoChannelCamelWithABrokenInverse", e.Message);
        Assert.Contains("channel 1", e.Message);
        Assert.Contains("outside [0, 1]", e.Message);
    }

    [Fact]
    public void Allocation_FollowsTheChannelSpreadAndDroppingKeepsTheEstimate()
    {
        var f = new TwoChannelCamel();
        double exact = f.AnalyticValue!.Value;
        var integrator = new MultichannelFlowIntegrator(f, Small with { LearnChannelWeights = false }, seed: 4);
        integrator.Integrate(20_000, 2);
        var ch = integrator.Channels;
        double s0 = Math.Sqrt(ch[0].Variance), s1 = Math.Sqrt(ch[1].Variance);
        Assert.True(Math.Abs(s0 - s1) > 0.1 * (s0 + s1), $"σ₀ {s0} and σ₁ {s1} too close for the test");
        // the next shares: 0.9 σ_k/Σσ + 0.05 (MinimumShare 0.1 of an equal share), from the last iteration's σ_k
        Assert.Equal(s0 > s1, integrator.Shares[0] > integrator.Shares[1]);
        Assert.Equal(1, integrator.Shares.Sum(), 1e-12);

        // each channel holds about half of the integral (0.9·½ + 0.1·½); a floor of 0.55 drops the first channel below
        // it and keeps the last one; the remaining channel covers every point, so the estimate stays unbiased
        var dropping = new MultichannelFlowIntegrator(f, Small with { LearnChannelWeights = false, DropFloor = 0.55 }, seed: 5);
        dropping.Train(4 * 512);
        var r = dropping.Integrate(40_000, 4);
        Assert.Single(dropping.Channels, c => !c.Active);
        Assert.Equal(0, dropping.Channels.Single(c => !c.Active).Calls);
        AssertWithin4Sigma(r, exact, "one channel dropped");
        Assert.Throws<ArgumentOutOfRangeException>(() => new MultichannelFlowIntegrator(f, Small with { DropFloor = 1 }));
    }

    [Fact]
    public void QqgChannels_ReproduceTheDalitzCrossSection()
    {
        var process = new EeToQqgProcess();
        var f = new EeToQqgChannels(process);
        var integrator = new MultichannelFlowIntegrator(f, Small with { LearnChannelWeights = false }, seed: 6);
        AssertWithin4Sigma(integrator.Integrate(40_000, 4), process.DalitzCrossSection, "ee-qqg, two channels");
        Assert.Throws<ArgumentException>(() => new EeToQqgChannels(new EeToQqgProcess(mapping: PhaseSpaceMappingKind.Rambo)));
    }
}
