using NormalizingFlows.Autograd;
using NormalizingFlows.Hep.Integration;
using NormalizingFlows.Tensors;

namespace NormalizingFlows.Hep.Tests.Integration;

/// <summary><see cref="MultichannelOptions.MixtureLoss"/>: the χ² divergence of the whole channel mixture, on <see cref="TwoChannelCamel"/>.</summary>
public class MixtureLossTests
{
    private static readonly MultichannelOptions Mixture = new()
    {
        Flow = TrainedCamelFlow.Smaller, LearnChannelWeights = false, BalanceWeights = true, MixtureLoss = true,
    };

    [Fact]
    public void MixtureLogDensityAndTerms_MatchTheirClosedFormAndFiniteDifferenceGradients()
    {
        // three points, two channels; point 1 is out of channel 1's reach (offset −∞), point 2 out of channel 0's
        double[] logq = [0.3, -0.7, 1.1, 0.2];
        int[] index = [0, 1, 2, 0, 0, 3];
        double inf = double.NegativeInfinity;
        double[] offsets = [Math.Log(0.25) - Math.Log(2.0), Math.Log(0.75) - Math.Log(0.5), Math.Log(0.25) - Math.Log(3.0), inf, inf, Math.Log(0.75) - Math.Log(1.5)];
        var offset = Tensor<double>.From(offsets, 3, 2);
        var coefficient = Tensor<double>.From([0.4, 1.3, 0.9], 3);
        var logQOld = Tensor<double>.From([0.1, -0.5, 0.8], 3);

        var mix = MultichannelFlowIntegrator.MixtureLogDensity(new Var<double>(Tensor<double>.From(logq, 4)), index, offset).Value.ToArray();
        // q_mix = Σ_j (N_j/N) q(u_j | j) / w_j over the channels that reach the point
        Assert.Equal(Math.Log(0.25 * Math.Exp(0.3) / 2 + 0.75 * Math.Exp(-0.7) / 0.5), mix[0], 1e-12);
        Assert.Equal(Math.Log(0.25 * Math.Exp(1.1) / 3), mix[1], 1e-12);
        Assert.Equal(Math.Log(0.75 * Math.Exp(0.2) / 1.5), mix[2], 1e-12);

        var terms = MultichannelFlowIntegrator.MixtureTerms(new Var<double>(Tensor<double>.From(logq, 4)), index, offset, coefficient, logQOld).Value.ToArray();
        for (int i = 0; i < 3; i++) Assert.Equal(coefficient.ToArray()[i] * Math.Exp(logQOld.ToArray()[i] - mix[i]), terms[i], 1e-12);

        var check = GradCheck.Check(v => Ops.Sum(MultichannelFlowIntegrator.MixtureTerms(v[0], index, offset, coefficient, logQOld)), Tensor<double>.From(logq, 4));
        Assert.True(check.Passed, check.ToString());
    }

    [Fact]
    public void Loss_OfAFixedFlowOnAnotherFlowsEvents_EqualsTheQuadratureOfTheMixtureDivergence()
    {
        var f = new TwoChannelCamel();
        double exact = f.AnalyticValue!.Value;
        // the events come from a trained flow with equal calls per channel (MinimumShare 1 keeps the shares at ½)
        var sampler = new MultichannelFlowIntegrator(f, Mixture with { MinimumShare = 1 }, seed: 11);
        sampler.Train(8 * 512);
        Assert.Equal(new[] { 0.5, 0.5 }, sampler.Shares);
        // the loss is that of an untrained flow: q(u | k) = 1, so q₀(x) = 1, q₁(x) = 1/(4 √x₁ √x₂), q_mix = ½ (q₀ + q₁)
        var fresh = new MultichannelFlowIntegrator(f, Mixture, seed: 12);
        var (loss, error) = MeanAndError(fresh.MixtureLossTerms(sampler, 40_000, exact));

        var camel = new CamelIntegrand(2);
        var grid = TrainedCamelFlow.MidpointGrid(500);
        var value = new double[1];
        double quadrature = 0;
        for (int i = 0; i < grid.Length / 2; i++)
        {
            camel.Evaluate(grid.AsSpan(2 * i, 2), value);
            double mixture = 0.5 * (1 + 1 / (4 * Math.Sqrt(grid[2 * i] * grid[2 * i + 1])));
            quadrature += value[0] * value[0] / mixture;
        }
        quadrature /= grid.Length / 2 * exact * exact;
        Assert.True(Math.Abs(loss - quadrature) < 4 * error, $"mixture loss {loss} ± {error}, quadrature {quadrature}");

        // the sampler's own loss is far from it: the events come from another density, and the q_old/q_mix factor is what the test checks
        var (own, ownError) = MeanAndError(sampler.MixtureLossTerms(sampler, 40_000, exact));
        Assert.True(Math.Abs(own - quadrature) > 20 * Math.Max(ownError, error), $"the sampler's loss {own} ± {ownError} is too close to {quadrature} for the test");
    }

    [Fact]
    public void Training_OnTheMixtureLoss_StaysUnbiasedAndNarrowsTheWeights()
    {
        var f = new TwoChannelCamel();
        double exact = f.AnalyticValue!.Value;
        var untrained = new MultichannelFlowIntegrator(f, Mixture, seed: 13).Integrate(40_000, 4);
        var mixture = new MultichannelFlowIntegrator(f, Mixture, seed: 13);
        mixture.Train(8 * 512);
        Assert.Equal(8 * 512, mixture.FunctionCalls);
        var r = mixture.Integrate(40_000, 4);
        Assert.True(Math.Abs(r.Pull(exact)) < 4, $"mixture loss: {r.Estimate} ± {r.Error}, exact {exact}");
        Assert.True(r.Weights.RelativeStandardDeviation < 0.8 * untrained.Weights.RelativeStandardDeviation,
            $"trained σ_w/⟨w⟩ {r.Weights.RelativeStandardDeviation} not below 0.8 × the untrained {untrained.Weights.RelativeStandardDeviation}");
        Assert.Equal(40_000, mixture.Channels.Sum(c => c.Calls));
    }

    [Fact]
    public void SecondMomentAllocation_SharesTheCallsByTheRootMeanSquareOfEachChannelsWeights()
    {
        var f = new TwoChannelCamel();
        foreach (bool secondMoment in new[] { false, true })
        {
            var integrator = new MultichannelFlowIntegrator(f, Mixture with { SecondMomentAllocation = secondMoment }, seed: 14);
            integrator.Integrate(20_000, 1);
            // one iteration: the next shares come from its channels, 0.9 r_k/Σr + 0.05 (MinimumShare 0.1 of an equal share)
            var r = integrator.Channels.Select(c => secondMoment ? Math.Sqrt(c.Variance + c.Estimate * c.Estimate) : Math.Sqrt(c.Variance)).ToArray();
            for (int k = 0; k < 2; k++) Assert.Equal(0.9 * r[k] / r.Sum() + 0.05, integrator.Shares[k], 1e-6);
        }
        // the two rules differ here: the channels' means are not in proportion to their spreads
        var ch = new MultichannelFlowIntegrator(f, Mixture, seed: 14);
        ch.Integrate(20_000, 1);
        double[] sigma = [Math.Sqrt(ch.Channels[0].Variance), Math.Sqrt(ch.Channels[1].Variance)], mean = [ch.Channels[0].Estimate, ch.Channels[1].Estimate];
        Assert.True(Math.Abs(sigma[0] / sigma[1] - mean[0] / mean[1]) > 0.05 * sigma[0] / sigma[1], $"σ {sigma[0]}, {sigma[1]} and means {mean[0]}, {mean[1]} too alike for the test");
    }

    [Fact]
    public void Options_RejectTheMixtureLossWithoutBalanceWeightsOrWithTheNetwork()
    {
        var f = new TwoChannelCamel();
        var e = Assert.Throws<ArgumentException>(() => new MultichannelFlowIntegrator(f, Mixture with { BalanceWeights = false }));
        Assert.Equal("MixtureLoss", e.ParamName);
        e = Assert.Throws<ArgumentException>(() => new MultichannelFlowIntegrator(f, Mixture with { LearnChannelWeights = true }));
        Assert.Equal("MixtureLoss", e.ParamName);
    }

    private static (double Mean, double Error) MeanAndError(double[] x)
    {
        double mean = x.Average(), variance = x.Sum(v => (v - mean) * (v - mean)) / (x.Length - 1);
        return (mean, Math.Sqrt(variance / x.Length));
    }
}
