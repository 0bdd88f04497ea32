using NormalizingFlows.Flows;
using NormalizingFlows.Optim;
using NormalizingFlows.Tensors;
using NormalizingFlows.Training;

namespace NormalizingFlows.Cuda.Tests;

/// <summary>
/// Launch-free training steps: a step's kernel launches and their arguments are the same from step to step (the
/// per-step Adam scalars live in a device buffer), and steps replayed from a captured graph train exactly as eager
/// steps and as the CPU run. CI has no GPU: <see cref="LaunchRecorder"/> logs the launches and emulates graph capture
/// on the CPU accelerator (capture records the launches without running them, a replay runs them with the arguments
/// they had at capture); the CUDA capture itself is GpuCheck's graph_vs_eager.
/// </summary>
public sealed class DeviceGraphTests(CpuAcceleratorFixture fixture) : IClassFixture<CpuAcceleratorFixture>
{
    private readonly ComputeDevice _eager = fixture.Device;
    private const int D = 4;

    private static TrainingData<float> Data(int n = 96, long seed = 3)
    {
        var x = new Rng(seed).Normal<float>(n, D);
        var s = x.Span;
        for (int i = 0; i < s.Length; i++) s[i] = 0.7f * s[i] + 0.4f * (i % D);
        return new TrainingData<float>(x);
    }

    [Theory]
    [InlineData("realnvp")]
    [InlineData("maf_rqs")]
    public void ATrainingStepLaunchesTheSameKernelsWithTheSameArgumentsAtEveryStep(string kind)
    {
        using var device = ComputeDevice.CpuAccelerator();
        var recorder = LaunchRecorder.Install(device, graphs: false);
        var flow = DeviceFlowTests.Build(kind);
        var adam = new AdamW<float>(flow.Parameters(), 1e-2, weightDecay: 0.5);
        using var accelerated = device.Compile(flow, adam);
        accelerated.SetTrainingData(Data(40).X);
        var rng = new Random(7);
        List<string> Step(int step)
        {
            recorder.Log = [];
            var rows = Enumerable.Range(0, 40).OrderBy(_ => rng.Next()).Take(16).ToArray(); // other rows at every step
            accelerated.TrainStep(rows, learningRate: 1e-2 / (1 + step), clipNorm: 0.5);  // a decaying learning rate
            var log = recorder.Log;
            recorder.Log = null;
            return log;
        }
        Step(0); Step(1); // warm-up: the first steps allocate the clip buffers
        var (a, b) = (Step(2), Step(3));
        Assert.Equal(a.Count, b.Count);
        Assert.Contains(a, l => l.StartsWith("Adam(", StringComparison.Ordinal));
        Assert.Contains(a, l => l.StartsWith("ClipScale(", StringComparison.Ordinal));
        // only the launch that writes the step's Adam scalars (learning rate, bias corrections, decay) differs
        var differing = a.Zip(b).Where(p => p.First != p.Second).ToList();
        Assert.True(differing.Count == 1, $"{differing.Count} launches differ between steps: {string.Join("; ", differing.Take(3).Select(p => $"{p.First} vs {p.Second}"))}");
        Assert.StartsWith("AdamScalars(", differing[0].First, StringComparison.Ordinal);
    }

    /// <summary>A TrainingLoop run with a cosine schedule, AdamW's weight decay, clipping and a partial last batch.</summary>
    private static (TrainingHistory History, Flow<float> Flow) Train(string kind, IFlowAccelerator? device)
    {
        const double lr = 3e-3, decay = 0.5;
        var options = new TrainingOptions
        {
            Epochs = 3, BatchSize = 32, LearningRate = lr, Seed = 5, ValidationFraction = 0.25, ReportEverySteps = 2,
            Schedule = new CosineDecaySchedule(lr, 9, 3e-4), ClipNorm = 2, WeightDecay = decay, Device = device,
        };
        var flow = DeviceFlowTests.Build(kind);
        var adam = new AdamW<float>(flow.Parameters(), lr, weightDecay: decay);
        return (new TrainingLoop<float>(flow, options, adam).Fit(new MaximumLikelihoodLoss<float>(flow), Data()), flow);
    }

    [Theory]
    [InlineData("realnvp")]
    [InlineData("maf")]
    public void StepsReplayedFromACapturedGraphTrainExactlyAsEagerStepsAndAsTheCpu(string kind)
    {
        var (cpu, cpuFlow) = Train(kind, null);
        var (eager, eagerFlow) = Train(kind, _eager);
        using var device = ComputeDevice.CpuAccelerator();
        var recorder = LaunchRecorder.Install(device, graphs: true);
        var (graph, graphFlow) = Train(kind, device);
        // 72 training rows in batches of 32, 32, 8 for 3 epochs: the first full batch runs eagerly, the second is
        // captured, the partial one runs eagerly; a new allocation (validation's buffers) makes a new capture
        Assert.True(recorder.Captures >= 1 && recorder.Replays >= 3, $"{recorder.Captures} captures, {recorder.Replays} replays");
        Assert.Null(device.GraphFallback);
        // the replayed steps took their learning rate, bias corrections and decay from the device buffer: bit for bit the eager run
        Assert.Equal(eager.Epochs.Select(e => e.TrainLoss), graph.Epochs.Select(e => e.TrainLoss));
        foreach (var (e, g) in eagerFlow.Parameters().Zip(graphFlow.Parameters())) Assert.Equal(e.Value.ToArray(), g.Value.ToArray());
        // and the run is the CPU's (the schedule's rates, the losses)
        for (int i = 0; i < cpu.Epochs.Count; i++)
        {
            var (c, g) = (cpu.Epochs[i], graph.Epochs[i]);
            Assert.Equal(c.LearningRate, g.LearningRate);
            Assert.True(Math.Abs(c.TrainLoss - g.TrainLoss) <= 2e-4 * Math.Abs(c.TrainLoss) + 1e-5, $"{kind} epoch {c.Epoch}: loss {g.TrainLoss} replayed, {c.TrainLoss} on the CPU");
        }
        if (kind == "realnvp") // no MADE masks (AdamW decays the masked weights on the CPU only)
            foreach (var (c, g) in cpuFlow.Parameters().Zip(graphFlow.Parameters())) Assert2.Close(c.Value, g.Value, 0, 2e-3, $"{kind} weights");
    }

    [Fact]
    public void DivergenceStepsReplayedFromACapturedGraphEqualEagerSteps()
    {
        const int n = 32, steps = 6;
        var rng = new Rng(37);
        var x = rng.Uniform<float>([n, 3]);
        var coefficient = rng.Uniform<float>([n], 0.5, 1.5);
        var aux = rng.Uniform<float>([n], -0.2, 0.2); // log q_old of a χ² round
        var schedule = new CosineDecaySchedule(5e-3, steps, 5e-4);
        (double[] Losses, float[] Weights) Run(ComputeDevice device)
        {
            var flow = DeviceUnitCubeTests.UnitFlow(5);
            using var accelerated = device.Compile(flow, new Adam<float>(flow.Parameters().Where(p => p.Trainable), 5e-3));
            accelerated.SetDivergenceRound(x, Divergence.Variance, coefficient, aux);
            var losses = new double[steps];
            for (int s = 0; s < steps; s++)
            {
                accelerated.DivergenceStep(schedule.LearningRate(s), clipNorm: 10);
                losses[s] = accelerated.TakeLossSum();
            }
            accelerated.CopyTo(flow);
            return (losses, flow.Parameters().SelectMany(p => p.Value.ToArray()).ToArray());
        }
        var (eagerLosses, eagerWeights) = Run(_eager);
        using var device = ComputeDevice.CpuAccelerator();
        var recorder = LaunchRecorder.Install(device, graphs: true);
        var (losses, weights) = Run(device);
        Assert.Equal(steps - 1, recorder.Replays); // the first step warms up, the second is captured and launched
        Assert.Equal(eagerLosses, losses);
        Assert.Equal(eagerWeights, weights);
        Assert.NotEqual(losses[0], losses[^1]);
    }

    /// <summary>
    /// <paramref name="run"/> on <paramref name="eager"/> (or its result <paramref name="eagerRun"/>, when the caller has it) and on a fresh CPU accelerator whose steps
    /// <see cref="LaunchRecorder"/> captures and replays: at least one capture and <paramref name="minReplays"/>
    /// replays, no fallback, and every epoch's loss and every weight of the replayed run equal to the eager run's bit
    /// for bit. Returns the recording device (the caller disposes it), its recorder and the replayed run's flow.
    /// </summary>
    internal static (ComputeDevice Device, LaunchRecorder Recorder, Flow<float> Flow) ReplayedStepsEqualEagerSteps(ComputeDevice eager,
        Func<IFlowAccelerator, (TrainingHistory History, Flow<float> Flow)> run, int minReplays = 1, (TrainingHistory History, Flow<float> Flow)? eagerRun = null)
    {
        var (eagerHistory, eagerFlow) = eagerRun ?? run(eager);
        var device = ComputeDevice.CpuAccelerator();
        var recorder = LaunchRecorder.Install(device, graphs: true);
        var (graph, graphFlow) = run(device);
        Assert.True(recorder.Captures >= 1 && recorder.Replays >= minReplays, $"{recorder.Captures} captures, {recorder.Replays} replays");
        Assert.Null(device.GraphFallback);
        Assert.Equal(eagerHistory.Epochs.Select(e => e.TrainLoss), graph.Epochs.Select(e => e.TrainLoss));
        foreach (var (e, g) in eagerFlow.Parameters().Zip(graphFlow.Parameters())) Assert.Equal(e.Value.ToArray(), g.Value.ToArray());
        return (device, recorder, graphFlow);
    }

    [Fact]
    public void TheDefaultStreamCanBeReplacedAndKernelsStillRun()
    {
        // what ComputeDevice.Cuda(graphs: true) does with a non-blocking CUDA stream (ILGPU's DefaultStream has a protected setter)
        using var device = ComputeDevice.CpuAccelerator();
        var stream = device.Accelerator.CreateStream();
        ComputeDevice.UseStream(device.Accelerator, stream);
        Assert.Same(stream, device.Accelerator.DefaultStream);
        using var t = DeviceTensor.Zeros(device, 5);
        DeviceOps.Fill(t, 2.5f);
        Assert.Equal([2.5f, 2.5f, 2.5f, 2.5f, 2.5f], t.Download().ToArray());
    }

    [Fact]
    public void AFailedCaptureFallsBackToEagerStepsWithOneMessage()
    {
        var (_, eagerFlow) = Train("realnvp", _eager);
        using var device = ComputeDevice.CpuAccelerator();
        var recorder = LaunchRecorder.Install(device, graphs: true);
        recorder.FailNextCapture = true;
        var (_, flow) = Train("realnvp", device);
        Assert.Equal(0, recorder.Replays);
        Assert.Null(device.GraphCapture);
        Assert.Contains("emulated", device.GraphFallback);
        foreach (var (e, g) in eagerFlow.Parameters().Zip(flow.Parameters())) Assert.Equal(e.Value.ToArray(), g.Value.ToArray());
    }
}
