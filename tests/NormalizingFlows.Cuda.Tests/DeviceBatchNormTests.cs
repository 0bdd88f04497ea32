using NormalizingFlows.Autograd;
using NormalizingFlows.Flows;
using NormalizingFlows.Optim;
using NormalizingFlows.Tensors;
using NormalizingFlows.Training;
using NormalizingFlows.Transforms;

namespace NormalizingFlows.Cuda.Tests;

/// <summary>
/// Batch normalisation on the device against the library on the CPU accelerator: the flow layer BatchNormTransform's
/// forward, inverse, log|det| and backward in training (batch statistics, differentiated through) and evaluation
/// mode (running averages) and its running averages; training runs through <see cref="TrainingOptions.Device"/> of
/// a MAF with batch-norm layers against the CPU run (losses, validation, weights, running averages), and steps
/// replayed from a captured graph against eager steps. Batch norm in residual conditioners (ConditionerOptions.BatchNorm:
/// Nn/BatchNorm1d in a ResidualNet's blocks): a spline coupling flow's log p and samples (running averages), a training
/// step's gradients against autograd (batch statistics) and its running averages, and a training run against the CPU's.
/// </summary>
public sealed class DeviceBatchNormTests(CpuAcceleratorFixture fixture) : IClassFixture<CpuAcceleratorFixture>
{
    private readonly ComputeDevice _dev = fixture.Device;
    private const int D = 3;

    private static Tensor<float> Data(int n, long seed)
    {
        var x = new Rng(seed).Normal<float>(n, D);
        var s = x.Span;
        for (int i = 0; i < s.Length; i++) s[i] = (0.5f + 0.4f * (i % D)) * s[i] + 0.7f * (i % D) - 0.5f; // per-column means and spreads
        return x;
    }

    /// <summary>A layer with γ, β and the running averages moved off their start (momentum and ε other than the defaults).</summary>
    private static BatchNormTransform<float> Layer()
    {
        var t = new BatchNormTransform<float>(D, momentum: 0.3, eps: 1e-3);
        var noise = new Rng(8);
        foreach (var p in t.Parameters())
        {
            var s = p.Value.Span;
            for (int i = 0; i < s.Length; i++) s[i] += (float)(0.3 * noise.NextNormal());
        }
        for (int j = 0; j < D; j++)
        {
            t.RunningMean[j] = 0.2f * j - 0.1f;
            t.RunningVar[j] = 0.6f + 0.3f * j;
        }
        return t;
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void TheLayerMatchesTheLibraryInTrainingAndEvaluationMode(bool training)
    {
        var host = Layer();
        if (training) host.Train(); else host.Eval();
        int n = 10;
        var x = Data(n, 1);
        var gy = new Rng(2).Normal<float>(n, D);
        var gld = new Rng(3).Normal<float>(n);
        using var layer = (DeviceBatchNorm)DeviceParameterLayers.Compile(host, _dev, frozen: false)!;
        layer.Training = training;

        var xv = new Var<float>(x.Clone(), requiresGrad: true);
        var (y, ld) = host.Forward(xv); // updates the host's running averages in training
        Ops.Add(Ops.Sum(Ops.Mul(y, new Var<float>(gy))), Ops.Sum(Ops.Mul(ld, new Var<float>(gld)))).Backward();

        using var dx = DeviceTensor.Upload(_dev, x);
        using var dy = DeviceTensor.Zeros(_dev, n, D);
        using var dld = DeviceTensor.Zeros(_dev, n);
        layer.Forward(dx, null, dy, dld);
        Assert2.Close(y.Value, dy.Download(), 1e-6, 1e-6, "forward");
        Assert2.Close(ld.Value, dld.Download(), 1e-6, 1e-6, "log|det|");
        Assert.True(Math.Abs(ld.Value[0]) > 0.05, "a log|det| of ~0 cannot tell a sign error");
        Assert2.Close(host.RunningMean, layer.Running.Mean.Download(), 1e-6, 1e-7, "running mean");
        Assert2.Close(host.RunningVar, layer.Running.Var.Download(), 1e-6, 1e-7, "running variance");
        if (training) Assert.NotEqual(0.2f * 2 - 0.1f, host.RunningMean[2]); // the batch moved it

        // the backward: input and parameters against autograd (the batch statistics' dependence on x in training)
        using var dgy = DeviceTensor.Upload(_dev, gy);
        using var dgld = DeviceTensor.Upload(_dev, gld);
        using var gx = DeviceTensor.Zeros(_dev, n, D);
        layer.Backward(dx, dgy, dgld, gx);
        Assert2.Close(xv.Grad!, gx.Download(), 1e-5, 1e-5, "input gradient");
        var pairs = DeviceParameterLayers.Pairs([host], [layer]);
        Assert.Equal(2, pairs.Count);
        foreach (var (p, (hp, dp)) in pairs.Select((q, i) => (i, q)))
            Assert2.Close(hp.Grad!, dp.Grad.Download(), 1e-5, 1e-5, $"parameter {p} gradient");
        // an input gradient that ignores the batch statistics differs from autograd's in training
        if (training) Assert.Contains(Enumerable.Range(0, n * D), i => Math.Abs(xv.Grad![i / D, i % D] - gy[i / D, i % D] * MathF.Exp(host.LogGamma.Value[i % D])) > 1e-2);

        // the inverse uses the running averages in both modes, as the library's
        using var back = DeviceTensor.Zeros(_dev, n, D);
        using var ldInverse = DeviceTensor.Zeros(_dev, n);
        layer.Inverse(dy, null, back, ldInverse);
        var (hostBack, hostLdInverse) = host.Inverse(new Var<float>(y.Value));
        Assert2.Close(hostBack.Value, back.Download(), 1e-6, 1e-6, "inverse");
        Assert2.Close(hostLdInverse.Value, ldInverse.Download(), 1e-6, 1e-6, "inverse log|det|");
        if (!training) Assert2.Close(x, back.Download(), 1e-5, 1e-5, "round trip in evaluation mode");

        // written back: the running averages (and γ, β through the pairs)
        var other = new BatchNormTransform<float>(D, momentum: 0.3, eps: 1e-3);
        DeviceParameterLayers.CopyTo([other], [layer]);
        Assert.Equal(host.RunningMean.ToArray(), other.RunningMean.ToArray());
        Assert.Equal(host.RunningVar.ToArray(), other.RunningVar.ToArray());
        Assert.Equal(host.LogGamma.Value.ToArray(), other.LogGamma.Value.ToArray());
    }

    /// <summary>A MAF (2 layers, hidden 8) with a batch-norm layer before, between and after its layers; weights moved off their start.</summary>
    internal static Flow<float> MafWithBatchNorm(long seed = 21)
    {
        var maf = FlowBuilders.Maf<float>(D, layers: 2, hidden: 8, rng: new Rng(seed));
        var steps = ((CompositeTransform<float>)maf.Transform).Steps.ToList();
        var with = new List<Transform<float>> { new BatchNormTransform<float>(D, momentum: 0.2) };
        foreach (var s in steps)
        {
            with.Add(s);
            if (s is not Permutation<float>) with.Add(new BatchNormTransform<float>(D, momentum: 0.2));
        }
        var flow = new Flow<float>(new CompositeTransform<float>([.. with]), maf.Base);
        var noise = new Rng(seed + 1);
        foreach (var p in flow.Parameters())
        {
            var s = p.Value.Span;
            for (int i = 0; i < s.Length; i++) s[i] += (float)(0.15 * noise.NextNormal());
        }
        return flow;
    }

    private static (TrainingHistory History, Flow<float> Flow, List<TrainingProgress> Reports) Train(Func<Flow<float>> build, IFlowAccelerator? device)
    {
        var flow = build();
        var options = new TrainingOptions
        {
            Epochs = 2, BatchSize = 16, LearningRate = 3e-3, Seed = 5, ValidationFraction = 0.25, ReportEverySteps = 1, ClipNorm = 5, Device = device,
        };
        var reports = new List<TrainingProgress>();
        // Adam's ε of 1e−4 (not 1e−8): a MAF layer's output biases of its shifts, and a residual block's first linear's
        // bias, move every row alike, so the batch norm after them removes them and their gradient is 0 in exact
        // arithmetic, ~1e−9 of either sign in float on both sides; with ε = 1e−8 Adam turns that noise into steps of
        // ±lr, and two correct runs differ by lr there
        var adam = new Adam<float>(flow.Parameters(), 3e-3, eps: 1e-4);
        var loop = new TrainingLoop<float>(flow, options, adam) { Progress = new Collect(reports) };
        return (loop.Fit(new MaximumLikelihoodLoss<float>(flow), new TrainingData<float>(Data(56, 9))), flow, reports);
    }

    private sealed class Collect(List<TrainingProgress> list) : IProgress<TrainingProgress>
    {
        public void Report(TrainingProgress value) => list.Add(value);
    }

    /// <summary>The runs' losses (every step's), validation, weights and running averages, against the CPU run.</summary>
    internal static void SameRun((TrainingHistory History, Flow<float> Flow, List<TrainingProgress> Reports) cpu,
        (TrainingHistory History, Flow<float> Flow, List<TrainingProgress> Reports) dev, string what)
    {
        Assert.Equal(cpu.History.Steps, dev.History.Steps);
        Assert.Equal(cpu.Reports.Count, dev.Reports.Count);
        Assert.True(cpu.Reports.Count >= 4);
        for (int i = 0; i < cpu.Reports.Count; i++)
            Assert.True(Math.Abs(cpu.Reports[i].Loss - dev.Reports[i].Loss) <= 2e-4 * Math.Abs(cpu.Reports[i].Loss) + 1e-5,
                $"{what} report {i}: device {dev.Reports[i].Loss}, CPU {cpu.Reports[i].Loss}");
        foreach (var ((name, c), (_, g)) in cpu.Flow.NamedParameters().Zip(dev.Flow.NamedParameters())) Assert2.Close(c.Value, g.Value, 0, 2e-3, $"{what} {name}");
        var buffers = cpu.Flow.Transform.NamedBuffers().Where(b => b.Key.Contains("running_", StringComparison.Ordinal)).ToList();
        Assert.NotEmpty(buffers);
        foreach (var ((name, c), (_, g)) in buffers.Zip(dev.Flow.Transform.NamedBuffers().Where(b => b.Key.Contains("running_", StringComparison.Ordinal))))
        {
            Assert.True(c.ReadOnlySpan.ToArray().Any(v => v != 0 && v != 1), $"{what} {name}: still at its start");
            Assert2.Close(c, g, 1e-4, 1e-5, $"{what} {name}");
        }
        for (int e = 0; e < cpu.History.Epochs.Count; e++)
        {
            double c = cpu.History.Epochs[e].ValidationLogLikelihood!.Value, g = dev.History.Epochs[e].ValidationLogLikelihood!.Value;
            Assert.True(Math.Abs(c - g) <= 2e-4 * Math.Abs(c) + 1e-5, $"{what} epoch {e} validation: device {g}, CPU {c}");
        }
    }

    [Fact]
    public void TrainingAMafWithBatchNormOnTheDeviceMatchesTheCpuRun()
    {
        var cpu = Train(() => MafWithBatchNorm(), null);
        var dev = Train(() => MafWithBatchNorm(), _dev);
        SameRun(cpu, dev, "maf with batch norm");
        // scoring after training uses the running averages on both sides
        var x = Data(12, 4);
        cpu.Flow.Eval();
        float[] expected;
        using (GradMode.Disable()) expected = cpu.Flow.LogProb(new Var<float>(x)).Value.ToArray();
        using var dflow = DeviceFlow.Compile(dev.Flow, _dev);
        Assert2.Close(expected, dflow.LogProb(x), 1e-4, 1e-4, "log p after training (running averages)");
    }

    [Fact]
    public void StepsReplayedFromACapturedGraphEqualEagerSteps()
    {
        // one recorder device for both flows (a device compiles its kernels once): the MAF with batch-norm layers and
        // the spline coupling with batch norm in its residual conditioners
        using var device = ComputeDevice.CpuAccelerator();
        var recorder = LaunchRecorder.Install(device, graphs: true);
        foreach (var (kind, build) in new (string, Func<Flow<float>>)[] { ("maf", () => MafWithBatchNorm()), ("coupling", () => SplineCouplingWithBatchNorm()) })
        {
            int replays = recorder.Replays;
            var eager = Train(build, _dev);
            var graph = Train(build, device);
            Assert.True(recorder.Replays > replays, $"{kind}: {recorder.Captures} captures, {recorder.Replays - replays} replays");
            Assert.Null(device.GraphFallback);
            // the replayed steps normalised with their own batch's statistics and moved the running averages: bit for bit the eager run
            Assert.Equal(eager.Reports.Select(r => r.Loss), graph.Reports.Select(r => r.Loss));
            Assert.Equal(eager.History.Epochs.Select(e => e.ValidationLogLikelihood), graph.History.Epochs.Select(e => e.ValidationLogLikelihood));
            foreach (var ((name, e), (_, g)) in eager.Flow.Transform.NamedBuffers().Zip(graph.Flow.Transform.NamedBuffers()))
                Assert.True(e.ToArray().SequenceEqual(g.ToArray()), $"{kind}: {name} differs between the eager and the replayed run");
            foreach (var (e, g) in eager.Flow.Parameters().Zip(graph.Flow.Parameters())) Assert.Equal(e.Value.ToArray(), g.Value.ToArray());
        }
    }

    /// <summary>A rational-quadratic spline coupling flow over ResidualNets with batch norm (2 blocks, hidden 8); weights and running averages moved off their start.</summary>
    internal static Flow<float> SplineCouplingWithBatchNorm(long seed = 31, int context = 0)
    {
        var flow = FlowBuilders.NeuralSplineFlow<float>(D, layers: 2, hidden: 8, bins: 4, contextFeatures: context, rng: new Rng(seed),
            conditioner: new ConditionerOptions { HiddenFeatures = 8, Residual = true, BatchNorm = true });
        var noise = new Rng(seed + 1);
        foreach (var p in flow.Parameters())
        {
            var s = p.Value.Span;
            for (int i = 0; i < s.Length; i++) s[i] += (float)(0.2 * noise.NextNormal());
        }
        foreach (var (name, b) in flow.Transform.NamedBuffers())
        {
            var s = b.Span;
            if (name.EndsWith("running_mean", StringComparison.Ordinal)) for (int i = 0; i < s.Length; i++) s[i] = (float)(0.3 * noise.NextNormal());
            if (name.EndsWith("running_var", StringComparison.Ordinal)) for (int i = 0; i < s.Length; i++) s[i] = (float)(0.5 + noise.NextDouble());
        }
        return flow;
    }

    [Fact]
    public void ResidualConditionersWithBatchNormScoreAndSampleWithTheRunningAverages()
    {
        var flow = SplineCouplingWithBatchNorm(context: 2);
        flow.Eval();
        var x = Data(12, 3);
        var c = new Rng(6).Normal<float>(12, 2);
        var z = new Rng(4).Normal<float>(12, D);
        float[] expected;
        Tensor<float> samples;
        using (GradMode.Disable())
        {
            expected = flow.LogProb(new Var<float>(x), new Var<float>(c)).Value.ToArray();
            samples = flow.Transform.Inverse(new Var<float>(z), new Var<float>(c)).X.Value;
        }
        using var dflow = DeviceFlow.Compile(flow, _dev);
        Assert2.Close(expected, dflow.LogProb(x, c), 1e-5, 1e-4, "log p");
        Assert2.Close(samples, dflow.Inverse(z, c), 1e-5, 1e-4, "samples from the same base draws");
        // in training mode the same rows score otherwise on the host (the batch's statistics): the device did not
        flow.Train();
        using (GradMode.Disable())
        {
            var batchStats = flow.LogProb(new Var<float>(x), new Var<float>(c)).Value.ToArray();
            Assert.Contains(Enumerable.Range(0, 12), i => Math.Abs(batchStats[i] - expected[i]) > 1e-2);
        }
    }

    [Fact]
    public void ATrainingStepThroughResidualBatchNormMatchesAutogradAndTheRunningAverages()
    {
        // one step of learning rate 0 in training mode: every gradient (the linears', the batch norms' weights and
        // biases) against autograd's through the batch statistics, and the running averages (and batches tracked) written back
        var cpu = SplineCouplingWithBatchNorm();
        var gpu = SplineCouplingWithBatchNorm();
        var batch = Data(16, 100);
        cpu.Train();
        Ops.Neg(Ops.Mean(cpu.LogProb(new Var<float>(batch)))).Backward();
        using var dflow = DeviceFlow.Compile(gpu, _dev);
        using var db = DeviceTensor.Upload(_dev, batch);
        float loss = dflow.TrainStep(db, 0, readLoss: true)!.Value;
        var linears = dflow.Pairs(cpu).SelectMany(p => new[] { (p.Host.Weight, p.Device.GW), (p.Host.Bias!, p.Device.GB) });
        var own = dflow.ParameterPairs(cpu).Select(p => (p.Host, p.Device.Grad)).ToList();
        Assert.Equal(2 * 2 * 4, own.Count); // 2 layers × 2 blocks × (bn0, bn1) × (weight, bias)
        // the bias of each block's first linear feeds BN₁ in training, which removes any constant: its gradient is 0 in
        // exact arithmetic (float noise on both sides), asserted as such against the largest gradient
        var names = new Dictionary<Parameter<float>, string>(ReferenceEqualityComparer.Instance);
        foreach (var (name, p) in cpu.NamedParameters()) names[p] = name;
        double largest = linears.Concat(own).Max(p => p.Item1.Grad!.ReadOnlySpan.ToArray().Max(v => Math.Abs(v)));
        int i = 0, zero = 0;
        foreach (var (host, device) in linears.Concat(own))
        {
            var expected = host.Grad!.ReadOnlySpan;
            var actual = device.Download().ReadOnlySpan[..expected.Length];
            if (names[host].EndsWith("linear0.bias", StringComparison.Ordinal))
            {
                foreach (var v in expected) Assert.True(Math.Abs(v) <= 1e-5 * largest, $"{names[host]}: CPU gradient {v}");
                foreach (var v in actual) Assert.True(Math.Abs(v) <= 1e-5 * largest, $"{names[host]}: device gradient {v}");
                zero++;
                continue;
            }
            double scale = 0;
            foreach (var v in expected) scale = Math.Max(scale, Math.Abs(v));
            Assert.True(scale > 0, $"{names[host]}: zero gradient");
            Assert2.Close(expected, actual, 1e-4, 1e-4 * scale, $"{names[host]} gradient");
            i++;
        }
        Assert.Equal(4, zero);
        dflow.CopyTo(gpu);
        var buffers = cpu.Transform.NamedBuffers().Zip(gpu.Transform.NamedBuffers()).Where(b => b.First.Key.Contains(".bn", StringComparison.Ordinal)).ToList();
        Assert.Equal(2 * 2 * 2 * 3, buffers.Count); // 2 layers × 2 blocks × (bn0, bn1) × (running mean, variance, batches tracked)
        foreach (var ((name, c), (_, g)) in buffers) Assert2.Close(c, g, 1e-5, 1e-6, name);
        Assert.Equal(1f, gpu.Transform.NamedBuffers().First(b => b.Key.EndsWith("num_batches_tracked", StringComparison.Ordinal)).Value[0]);
        // a training batch of one row: BatchNorm1d's own refusal, as on the CPU
        using var one = DeviceTensor.Upload(_dev, Data(1, 5));
        Assert.Contains("more than one row", Assert.Throws<ArgumentException>(() => dflow.TrainStep(one, 0)).Message, StringComparison.Ordinal);
        Assert.True(float.IsFinite(loss));
    }

    [Fact]
    public void TrainingASplineCouplingWithResidualBatchNormOnTheDeviceMatchesTheCpuRun()
    {
        var cpu = Train(() => SplineCouplingWithBatchNorm(), null);
        var dev = Train(() => SplineCouplingWithBatchNorm(), _dev);
        SameRun(cpu, dev, "spline coupling with batch norm");
    }

    [Fact]
    public void TrainingWithAHostLossThroughBatchNormIsRefusedByName()
    {
        using var flow = DeviceFlow.Compile(MafWithBatchNorm(), _dev);
        using var x = DeviceTensor.Upload(_dev, Data(8, 2));
        using var lp = DeviceTensor.Zeros(_dev, 8);
        using var g = DeviceTensor.Zeros(_dev, 8);
        flow.ForwardLogProb(x, null, lp);
        Assert.Contains("BatchNormTransform", Assert.Throws<NotSupportedException>(() => flow.BackwardLogProb(x, null, g)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AFrozenCompileRefusesBatchNormByName()
    {
        // a frozen flow (a distillation's teacher) holds its weights only: no running averages or batch statistics
        Assert.Contains("BatchNormTransform is not supported in a frozen flow",
            Assert.Throws<NotSupportedException>(() => DeviceFlowLayers.Compile(MafWithBatchNorm(), _dev, frozen: true)).Message, StringComparison.Ordinal);
        var e = Assert.Throws<NotSupportedException>(() => DeviceFlowLayers.Compile(SplineCouplingWithBatchNorm(), _dev, frozen: true));
        Assert.Matches("batch norm in the residual conditioner of .*Coupling.* is not supported in a frozen flow", e.Message);
    }

    public static TheoryData<string> KernelNames => [.. typeof(BatchNormKernels).GetMethods(System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.Static)
        .Where(m => m.GetParameters().FirstOrDefault()?.ParameterType == typeof(ILGPU.Index1D)).Select(m => m.Name)];

    [Theory]
    [MemberData(nameof(KernelNames))]
    public void KernelCompilesToPtx(string name) => PtxCompilationTests.CompilesToPtx(typeof(BatchNormKernels), name);
}
