using System.Reflection;
using NormalizingFlows.Autograd;
using NormalizingFlows.Data;
using NormalizingFlows.Flows;
using NormalizingFlows.Models;
using NormalizingFlows.Nn;
using NormalizingFlows.Nn.Embeddings;
using NormalizingFlows.Optim;
using NormalizingFlows.Tensors;
using NormalizingFlows.Training;
using NormalizingFlows.Transforms;
using NormalizingFlows.Transforms.Continuous;

namespace NormalizingFlows.Cuda.Tests;

/// <summary>
/// Flow matching on the CPU accelerator (<see cref="DeviceFlowMatching"/>, <see cref="TrainingOptions.Device"/> with
/// <see cref="FlowMatchingLoss{T}"/>) against the CPU loss fed the same draws: loss and every parameter gradient
/// (plain, weighted, conditional, behind a context embedding), a TrainingLoop run against the CPU run, and refusals.
/// </summary>
public sealed class DeviceFlowMatchingTests(CpuAcceleratorFixture fixture) : IClassFixture<CpuAcceleratorFixture>
{
    private readonly ComputeDevice _dev = fixture.Device;
    private const int D = 3, C = 2, Raw = 3;

    /// <summary>A continuous flow on D features (C context features), its weights moved off the zero-output start so every layer has a gradient; behind an MLP embedding of Raw inputs when <paramref name="embedded"/>.</summary>
    internal static Flow<float> Build(bool conditional, bool embedded, int seed = 4, bool preprocessed = false)
    {
        // RK4 with 8 steps: the validation's ODE solves stay cheap on the CPU accelerator (the FlowModelTrainer test keeps Dormand–Prince)
        var inner = FlowBuilders.ContinuousFlow<float>(D, layers: 2, hidden: 8, contextFeatures: conditional ? C : 0, rng: new Rng(seed),
            options: new ContinuousFlowOptions { Solver = OdeSolver.RungeKutta4, Steps = 8 });
        var rng = new Rng(seed + 100);
        foreach (var p in inner.Parameters())
        {
            var s = p.Value.Span;
            for (int i = 0; i < s.Length; i++) s[i] += 0.3f * (float)rng.NextNormal();
        }
        // fixed preprocessing before the continuous step (as a FlowModel's): folded on the host by the device run
        if (preprocessed) inner = new Flow<float>(new CompositeTransform<float>(new FixedAffine<float>([0.8, 1.5, 0.5], [0.3, -0.4, 0.1]), inner.Transform), inner.Base);
        if (!embedded) return inner;
        var embedding = new MlpEmbedding<float>(new Mlp<float>(Raw, [6], C, new Rng(seed + 1)));
        return new Flow<float>(new EmbeddedContextTransform<float>(inner.Transform, embedding, Raw), inner.Base);
    }

    /// <summary>The continuous step over the base (what the device compiles), behind the embedding and preprocessing.</summary>
    internal static Flow<float> Continuous(Flow<float> flow) => flow.Transform switch
    {
        EmbeddedContextTransform<float> e => Continuous(new Flow<float>(e.Inner, flow.Base)),
        ContinuousTransform<float> => flow,
        CompositeTransform<float> comp => Continuous(new Flow<float>(comp.Steps[^1], flow.Base)),
        _ => throw new InvalidOperationException(),
    };

    internal static ContextEmbedding<float>? Embedding(Flow<float> flow) => (flow.Transform as EmbeddedContextTransform<float>)?.Map as ContextEmbedding<float>;

    // the loop's batch of a step (its constructor is internal to the library): its Rng is the step's stream
    private static TrainingBatch<float> Batch(long step, long seed, Tensor<float> x, Tensor<float>? c, Tensor<float>? w)
        => (TrainingBatch<float>)Activator.CreateInstance(typeof(TrainingBatch<float>), BindingFlags.NonPublic | BindingFlags.Instance, null,
            [step, seed, x, c, w, ReadOnlyMemory<int>.Empty], null)!;

    [Theory]
    [InlineData(false, false, false)]
    [InlineData(false, true, false)]
    [InlineData(true, true, false)]
    [InlineData(true, true, true)]
    public void LossAndGradientsMatchTheCpuLossWithTheSameDraws(bool conditional, bool weighted, bool embedded)
    {
        const int n = 12; const long step = 3, seed = 11; const double sigmaMin = 0.1;
        var flow = Build(conditional, embedded);
        var r = new Rng(7);
        var x = r.Normal<float>(n, D);
        var c = conditional ? r.Normal<float>(n, embedded ? Raw : C) : null;
        var w = weighted ? r.Uniform<float>([n], 0.2, 2.0) : null;
        if (w is not null) w.Span[0] = -0.5f; // a negative weight, as the CPU loss allows
        var loss = new FlowMatchingLoss<float>(flow, sigmaMin);
        loss.Prepare(new TrainingData<float>(x, c, w), null);
        foreach (var p in flow.Parameters()) p.ZeroGrad();
        var cpu = loss.Compute(Batch(step, seed, x, c, w))!;
        cpu.Backward();

        // the same draws from the step's stream: the times, then the base points
        var rng = Batch(step, seed, x, c, w).Rng;
        var time = rng.Uniform<float>([n]);
        var x0 = flow.Base.Sample(n, rng).Value;
        var continuous = Continuous(flow); var embedding = Embedding(flow);
        using var device = new DeviceFlowMatching(_dev, continuous, sigmaMin, null, embedding);
        using var dx = DeviceTensor.Upload(_dev, x); using var dt = DeviceTensor.Upload(_dev, time); using var d0 = DeviceTensor.Upload(_dev, x0);
        using var dc = c is null ? null : DeviceTensor.Upload(_dev, c);
        using var dw = w is null ? null : DeviceTensor.Upload(_dev, AcceleratedDeviceFlow.LossWeights(w));
        float deviceLoss = device.Step(dx, dt, d0, dc, dw, learningRate: 0, readLoss: true)!.Value;
        double cpuLoss = cpu.Value[0];
        Assert.True(Math.Abs(deviceLoss - cpuLoss) <= 1e-5 * Math.Abs(cpuLoss) + 1e-6, $"loss {deviceLoss} on the device, {cpuLoss} on the CPU");
        Assert.True(cpuLoss > 1e-3, "a loss that tests something");
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
        // learning rate 0: the weights did not move
        device.CopyTo(continuous);
        Assert.Equal(pairs[0].Host.Weight.Value.ReadOnlySpan.ToArray(), pairs[0].Device.W.Download().ReadOnlySpan.ToArray());
    }

    private static TrainingData<float> Data(int n, bool conditional, bool weighted, long seed = 3)
    {
        var r = new Rng(seed);
        var x = r.Normal<float>(n, D);
        var s = x.Span;
        for (int i = 0; i < s.Length; i++) s[i] = 0.6f * s[i] + 0.5f * (i % D);
        var c = conditional ? r.Normal<float>(n, Raw) : null;
        var w = weighted ? r.Uniform<float>([n], 0.5, 1.5) : null;
        return new TrainingData<float>(x, c, w);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)] // weighted, conditional, behind an MLP embedding, after fixed preprocessing, clipped, streamed
    public void TrainingLoopOnTheDeviceMatchesTheCpuRun(bool conditional)
    {
        var options = new TrainingOptions { Epochs = 2, BatchSize = 16, LearningRate = 1e-2, Seed = 5, ReportEverySteps = int.MaxValue, ClipNorm = conditional ? 0.5 : null };
        var train = Data(40, conditional, weighted: conditional);
        var validation = Data(8, conditional, weighted: conditional, seed: 9);
        TrainingHistory Run(Flow<float> flow, TrainingOptions o) => new TrainingLoop<float>(flow, o).Fit(new FlowMatchingLoss<float>(flow, sigmaMin: 0.05), train, validation);
        var cpuFlow = Build(conditional, embedded: conditional, preprocessed: conditional); var devFlow = Build(conditional, embedded: conditional, preprocessed: conditional);
        var cpu = Run(cpuFlow, options);
        // the conditional case keeps its data on the host and streams each step's rows (ResidentDataLimit 0)
        long limit = _dev.ResidentDataLimit;
        if (conditional) _dev.ResidentDataLimit = 0;
        TrainingHistory dev;
        try { dev = Run(devFlow, options with { Device = _dev }); }
        finally { _dev.ResidentDataLimit = limit; }
        Assert.Equal(cpu.Epochs.Count, dev.Epochs.Count);
        Assert.Equal(cpu.Steps, dev.Steps);
        for (int e = 0; e < cpu.Epochs.Count; e++)
        {
            var (a, b) = (cpu.Epochs[e], dev.Epochs[e]);
            Assert.True(Math.Abs(a.TrainLoss - b.TrainLoss) <= 2e-4 * Math.Abs(a.TrainLoss) + 1e-5, $"epoch {e}: loss {b.TrainLoss} on the device, {a.TrainLoss} on the CPU");
            Assert.True(Math.Abs(a.ValidationLogLikelihood!.Value - b.ValidationLogLikelihood!.Value) <= 2e-4 * Math.Abs(a.ValidationLogLikelihood.Value) + 1e-4,
                $"epoch {e}: validation {b.ValidationLogLikelihood} on the device, {a.ValidationLogLikelihood} on the CPU");
        }
        Assert.NotEqual(cpu.Epochs[0].TrainLoss, cpu.Epochs[^1].TrainLoss); // the run trained
        DeviceTrainingTests.SameWeights(cpuFlow, devFlow, 2e-3, "flow matching");
    }

    [Fact]
    public void ADeviceCheckpointResumesOnTheCpu()
    {
        // weights, Adam's moments (the field's and the embedding's) and the step count go to the checkpoint; the draws
        // depend on the run's seed and the step only, so the resumed CPU run continues the device run
        string dir = Directory.CreateTempSubdirectory("nflow-fm-").FullName;
        try
        {
            var options = new TrainingOptions { Epochs = 2, BatchSize = 16, LearningRate = 1e-2, Seed = 5, ReportEverySteps = int.MaxValue, CheckpointPath = Path.Combine(dir, "run.ckpt") };
            var train = Data(32, conditional: true, weighted: false);
            TrainingHistory Run(Flow<float> flow, TrainingOptions o, string? resume = null, CancellationTokenSource? stop = null) =>
                new TrainingLoop<float>(flow, o) { Progress = stop is null ? null : new Stop(stop) }
                    .Fit(new FlowMatchingLoss<float>(flow), train, null, stop?.Token ?? default, resume);
            var fullFlow = Build(true, true);
            var full = Run(fullFlow, options with { CheckpointPath = null });
            using var cancel = new CancellationTokenSource();
            Assert.Equal(TrainingOutcome.Cancelled, Run(Build(true, true), options with { Device = _dev }, stop: cancel).Outcome);
            var resumedFlow = Build(true, true, seed: 99); // other weights: the checkpoint must replace them
            var resumed = Run(resumedFlow, options, resume: options.CheckpointPath);
            Assert.Equal(full.Steps, resumed.Steps);
            Assert.Equal(full.Epochs.Count, resumed.Epochs.Count);
            for (int e = 0; e < full.Epochs.Count; e++)
                Assert.True(Math.Abs(full.Epochs[e].TrainLoss - resumed.Epochs[e].TrainLoss) <= 2e-4 * full.Epochs[e].TrainLoss + 1e-5,
                    $"epoch {e}: loss {resumed.Epochs[e].TrainLoss} resumed, {full.Epochs[e].TrainLoss} uninterrupted");
            DeviceTrainingTests.SameWeights(fullFlow, resumedFlow, 2e-3, "resumed on the CPU");
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    private sealed class Stop(CancellationTokenSource cancel) : IProgress<TrainingProgress>
    {
        public void Report(TrainingProgress value) { if (value.EndOfEpoch) cancel.Cancel(); }
    }

    [Fact]
    public void FlowModelTrainerWithTheFlowMatchingObjectiveTrainsOnTheDevice()
    {
        // the flow-matching builder through a FlowModel: fitted preprocessing (folded), a standardised context behind an
        // MLP embedding (the context preprocessing on the host, the embedding on the device), weighted events
        var r = new Rng(21);
        const int rows = 48;
        var v = new double[rows * 4];
        for (int i = 0; i < rows; i++)
        {
            double c = 3 + r.NextNormal();
            v[i * 4] = 5 + 2 * r.NextNormal(); v[i * 4 + 1] = 2 * c + 0.5 * r.NextNormal(); v[i * 4 + 2] = c; v[i * 4 + 3] = 0.5 + r.NextDouble();
        }
        var table = new Table(["a", "b", "c", "w"], v, rows);
        var spec = new FlowSpec { Builder = FlowSpec.FlowMatching, Features = 2, Layers = 2, Hidden = 8, Seed = 1, DType = "float32" };
        (TrainingHistory, FlowModel<float>) Fit(IFlowAccelerator? device)
        {
            var fit = new FlowModelTrainer<float>(spec, table, new FlowFitOptions
            {
                Training = new TrainingOptions { Epochs = 2, BatchSize = 16, LearningRate = 1e-2, Seed = 2, ValidationFraction = 0.25, ReportEverySteps = int.MaxValue, Device = device },
                Preprocessing = FlowPreprocessing.Standardize, ContextColumns = ["c"], WeightColumn = "w",
                Embedding = new EmbeddingSpec { Kind = EmbeddingSpec.Mlp, Features = 2, Hidden = 6, Layers = 1 },
            });
            Assert.Equal(TrainingObjective.FlowMatching, fit.Objective);
            Assert.NotNull(fit.Model.Preprocessing);
            return (fit.Fit(), fit.Model);
        }
        var (cpu, cpuModel) = Fit(null);
        var (dev, devModel) = Fit(_dev);
        Assert.Equal(cpu.Epochs.Count, dev.Epochs.Count);
        for (int e = 0; e < cpu.Epochs.Count; e++)
        {
            var (a, b) = (cpu.Epochs[e], dev.Epochs[e]);
            Assert.True(Math.Abs(a.TrainLoss - b.TrainLoss) <= 2e-4 * Math.Abs(a.TrainLoss) + 1e-5, $"epoch {e}: loss {b.TrainLoss} on the device, {a.TrainLoss} on the CPU");
            Assert.True(Math.Abs(a.ValidationLogLikelihood!.Value - b.ValidationLogLikelihood!.Value) <= 2e-4 * Math.Abs(a.ValidationLogLikelihood.Value) + 1e-4,
                $"epoch {e}: validation {b.ValidationLogLikelihood} on the device, {a.ValidationLogLikelihood} on the CPU");
        }
        Assert.NotNull(devModel.Embedding);
        DeviceTrainingTests.SameWeights(cpuModel.Flow, devModel.Flow, 2e-3, "flow-matching model");
    }

    public static TheoryData<string> KernelNames => [.. typeof(FlowMatchingKernels).GetMethods(BindingFlags.Public | BindingFlags.Static)
        .Where(m => m.GetParameters().FirstOrDefault()?.ParameterType == typeof(ILGPU.Index1D)).Select(m => m.Name)];

    [Theory]
    [MemberData(nameof(KernelNames))]
    public void KernelCompilesToPtx(string name) => PtxCompilationTests.CompilesToPtx(typeof(FlowMatchingKernels), name);

    [Fact]
    public void TheDeviceRefusesWhatItCannotRunByName()
    {
        var train = Data(16, conditional: true, weighted: false);
        // a context map inside the flow, after a fixed step (the CPU loss maps the context there; the device maps it in front only)
        var inner = Build(true, false);
        var embedding = new MlpEmbedding<float>(new Mlp<float>(Raw, [4], C, new Rng(1)));
        var nested = new Flow<float>(new CompositeTransform<float>(new Permutation<float>([2, 0, 1]), new EmbeddedContextTransform<float>(inner.Transform, embedding, Raw)), inner.Base);
        var loop = new TrainingLoop<float>(nested, new TrainingOptions { Epochs = 1, BatchSize = 8, Device = _dev });
        var refused = Assert.Throws<NotSupportedException>(() => loop.Fit(new FlowMatchingLoss<float>(nested), train));
        Assert.Contains("a context map (MlpEmbedding) inside the flow", refused.Message);
        Assert.Contains(_dev.Name, refused.Message);
        // an embedding whose output is not the field's context
        var mismatch = Assert.Throws<ArgumentException>(() => new DeviceFlowMatching(_dev, Continuous(Build(true, false)), 0, null,
            new MlpEmbedding<float>(new Mlp<float>(Raw, [4], C + 1, new Rng(1)))));
        Assert.Contains("the context embedding gives 3 features", mismatch.Message);
    }
}
