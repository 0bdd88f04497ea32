using NormalizingFlows.Hep.Integration;
using NormalizingFlows.Training;
using Xunit.Abstractions;

namespace NormalizingFlows.Cuda.Tests;

/// <summary>
/// <see cref="FlowIntegrator"/> with <see cref="FlowIntegratorOptions.Device"/> on ILGPU's CPU accelerator: a short
/// training run on the 2-D Gaussian integrates within 4σ of the analytic value with weights as narrow as the CPU run's
/// (and much narrower than the untrained flow's), the host flow holds the device's weights afterwards, buffered rounds,
/// VEGAS pretraining and rounds where f vanishes, piecewise-linear and piecewise-quadratic flows.
/// </summary>
public sealed class DeviceFlowIntegratorTests(CpuAcceleratorFixture fixture, ITestOutputHelper output) : IClassFixture<CpuAcceleratorFixture>
{
    private readonly ComputeDevice _dev = fixture.Device;

    // tiny: the CPU accelerator takes milliseconds per row and pass. 6 rounds of 64 points, 2 steps each, learn the
    // Gaussian's peak: σ_w/⟨w⟩ 0.66–0.77 against 1.73 untrained on the CPU (seeds 1–6, 4096 final points)
    internal static FlowIntegratorOptions Small(IFlowAccelerator? device, int buffer = 0, int steps = 2) =>
        new() { Hidden = 4, Bins = 4, SamplesPerRound = 64, StepsPerRound = steps, LearningRate = 5e-2, Device = device, BufferSize = buffer };

    [Fact]
    public void AGaussianTrainedOnTheDeviceIntegratesWithinFourSigmaWithWeightsAsNarrowAsTheCpus()
    {
        var gaussian = new GaussianIntegrand(2);
        double truth = gaussian.AnalyticValue!.Value;
        using var device = new FlowIntegrator(gaussian, Small(_dev), seed: 3);
        device.Train(384);
        var onDevice = device.Integrate(1024, 2);
        // the CPU's σ_w/⟨w⟩ from a larger final sample (the same training), so that its noise is the device run's
        var cpu = new FlowIntegrator(gaussian, Small(null), seed: 3);
        cpu.Train(384);
        var onCpu = cpu.Integrate(8192, 2);
        var untrained = new FlowIntegrator(gaussian, Small(null), seed: 3).Integrate(8192, 2);

        Assert.True(Math.Abs(onDevice.Estimate - truth) <= 4 * onDevice.Error, $"device: {onDevice.Estimate} ± {onDevice.Error}, analytic {truth}");
        Assert.True(Math.Abs(onCpu.Estimate - truth) <= 4 * onCpu.Error, $"CPU: {onCpu.Estimate} ± {onCpu.Error}, analytic {truth}");
        double dev = onDevice.Weights.RelativeStandardDeviation, host = onCpu.Weights.RelativeStandardDeviation, plain = untrained.Weights.RelativeStandardDeviation;
        output.WriteLine($"device {onDevice.Estimate} ± {onDevice.Error} (analytic {truth}), σ_w/⟨w⟩ device {dev:F3}, CPU {host:F3}, untrained {plain:F3}");
        // the device trains on other samples (its own stream) and its σ_w/⟨w⟩ comes from 1024 points: noise on both
        Assert.True(dev <= 1.5 * host, $"σ_w/⟨w⟩ on the device {dev}, on the CPU {host}");
        Assert.True(dev <= 0.6 * plain, $"σ_w/⟨w⟩ on the device {dev}, untrained {plain}: the device run did not learn");
        Assert.Equal(6, device.History.Count);
        Assert.All(device.History, r => { Assert.Equal(64, r.Calls); Assert.True(double.IsFinite(r.Loss)); });
        Assert.Equal(384 + 1024, device.FunctionCalls);

        // the device-trained q sampled by the host (its weights copied into a CPU integrator): unbiased on 65 536 points
        var copy = new FlowIntegrator(gaussian, Small(null), seed: 9);
        var from = device.Flow.Parameters().ToList(); var to = copy.Flow.Parameters().ToList();
        for (int i = 0; i < from.Count; i++) from[i].Value.ReadOnlySpan.CopyTo(to[i].Value.Span);
        var onHost = copy.Integrate(65_536, 2);
        output.WriteLine($"the device's q on the host: {onHost.Estimate} ± {onHost.Error}, σ_w/⟨w⟩ {onHost.Weights.RelativeStandardDeviation:F3}");
        Assert.True(Math.Abs(onHost.Estimate - truth) <= 4 * onHost.Error, $"the device's q on the host: {onHost.Estimate} ± {onHost.Error}, analytic {truth}");
        Assert.True(Math.Abs(onHost.Weights.RelativeStandardDeviation - dev) <= 0.15 * dev, $"σ_w/⟨w⟩ of the same q: host {onHost.Weights.RelativeStandardDeviation}, device {dev}");

        // the host flow holds the trained weights: its log q of the device's samples is the device's
        var x = new double[32 * 2]; var q = new double[32];
        device.Sample(x, q);
        var logq = device.LogDensity(x);
        for (int i = 0; i < q.Length; i++) Assert.True(Math.Abs(logq[i] - Math.Log(q[i])) <= 1e-3 * (1 + Math.Abs(logq[i])), $"point {i}: host log q {logq[i]}, device {Math.Log(q[i])}");
        Assert.True(logq.Max() - logq.Min() > 1, "the flow is still uniform");
    }

    [Fact]
    public void BufferedRoundsVegasPretrainingAndRoundsWhereTheIntegrandVanishesRunOnTheDevice()
    {
        using var buffered = new FlowIntegrator(new CamelIntegrand(2), Small(_dev, buffer: 128, steps: 1), seed: 4);
        buffered.Train(192);
        Assert.Equal(6, buffered.History.Count); // 3 fresh rounds, each followed by one on the buffer
        Assert.Equal([64L, 0, 64, 0, 64, 0], buffered.History.Select(r => r.Calls));
        Assert.All(buffered.History, r => Assert.True(double.IsFinite(r.Loss)));
        Assert.Equal(192, buffered.FunctionCalls);
        Assert.Equal(128, buffered.Buffer!.Count);

        // VEGAS pretraining: the grid adapts on the host, the device flow learns on its coordinates
        using var gridded = new FlowIntegrator(new CamelIntegrand(2), Small(_dev, steps: 1) with { VegasPretraining = 0.5 }, seed: 6);
        gridded.Train(1024);
        Assert.NotNull(gridded.Grid);
        Assert.Equal(8, gridded.History.Count);
        Assert.All(gridded.History, r => Assert.True(double.IsFinite(r.Loss)));
        var x = new double[16 * 2]; var q = new double[16];
        gridded.Sample(x, q);
        var logq = gridded.LogDensity(x);
        for (int i = 0; i < q.Length; i++) Assert.True(Math.Abs(logq[i] - Math.Log(q[i])) <= 1e-3 * (1 + Math.Abs(logq[i])), $"gridded point {i}: host log q {logq[i]}, device {Math.Log(q[i])}");

        using var zero = new FlowIntegrator(new Zero(), Small(_dev), seed: 5);
        var before = zero.Flow.Parameters().Select(p => p.Value.ToArray()).ToList();
        zero.Train(128);
        Assert.Equal(2, zero.History.Count);
        Assert.All(zero.History, r => Assert.True(double.IsNaN(r.Loss)));
        var after = zero.Flow.Parameters().Select(p => p.Value.ToArray()).ToList();
        for (int i = 0; i < before.Count; i++) Assert.Equal(before[i], after[i]); // skipped rounds take no step
    }

    [Theory]
    [InlineData(UnitSplineKind.PiecewiseLinear)]
    [InlineData(UnitSplineKind.PiecewiseQuadratic)]
    public void APiecewiseFlowTrainsOnTheDeviceAndTheHostAgreesWithItsDensity(UnitSplineKind kind)
    {
        using var piecewise = new FlowIntegrator(new GaussianIntegrand(2), Small(_dev) with { Spline = kind }, seed: 7);
        piecewise.Train(128);
        Assert.Equal(2, piecewise.History.Count);
        Assert.All(piecewise.History, r => Assert.True(double.IsFinite(r.Loss)));
        var x = new double[16 * 2]; var q = new double[16];
        piecewise.Sample(x, q);
        var logq = piecewise.LogDensity(x);
        for (int i = 0; i < q.Length; i++) Assert.True(Math.Abs(logq[i] - Math.Log(q[i])) <= 1e-3 * (1 + Math.Abs(logq[i])), $"point {i}: host log q {logq[i]}, device {Math.Log(q[i])}");
        Assert.True(logq.Max() - logq.Min() > 0.01, "the flow is still uniform");
    }

    [Fact]
    public void ATrainingCallThatFailsMidwayLeavesTheHostAndTheDeviceFlowInAgreement()
    {
        // the integrand fails in the second round, after the first round's steps: as on the CPU, the host flow keeps
        // those steps, and the integrator's samples (the device's) and its log q (the host's) stay one flow's
        using var device = new FlowIntegrator(new FailingAfter(new GaussianIntegrand(2), 64), Small(_dev), seed: 3);
        var before = device.Flow.Parameters().Select(p => p.Value.ToArray()).ToList();
        Assert.Throws<InvalidOperationException>(() => device.Train(192));
        var after = device.Flow.Parameters().Select(p => p.Value.ToArray()).ToList();
        Assert.Contains(Enumerable.Range(0, before.Count), i => !before[i].SequenceEqual(after[i]));
        var cpu = new FlowIntegrator(new FailingAfter(new GaussianIntegrand(2), 64), Small(null), seed: 3);
        var cpuBefore = cpu.Flow.Parameters().Select(p => p.Value.ToArray()).ToList();
        Assert.Throws<InvalidOperationException>(() => cpu.Train(192));
        var cpuAfter = cpu.Flow.Parameters().Select(p => p.Value.ToArray()).ToList();
        Assert.Contains(Enumerable.Range(0, cpuBefore.Count), i => !cpuBefore[i].SequenceEqual(cpuAfter[i])); // the CPU keeps round 1's steps
        var x = new double[16 * 2]; var q = new double[16];
        device.Sample(x, q);
        var logq = device.LogDensity(x);
        for (int i = 0; i < q.Length; i++) Assert.True(Math.Abs(logq[i] - Math.Log(q[i])) <= 1e-3 * (1 + Math.Abs(logq[i])), $"point {i}: host log q {logq[i]}, device {Math.Log(q[i])}");
    }

    [Fact]
    public void ADivergenceOnTheDeviceLeavesNoNonFiniteWeightInTheHostFlow()
    {
        // a learning rate of 1e30 overflows the flow within the first round; the device reads the round's loss back at
        // its end, after stepping on: its weights are then NaN and must not replace the host's
        static FlowIntegratorOptions Diverging(ComputeDevice? device) => Small(device) with { LearningRate = 1e30 };
        var cpu = new FlowIntegrator(new GaussianIntegrand(2), Diverging(null), seed: 3);
        Assert.Throws<TrainingDivergedException>(() => cpu.Train(128));
        Assert.All(cpu.Flow.Parameters().SelectMany(p => p.Value.ToArray()), w => Assert.True(float.IsFinite(w)));
        using var device = new FlowIntegrator(new GaussianIntegrand(2), Diverging(_dev), seed: 3);
        var before = device.Flow.Parameters().SelectMany(p => p.Value.ToArray()).ToArray();
        Assert.Throws<TrainingDivergedException>(() => device.Train(128));
        var after = device.Flow.Parameters().SelectMany(p => p.Value.ToArray()).ToArray();
        Assert.True(after.All(float.IsFinite), $"{after.Count(w => !float.IsFinite(w))} non-finite weights copied back into the host flow");
        Assert.Equal(before, after); // the host keeps the flow it had before the failed call
        // and the integrator's samples (the device's, compiled again from the host) and log q (the host's) are one flow's
        var x = new double[16 * 2]; var q = new double[16];
        device.Sample(x, q);
        var logq = device.LogDensity(x);
        for (int i = 0; i < q.Length; i++) Assert.True(Math.Abs(logq[i] - Math.Log(q[i])) <= 1e-3 * (1 + Math.Abs(logq[i])), $"point {i}: host log q {logq[i]}, device {Math.Log(q[i])}");
    }

    /// <summary>An integrand that evaluates its first <c>limit</c> points and then throws.</summary>
    internal sealed class FailingAfter(IIntegrand inner, int limit) : IIntegrand
    {
        private int _done;

        public string Name => inner.Name;

        public int Dimensions => inner.Dimensions;

        public double? AnalyticValue => inner.AnalyticValue;

        public void Evaluate(ReadOnlySpan<double> x, Span<double> values)
        {
            if (_done + values.Length > limit) throw new InvalidOperationException("the integrand failed");
            _done += values.Length;
            inner.Evaluate(x, values);
        }
    }

    private sealed class Zero : IIntegrand
    {
        public string Name => "zero";

        public int Dimensions => 2;

        public double? AnalyticValue => 0;

        public void Evaluate(ReadOnlySpan<double> x, Span<double> values) => values.Clear();
    }
}
