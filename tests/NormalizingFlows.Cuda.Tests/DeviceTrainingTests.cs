using NormalizingFlows.Autograd;
using NormalizingFlows.Data;
using NormalizingFlows.Flows;
using NormalizingFlows.IO;
using NormalizingFlows.Models;
using NormalizingFlows.Nn;
using NormalizingFlows.Optim;
using NormalizingFlows.Tensors;
using NormalizingFlows.Training;
using NormalizingFlows.Transforms;

namespace NormalizingFlows.Cuda.Tests;

/// <summary>
/// <see cref="TrainingOptions.Device"/> = the CPU accelerator against the same <see cref="MaximumLikelihoodTrainer{T}"/>
/// run on the CPU: losses per epoch, validation, the restored best epoch, clipping, checkpoints (resumed on the CPU)
/// and the options the device refuses by name.
/// </summary>
public sealed class DeviceTrainingTests(CpuAcceleratorFixture fixture) : IClassFixture<CpuAcceleratorFixture>
{
    private readonly ComputeDevice _dev = fixture.Device;
    private const int D = 4;

    private static TrainingData<float> Data(int n = 96, long seed = 3)
    {
        var x = new Rng(seed).Normal<float>(n, D);
        var s = x.Span;
        for (int i = 0; i < s.Length; i++) s[i] = 0.7f * s[i] + 0.4f * (i % D); // shifted and narrower than the base
        return new TrainingData<float>(x);
    }

    private static TrainingOptions Options(int epochs = 3) => new()
    {
        Epochs = epochs, BatchSize = 32, LearningRate = 3e-3, Seed = 5, ValidationFraction = 0.25, ReportEverySteps = 2,
    };

    private static (TrainingHistory History, Flow<float> Flow) Train(string kind, TrainingOptions options, List<TrainingProgress>? reports = null)
    {
        var flow = DeviceFlowTests.Build(kind);
        var trainer = new MaximumLikelihoodTrainer<float>(flow, options);
        if (reports is not null) trainer.Progress = new Collect(reports);
        return (trainer.Fit(Data()), flow);
    }

    private sealed class Collect(List<TrainingProgress> list) : IProgress<TrainingProgress>
    {
        public void Report(TrainingProgress value) => list.Add(value);
    }

    internal static void SameWeights(Flow<float> expected, Flow<float> actual, double tolerance, string what)
    {
        var e = expected.Parameters().ToList(); var a = actual.Parameters().ToList();
        for (int i = 0; i < e.Count; i++) Assert2.Close(e[i].Value, a[i].Value, 0, tolerance, $"{what}: parameter {i}");
    }

    internal static void SameHistory(TrainingHistory expected, TrainingHistory actual, string what)
    {
        Assert.Equal(expected.Epochs.Count, actual.Epochs.Count);
        Assert.Equal(expected.Steps, actual.Steps);
        Assert.Equal(expected.BestEpoch, actual.BestEpoch);
        for (int i = 0; i < expected.Epochs.Count; i++)
        {
            var (e, a) = (expected.Epochs[i], actual.Epochs[i]);
            Assert.True(Math.Abs(e.TrainLoss - a.TrainLoss) <= 2e-4 * Math.Abs(e.TrainLoss) + 1e-5, $"{what} epoch {e.Epoch}: loss {a.TrainLoss} on the device, {e.TrainLoss} on the CPU");
            Assert.True(Math.Abs(e.ValidationLogLikelihood!.Value - a.ValidationLogLikelihood!.Value) <= 2e-4 * Math.Abs(e.ValidationLogLikelihood.Value) + 1e-5,
                $"{what} epoch {e.Epoch}: validation {a.ValidationLogLikelihood} on the device, {e.ValidationLogLikelihood} on the CPU");
            Assert.Equal(e.LearningRate, a.LearningRate);
        }
    }

    [Theory]
    [InlineData("realnvp")]
    [InlineData("maf")] // the spline flows train on the device the same way (DeviceFlowTests); they cost more kernels here
    public void TrainerOnTheDeviceMatchesTheCpuRun(string kind)
    {
        var cpuReports = new List<TrainingProgress>(); var deviceReports = new List<TrainingProgress>();
        var (cpu, cpuFlow) = Train(kind, Options(epochs: 2), cpuReports);
        var (dev, devFlow) = Train(kind, Options(epochs: 2) with { Device = _dev }, deviceReports);
        SameHistory(cpu, dev, kind);
        SameWeights(cpuFlow, devFlow, 2e-3, kind);
        Assert.Equal(cpuReports.Count, deviceReports.Count);
        for (int i = 0; i < cpuReports.Count; i++)
            Assert.True(Math.Abs(cpuReports[i].Loss - deviceReports[i].Loss) <= 2e-4 * Math.Abs(cpuReports[i].Loss) + 1e-5, $"{kind} report {i}: {deviceReports[i].Loss} vs {cpuReports[i].Loss}");
    }

    [Theory]
    [InlineData("realnvp", true, false)]
    [InlineData("maf", true, true)]
    [InlineData("realnvp", false, true)]
    public void ConditionalAndWeightedRunsMatchTheCpuRun(string kind, bool conditional, bool weighted)
    {
        // weights (some negative) change MaximumLikelihoodLoss's loss and the validation's weighted mean; the context moves the density
        int n = 96;
        var rng = new Rng(21);
        var data = Data(n) with
        {
            Context = conditional ? rng.Normal<float>(n, 2) : null,
            Weights = weighted ? rng.Uniform<float>([n], -0.2, 2.0) : null,
        };
        (TrainingHistory, Flow<float>) Run(IFlowAccelerator? device)
        {
            var flow = DeviceFlowTests.Build(kind, context: conditional ? 2 : 0);
            return (new MaximumLikelihoodTrainer<float>(flow, Options(epochs: 2) with { Device = device }).Fit(data), flow);
        }
        var (cpu, cpuFlow) = Run(null);
        var (dev, devFlow) = Run(_dev);
        SameHistory(cpu, dev, $"{kind} conditional={conditional} weighted={weighted}");
        SameWeights(cpuFlow, devFlow, 2e-3, kind);
    }

    /// <summary>
    /// Weight decay on the device: AdamW (TrainingOptions.WeightDecay, decoupled) and Adam's L2 term, each against the
    /// same run on the CPU. The decays (4 for AdamW's shrinking by 1 − lr·wd per step, 0.5 for the L2 term) are far
    /// above useful values so that a few steps move the weights visibly: the decayed
    /// runs must also end away from the undecayed one, or the test would pass with the decay ignored.
    /// </summary>
    [Theory]
    [InlineData("realnvp", true)]
    [InlineData("realnvp", false)]
    [InlineData("maf", false)]
    public void WeightDecayTrainsAsOnTheCpu(string kind, bool decoupled)
    {
        double decay = decoupled ? 4 : 0.5;
        var options = Options(epochs: 2);
        (TrainingHistory, Flow<float>) Run(IFlowAccelerator? device, double weightDecay)
        {
            var flow = DeviceFlowTests.Build(kind);
            var o = options with { Device = device, WeightDecay = decoupled ? weightDecay : 0 };
            Optimizer<float> adam = decoupled ? new AdamW<float>(flow.Parameters(), o.LearningRate, weightDecay: weightDecay)
                : new Adam<float>(flow.Parameters(), o.LearningRate, weightDecay: weightDecay);
            return (new TrainingLoop<float>(flow, o, adam).Fit(new MaximumLikelihoodLoss<float>(flow), Data()), flow);
        }
        var (cpu, cpuFlow) = Run(null, decay);
        var (dev, devFlow) = Run(_dev, decay);
        SameHistory(cpu, dev, $"{kind} decoupled={decoupled}");
        // a MADE's masked weights are decayed on the CPU but are 0 on the device and never written back: compare W∘M there
        var e = cpuFlow.Parameters().ToList(); var a = devFlow.Parameters().ToList();
        var masks = MaskOf(cpuFlow);
        for (int i = 0; i < e.Count; i++)
        {
            var (ev, av) = (e[i].Value.ToArray(), a[i].Value.ToArray());
            if (masks.TryGetValue(e[i], out var m))
                for (int j = 0; j < ev.Length; j++) { ev[j] *= m[j]; av[j] *= m[j]; }
            for (int j = 0; j < ev.Length; j++) Assert.True(Math.Abs(ev[j] - av[j]) <= 2e-3, $"{kind}: parameter {i}[{j}]: CPU {ev[j]}, device {av[j]}");
        }
        var (_, plain) = Run(_dev, 0);
        double moved = e.Zip(plain.Parameters()).Max(p => p.First.Value.ToArray().Zip(p.Second.Value.ToArray()).Max(q => Math.Abs(q.First - q.Second)));
        Assert.True(moved > 1e-2, $"{kind}: weight decay {decay} moved no weight by more than {moved} against no decay");
    }

    /// <summary>An optimizer the device does not run (θ ← θ − lr·g).</summary>
    private sealed class PlainGradientSteps(IEnumerable<Parameter<float>> parameters) : Optimizer<float>(parameters, 1e-3)
    {
        public override void Step()
        {
            StepCount++;
            foreach (var p in Parameters)
                if (p.Grad is { } g) { var v = p.Value.Span; var gs = g.ReadOnlySpan; for (int i = 0; i < v.Length; i++) v[i] -= (float)LearningRate * gs[i]; }
        }

        public override OrderedDictionary<string, Tensor<float>> ExportState() => [];

        public override void ImportState(IReadOnlyDictionary<string, Tensor<float>> state) { }
    }

    private static Dictionary<Parameter<float>, float[]> MaskOf(Flow<float> flow)
    {
        var result = new Dictionary<Parameter<float>, float[]>(ReferenceEqualityComparer.Instance);
        foreach (var linear in flow.NamedModules().Select(m => m.Value).OfType<MaskedLinear<float>>()) result[linear.Weight] = linear.Mask.ToArray();
        return result;
    }

    [Fact]
    public void TheTrainingBatchBuffersAreReusedForAPartialLastBatch()
    {
        // the training loop's steps on 16, 7, 16, 7 rows of conditional weighted data: each step's loss equals a fresh
        // compiled flow's on the same rows (learning rate 0), and after the first full batch nothing is allocated
        var flow = DeviceFlowTests.Build("realnvp", context: 2);
        var rng = new Rng(9);
        var x = Data(40).X;
        var c = rng.Normal<float>(40, 2);
        var w = rng.Uniform<float>([40], 0.1, 2.0);
        int[][] batches = [[.. Enumerable.Range(0, 16)], [.. Enumerable.Range(16, 7)], [.. Enumerable.Range(20, 16)], [.. Enumerable.Range(33, 7)]];
        using var reused = _dev.Compile(flow);
        reused.SetTrainingData(x, c, w);
        foreach (var rows in batches)
        {
            reused.TrainStep(rows, 0, null);
            double loss = reused.TakeLossSum();
            long now = _dev.Allocations;
            using var fresh = _dev.Compile(flow);
            fresh.SetTrainingData(x, c, w);
            fresh.TrainStep(rows, 0, null);
            Assert.Equal(fresh.TakeLossSum(), loss);
            Assert.True(_dev.Allocations > now, "a fresh flow allocates: the count would see a reallocation");
        }
        // the reused flow again: no buffer allocated
        long before = _dev.Allocations;
        foreach (var rows in batches) reused.TrainStep(rows, 0, null);
        reused.TakeLossSum();
        Assert.Equal(before, _dev.Allocations);
    }

    [Fact]
    public void AModelsPreprocessingIsFoldedAndItsLossesAreTheWholeFlows()
    {
        // a table with a skewed positive column: automatic preprocessing puts fixed steps (log, standardize) in front
        var rng = new Rng(12);
        int rows = 96;
        var values = new double[rows * D];
        for (int i = 0; i < values.Length; i++) values[i] = i % D == 0 ? Math.Exp(0.8 * rng.NextNormal()) : 2 + 0.5 * rng.NextNormal();
        var table = new Table(["a", "b", "c", "d"], values, rows);
        var spec = new FlowSpec { Builder = "realnvp", Features = D, Layers = 2, Hidden = 16, Seed = 4, DType = "float32" };
        (TrainingHistory, FlowModel<float>) Fit(IFlowAccelerator? device)
        {
            var fit = new FlowModelTrainer<float>(spec, table, new FlowFitOptions { Training = Options(epochs: 2) with { Device = device } });
            Assert.NotNull(fit.Model.Preprocessing);
            return (fit.Fit(), fit.Model);
        }
        var (cpu, cpuModel) = Fit(null);
        var (dev, devModel) = Fit(_dev);
        SameHistory(cpu, dev, "preprocessed model");
        SameWeights(cpuModel.Flow, devModel.Flow, 2e-3, "preprocessed model");
    }

    [Fact]
    public void RestoreBestBringsBackTheBestEpochsWeights()
    {
        // a learning rate that jumps to 0.3 in epoch 2 makes validation worse; early stopping after one bad epoch
        var options = Options(epochs: 3) with { Schedule = new Jump(), Patience = 1, RestoreBest = true };
        var (cpu, cpuFlow) = Train("realnvp", options);
        var (dev, devFlow) = Train("realnvp", options with { Device = _dev });
        Assert.NotNull(dev.BestEpoch);
        Assert.NotEqual(dev.Epochs[^1].Epoch, dev.BestEpoch); // the last epoch was not the best: weights were restored
        SameHistory(cpu, dev, "restore best");
        SameWeights(cpuFlow, devFlow, 2e-3, "restore best");
    }

    private sealed class Jump : ILearningRateSchedule
    {
        public double LearningRate(int step) => step < 3 ? 3e-3 : 0.3;
    }

    [Theory]
    [InlineData("realnvp")]
    [InlineData("maf")]
    public void ClippingOnTheDeviceMatchesTheCpusAndChangesTheSteps(string kind)
    {
        // A clip far below the gradient norm leaves gradients below Adam's ε, where a step is proportional to the
        // clipped gradient: a clip factor off by some percent moves the weights that much less or more.
        var clipped = Options(epochs: 1) with { ClipNorm = 1e-9, ValidationFraction = 0 };
        var (_, cpuFlow) = Train(kind, clipped);
        var (_, devFlow) = Train(kind, clipped with { Device = _dev });
        var (_, unclipped) = Train(kind, clipped with { ClipNorm = null, Device = _dev });
        var initial = DeviceFlowTests.Build(kind);
        double Distance(Flow<float> a, Flow<float> b) => a.Parameters().Zip(b.Parameters())
            .Max(p => p.First.Value.ToArray().Zip(p.Second.Value.ToArray()).Max(v => Math.Abs(v.First - v.Second)));
        double moved = Distance(cpuFlow, initial), gap = Distance(cpuFlow, unclipped), error = Distance(cpuFlow, devFlow);
        Assert.True(gap > 2 * moved, $"{kind}: clipping hardly changed the steps (moved {moved}, unclipped run {gap} away)");
        Assert.True(error < 0.02 * moved, $"{kind}: the clipped device run is {error} from the CPU's, which moved {moved} from the start");
    }

    [Theory]
    [InlineData("maf", true)]      // a device checkpoint (weights, Adam's moments and step count) resumed on the CPU
    [InlineData("realnvp", false)] // a CPU checkpoint resumed on the device
    public void ACheckpointResumesOnTheOtherSide(string kind, bool writtenOnDevice)
    {
        string dir = Directory.CreateTempSubdirectory("nflow-device-").FullName;
        try
        {
            var options = Options(epochs: 2) with { CheckpointPath = Path.Combine(dir, "run.ckpt") };
            var (onDevice, onCpu) = (options with { Device = _dev }, options);
            var (full, fullFlow) = Train(kind, options with { CheckpointPath = null });
            // the first run is cancelled at the end of epoch 1 and writes its checkpoint
            using var cancel = new CancellationTokenSource();
            var first = new MaximumLikelihoodTrainer<float>(DeviceFlowTests.Build(kind), writtenOnDevice ? onDevice : onCpu) { Progress = new Stop(cancel) }
                .Fit(Data(), cancellation: cancel.Token);
            Assert.Equal(TrainingOutcome.Cancelled, first.Outcome);
            Assert.True(File.Exists(options.CheckpointPath));
            var resumedFlow = DeviceFlowTests.Build(kind, seed: 99); // other weights: the checkpoint must replace them
            var resumed = new MaximumLikelihoodTrainer<float>(resumedFlow, writtenOnDevice ? onCpu : onDevice).Fit(Data(), resumeFrom: options.CheckpointPath);
            SameHistory(full, resumed, $"{kind} resumed");
            SameWeights(fullFlow, resumedFlow, 2e-3, $"{kind} resumed");
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

    public static TheoryData<string, string> Refusals => new()
    {
        { "data parallel", "DataParallel" },
        { "double", "training in Double" },
        { "other optimizer", "the optimizer PlainGradientSteps" },
        { "loss-driven", "loss-driven run" },
        { "unsupported flow", RefusedTransform.Refusal },
        { "row-coupled step", "the transform BatchCentering is not supported" },
    };

    [Theory]
    [MemberData(nameof(Refusals))]
    public void UnsupportedOptionsAreRefusedByName(string what, string message)
    {
        var options = Options(epochs: 1) with { Device = _dev };
        var data = Data(32);
        Action run = what switch
        {
            "data parallel" => () => new MaximumLikelihoodTrainer<float>(DeviceFlowTests.Build("realnvp"), options with { DataParallel = new Alone() }).Fit(data),
            "double" => () => new MaximumLikelihoodTrainer<double>(FlowBuilders.RealNvp<double>(D, layers: 2, hidden: 8), options)
                .Fit(new TrainingData<double>(new Rng(1).Normal<double>(32, D))),
            "other optimizer" => () =>
            {
                var flow = DeviceFlowTests.Build("realnvp");
                new TrainingLoop<float>(flow, options, new PlainGradientSteps(flow.Parameters()))
                    .Fit(new MaximumLikelihoodLoss<float>(flow), data);
            },
            "loss-driven" => () =>
            {
                var flow = DeviceFlowTests.Build("realnvp");
                new TrainingLoop<float>(flow, options).Fit(new MaximumLikelihoodLoss<float>(flow), stepsPerEpoch: 2);
            },
            "unsupported flow" => () => new MaximumLikelihoodTrainer<float>(RefusedTransform.Flow(D), options).Fit(data),
            // a leading step without trainable parameters that couples rows in training (batch statistics) must not
            // be folded into fixed preprocessing and run in evaluation mode: it reaches the device, which names it
            "row-coupled step" => () =>
            {
                var rest = DeviceFlowTests.Build("realnvp");
                new MaximumLikelihoodTrainer<float>(new Flow<float>(new CompositeTransform<float>([new BatchCentering(D), rest.Transform]), rest.Base), options).Fit(data);
            },
            _ => throw new ArgumentException(what),
        };
        var e = Assert.ThrowsAny<NotSupportedException>(run);
        Assert.Contains(message, e.Message);
    }

    private sealed class Alone : IDataParallel
    {
        public int Rank => 0;
        public int Size => 1;
        public void AllReduceSum(Span<float> values) { }
        public void AllReduceSum(Span<double> values) { }
    }
}

/// <summary>
/// A test-only transform without parameters whose rows are coupled in training (y = x − the batch's mean; the
/// identity in evaluation): a step the device does not run, which <see cref="DeviceRun"/> must not fold as fixed preprocessing.
/// </summary>
internal sealed class BatchCentering(int features) : Transform<float>(features)
{
    /// <inheritdoc/>
    protected override bool TreatsRowsIndependently => !Training;

    /// <inheritdoc/>
    public override (Var<float> Y, Var<float> LogAbsDet) Forward(Var<float> x, Var<float>? context = null)
    {
        var zero = new Var<float>(Tensor<float>.Zeros(x.Value.Dim(0)));
        if (!Training) return (x, zero);
        var mean = Ops.Mul(Ops.SumCols(x), new Var<float>(Tensor<float>.Full(1f / x.Value.Dim(0), Features)));
        return (Ops.Sub(x, mean), zero);
    }

    /// <inheritdoc/>
    public override (Var<float> X, Var<float> LogAbsDet) Inverse(Var<float> y, Var<float>? context = null)
        => (y, new Var<float>(Tensor<float>.Zeros(y.Value.Dim(0))));
}
