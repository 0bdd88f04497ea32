using System.Reflection;
using NormalizingFlows.Autograd;
using NormalizingFlows.Distributions;
using NormalizingFlows.Flows;
using NormalizingFlows.Nn;
using NormalizingFlows.Nn.Embeddings;
using NormalizingFlows.Tensors;
using NormalizingFlows.Training;
using NormalizingFlows.Transforms;
using NormalizingFlows.Transforms.Continuous;

namespace NormalizingFlows.Cuda.Tests;

/// <summary>
/// Flow matching's draws made on the device (<see cref="FlowMatchingLoss{T}.DeviceDraws"/>): their distribution, their
/// dependence on (seed, step), the loss and every gradient against the CPU loss fed the read-back draws, a TrainingLoop
/// run in this mode, and the refusal of a base it cannot draw from.
/// </summary>
public sealed class DeviceFlowMatchingDrawsTests(CpuAcceleratorFixture fixture) : IClassFixture<CpuAcceleratorFixture>
{
    private readonly ComputeDevice _dev = fixture.Device;
    private const int D = 3, C = 2, Raw = 3;

    /// <summary>DeviceFlowMatchingTests' continuous flow (RK4, weights moved off the zero-output start), behind an MLP embedding when conditional.</summary>
    private static Flow<float> Build(bool conditional, int seed = 4) => DeviceFlowMatchingTests.Build(conditional, embedded: conditional, seed);

    private static Flow<float> Continuous(Flow<float> flow) => DeviceFlowMatchingTests.Continuous(flow);

    private static ContextEmbedding<float>? Embedding(Flow<float> flow) => DeviceFlowMatchingTests.Embedding(flow);

    private static float[] Read(DeviceTensor t) => t.Download().ReadOnlySpan.ToArray();

    [Fact]
    public void TheDrawsHaveTheirDistributionsAndDependOnTheSeedAndStepOnly()
    {
        const int n = 1000;
        using var device = new DeviceFlowMatching(_dev, Build(false), 0, null, null);
        device.Draw(n, seed: 5, step: 1);
        var t = Read(device.Time); var x0 = Read(device.BasePoints);
        Assert.Equal(n, t.Length); Assert.Equal(n * D, x0.Length);
        // t ~ U[0, 1): mean 1/2 (σ² = 1/12), variance 1/12 (its estimate's σ² = (1/80 − 1/144)/n); 5σ bounds
        Assert.All(t, v => Assert.True(v >= 0 && v < 1, $"time {v} outside [0, 1)"));
        double tm = t.Average(v => (double)v), tv = t.Average(v => (v - tm) * (v - tm));
        Assert.True(Math.Abs(tm - 0.5) <= 5 * Math.Sqrt(1.0 / 12 / n), $"mean time {tm}");
        Assert.True(Math.Abs(tv - 1.0 / 12) <= 5 * Math.Sqrt((1.0 / 80 - 1.0 / 144) / n), $"time variance {tv}");
        // x₀ ~ N(0, 1) per column: mean 0 (σ² = 1/n), variance 1 (σ² = 2/n), columns uncorrelated (σ² = 1/n); finite
        Assert.All(x0, v => Assert.True(float.IsFinite(v)));
        var cols = Enumerable.Range(0, D).Select(j => Enumerable.Range(0, n).Select(r => (double)x0[r * D + j]).ToArray()).ToArray();
        foreach (var col in cols)
        {
            double m = col.Average(), v = col.Average(a => (a - m) * (a - m));
            Assert.True(Math.Abs(m) <= 5 / Math.Sqrt(n), $"base mean {m}");
            Assert.True(Math.Abs(v - 1) <= 5 * Math.Sqrt(2.0 / n), $"base variance {v}");
        }
        double corr = Enumerable.Range(0, n).Average(r => cols[0][r] * cols[1][r]);
        Assert.True(Math.Abs(corr) <= 5 / Math.Sqrt(n), $"columns 0 and 1 correlate: {corr}");
        double tx = Enumerable.Range(0, n).Average(r => (t[r] - 0.5) * cols[2][r]);
        Assert.True(Math.Abs(tx) <= 5 * Math.Sqrt(1.0 / 12 / n), $"time and base correlate: {tx}");

        // another step, another seed: other draws; the same (seed, step) again, on another compiled flow: the same draws
        device.Draw(n, seed: 5, step: 2);
        var (t2, x2) = (Read(device.Time), Read(device.BasePoints));
        Assert.True(t2.Zip(t).Count(p => p.First == p.Second) < 5, "the times did not change with the step");
        Assert.True(x2.Zip(x0).Count(p => p.First == p.Second) < 5, "the base points did not change with the step");
        device.Draw(n, seed: 6, step: 1);
        Assert.True(Read(device.Time).Zip(t).Count(p => p.First == p.Second) < 5, "the times did not change with the seed");
        using var other = new DeviceFlowMatching(_dev, Build(false, seed: 9), 0, null, null);
        other.Draw(n, seed: 5, step: 1);
        Assert.Equal(t, Read(other.Time));
        Assert.Equal(x0, Read(other.BasePoints));
        // a step count past 2²⁴ (both halves of the step buffer) draws otherwise than its low half alone
        other.Draw(n, seed: 5, step: 1 + (1L << 24));
        Assert.True(Read(other.Time).Zip(t).Count(p => p.First == p.Second) < 5, "the step's high half is ignored");
    }

    // the loop's batch of a step (its constructor is internal to the library)
    private static TrainingBatch<float> Batch(long step, long seed, Tensor<float> x, Tensor<float>? c, Tensor<float>? w)
        => (TrainingBatch<float>)Activator.CreateInstance(typeof(TrainingBatch<float>), BindingFlags.NonPublic | BindingFlags.Instance, null,
            [step, seed, x, c, w, ReadOnlyMemory<int>.Empty], null)!;

    // FlowMatchingLoss's internal Compute with given draws
    private static Var<float> CpuLoss(FlowMatchingLoss<float> loss, TrainingBatch<float> batch, Tensor<float> time, Tensor<float> x0)
        => (Var<float>)typeof(FlowMatchingLoss<float>).GetMethod("Compute", BindingFlags.NonPublic | BindingFlags.Instance)!
            .Invoke(loss, [batch, ((Tensor<float>, Tensor<float>)?)(time, x0)])!;

    [Theory]
    [InlineData(false)]
    [InlineData(true)] // weighted, conditional, behind an MLP embedding
    public void TheDrawnStepsLossAndGradientsMatchTheCpuLossWithTheReadBackDraws(bool conditional)
    {
        const int n = 12; const double sigmaMin = 0.1;
        var flow = Build(conditional);
        var r = new Rng(7);
        var x = r.Normal<float>(n, D);
        var c = conditional ? r.Normal<float>(n, Raw) : null;
        var w = conditional ? r.Uniform<float>([n], 0.2, 2.0) : null;
        var loss = new FlowMatchingLoss<float>(flow, sigmaMin) { DeviceDraws = true };
        loss.Prepare(new TrainingData<float>(x, c, w), null);
        var continuous = Continuous(flow); var embedding = Embedding(flow);
        using var device = new DeviceFlowMatching(_dev, continuous, sigmaMin, null, embedding);
        device.SetTrainingData(x, c, w);
        var rows = Enumerable.Range(0, n).ToArray();
        device.Step(rows, seed: 11, step: 3, learningRate: 0, clipNorm: null);
        double deviceLoss = device.TakeLossSum();
        var time = device.Time.Download(); var x0 = device.BasePoints.Download();

        foreach (var p in flow.Parameters()) p.ZeroGrad();
        var cpu = CpuLoss(loss, Batch(3, 11, x, c, w), time, x0);
        cpu.Backward();
        double cpuLoss = cpu.Value[0];
        Assert.True(Math.Abs(deviceLoss - cpuLoss) <= 1e-5 * Math.Abs(cpuLoss) + 1e-6, $"loss {deviceLoss} on the device, {cpuLoss} on the CPU");
        // the CPU loss's own draws (the host stream) give another loss: the device's draws are its own
        foreach (var p in flow.Parameters()) p.ZeroGrad();
        double hostStream = loss.Compute(Batch(3, 11, x, c, w)).Value[0];
        Assert.True(Math.Abs(hostStream - cpuLoss) > 1e-4 * Math.Abs(cpuLoss), "the device drew the host stream's draws");
        foreach (var p in flow.Parameters()) p.ZeroGrad();
        CpuLoss(loss, Batch(3, 11, x, c, w), time, x0).Backward();

        var pairs = device.Flow.Pairs(continuous, embedding).ToList();
        Assert.Equal(flow.Parameters().Count(), 2 * pairs.Count); // every trainable parameter is compared
        int i = 0;
        foreach (var (host, dev) in pairs)
        {
            Assert.True(host.Weight.Grad is not null && host.Weight.Grad.ReadOnlySpan.ToArray().Any(v => v != 0), $"linear {i}: no CPU gradient to compare");
            Assert2.Close(host.Weight.Grad!, dev.GW.Download(), 1e-4, 1e-6, $"linear {i} weight gradient");
            Assert2.Close(host.Bias!.Grad!, dev.GB.Download(), 1e-4, 1e-6, $"linear {i} bias gradient");
            i++;
        }
    }

    private static TrainingData<float> Data(int n, bool conditional)
    {
        var r = new Rng(3);
        var x = r.Normal<float>(n, D);
        var s = x.Span;
        for (int i = 0; i < s.Length; i++) s[i] = 0.6f * s[i] + 1.5f * (i % D);
        return new TrainingData<float>(x, conditional ? r.Normal<float>(n, Raw) : null);
    }

    private sealed class Collect(List<double> losses) : IProgress<TrainingProgress>
    {
        public void Report(TrainingProgress value) => losses.Add(value.Loss);
    }

    private static (TrainingHistory History, Flow<float> Flow, List<double> Losses) Train(IFlowAccelerator device, bool deviceDraws)
    {
        var options = new TrainingOptions { Epochs = 8, BatchSize = 16, LearningRate = 3e-2, Seed = 5, ReportEverySteps = 1, ClipNorm = 5, Device = device };
        var flow = Build(true);
        var losses = new List<double>();
        var history = new TrainingLoop<float>(flow, options) { Progress = new Collect(losses) }
            .Fit(new FlowMatchingLoss<float>(flow) { DeviceDraws = deviceDraws }, Data(48, conditional: true));
        return (history, flow, losses);
    }

    [Fact]
    public void ATrainingLoopWithDeviceDrawsTrainsAndItsReplayedStepsEqualEagerSteps()
    {
        var eager = Train(_dev, deviceDraws: true);
        Assert.Equal(8, eager.History.Epochs.Count);
        double first = eager.History.Epochs[0].TrainLoss, last = eager.History.Epochs[^1].TrainLoss;
        Assert.True(last < 0.8 * first, $"the loss fell from {first} to {last} only");
        Assert.True(eager.Losses.Count >= eager.History.Steps, $"{eager.Losses.Count} reports of {eager.History.Steps} steps");
        // host draws: another run (the device no longer follows the host stream)
        Assert.NotEqual(eager.History.Epochs[0].TrainLoss, Train(_dev, deviceDraws: false).History.Epochs[0].TrainLoss);

        // with graph capture (emulated): the warm steps replay a captured graph that draws each step's own values,
        // bit for bit the eager run (and so the same seed reproduces the run)
        using var device = ComputeDevice.CpuAccelerator();
        var recorder = LaunchRecorder.Install(device, graphs: true);
        var graph = Train(device, deviceDraws: true);
        Assert.True(recorder.Replays > 0, $"{recorder.Captures} captures, {recorder.Replays} replays");
        Assert.Null(device.GraphFallback);
        Assert.Equal(eager.Losses, graph.Losses);
        Assert.Equal(eager.History.Epochs.Select(e => e.TrainLoss), graph.History.Epochs.Select(e => e.TrainLoss));
        foreach (var (e, g) in eager.Flow.Parameters().Zip(graph.Flow.Parameters())) Assert.Equal(e.Value.ToArray(), g.Value.ToArray());
    }

    [Fact]
    public void DeviceDrawsFromAnotherBaseAreRefusedByName()
    {
        var inner = Build(false);
        var flow = new Flow<float>(inner.Transform, new BoxUniform<float>([-1.0, -1, -1], [1.0, 1, 1]));
        var loop = new TrainingLoop<float>(flow, new TrainingOptions { Epochs = 1, BatchSize = 8, Device = _dev });
        var refused = Assert.Throws<NotSupportedException>(() => loop.Fit(new FlowMatchingLoss<float>(flow) { DeviceDraws = true }, Data(16, conditional: false)));
        Assert.Contains("device draws (FlowMatchingLoss.DeviceDraws) from the base distribution BoxUniform", refused.Message);
    }
}
