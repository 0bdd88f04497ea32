using NormalizingFlows.Flows;
using NormalizingFlows.Optim;
using NormalizingFlows.Tensors;
using NormalizingFlows.Training;

namespace NormalizingFlows.Cuda.Tests;

/// <summary>
/// CUDA graphs over a whole training run (emulated capture, <see cref="LaunchRecorder"/>): an epoch whose last batch is
/// partial alternates two step shapes, and training from data streamed from the host (<see cref="StreamedBatches"/>)
/// uploads into the same device batch buffers at every step; in both, every step after each shape's warm-up and
/// capture replays a graph, and the run equals the eager run bit for bit.
/// </summary>
public sealed class DeviceGraphReviewTests(CpuAcceleratorFixture fixture) : IClassFixture<CpuAcceleratorFixture>
{
    private readonly ComputeDevice _eager = fixture.Device;
    private const int D = 4;

    private static TrainingData<float> Data(int n)
    {
        var x = new Rng(3).Normal<float>(n, D);
        var s = x.Span;
        for (int i = 0; i < s.Length; i++) s[i] = 0.7f * s[i] + 0.4f * (i % D);
        return new TrainingData<float>(x);
    }

    private static (TrainingHistory History, Flow<float> Flow) Train(IFlowAccelerator device, int rows, int epochs)
    {
        var options = new TrainingOptions { Epochs = epochs, BatchSize = 32, LearningRate = 3e-3, Seed = 5, ValidationFraction = 0, ClipNorm = 2, Device = device };
        var flow = DeviceFlowTests.Build("realnvp");
        var adam = new Adam<float>(flow.Parameters(), 3e-3);
        return (new TrainingLoop<float>(flow, options, adam).Fit(new MaximumLikelihoodLoss<float>(flow), Data(rows)), flow);
    }

    [Theory]
    [InlineData(54, false)] // batches of 32 and 22: the two shapes alternate at every step
    [InlineData(72, false)] // 32, 32, 8
    [InlineData(54, true)]  // streamed from the host
    [InlineData(72, true)]
    public void EachStepShapeIsCapturedOnceAndTheOtherStepsReplay(int rows, bool streamed)
    {
        const int epochs = 4;
        int perEpoch = (rows + 31) / 32, steps = epochs * perEpoch;
        var (eager, eagerFlow) = Train(_eager, rows, epochs);
        using var device = ComputeDevice.CpuAccelerator();
        if (streamed) device.ResidentDataLimit = 0;
        var recorder = LaunchRecorder.Install(device, graphs: true);
        var (graph, graphFlow) = Train(device, rows, epochs);
        // each of the two shapes runs eagerly once (warm-up), is captured the next time it comes, and replays from then on
        Assert.Equal(2, recorder.Captures);
        Assert.Equal(steps - 2, recorder.Replays);
        Assert.Null(device.GraphFallback);
        Assert.Equal(eager.Epochs.Select(e => e.TrainLoss), graph.Epochs.Select(e => e.TrainLoss));
        foreach (var (e, g) in eagerFlow.Parameters().Zip(graphFlow.Parameters())) Assert.Equal(e.Value.ToArray(), g.Value.ToArray());
    }

    [Fact]
    public void StepsThatReadTheirLossBetweenReplayedStepsGiveTheEagerRun()
    {
        // DeviceFlow.TrainStep directly: two batches in turn (their own buffers), every third step reads its loss (eager, never a graph)
        const int steps = 12;
        var rng = new Rng(11);
        var batches = new[] { Data(16).X, rng.Normal<float>(8, D) };
        (float?[] Losses, float[] Weights) Run(ComputeDevice device)
        {
            var flow = DeviceFlowTests.Build("maf");
            using var dflow = DeviceFlow.Compile(flow, device);
            using var a = DeviceTensor.Upload(device, batches[0]);
            using var b = DeviceTensor.Upload(device, batches[1]);
            var losses = new float?[steps];
            for (int s = 0; s < steps; s++) losses[s] = dflow.TrainStep(s % 2 == 0 ? a : b, 2e-3 / (1 + s), readLoss: s % 3 == 2);
            dflow.CopyTo(flow);
            return (losses, flow.Parameters().SelectMany(p => p.Value.ToArray()).ToArray());
        }
        var (eagerLosses, eagerWeights) = Run(_eager);
        using var device = ComputeDevice.CpuAccelerator();
        var recorder = LaunchRecorder.Install(device, graphs: true);
        var (losses, weights) = Run(device);
        Assert.True(recorder.Replays >= 4, $"{recorder.Captures} captures, {recorder.Replays} replays");
        Assert.Equal(eagerLosses, losses);
        Assert.Equal(eagerWeights, weights);
    }
}
