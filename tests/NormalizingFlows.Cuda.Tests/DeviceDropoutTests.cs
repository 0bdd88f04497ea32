using NormalizingFlows.Autograd;
using NormalizingFlows.Flows;
using NormalizingFlows.Nn;
using NormalizingFlows.Nn.Embeddings;
using NormalizingFlows.Optim;
using NormalizingFlows.Tensors;
using NormalizingFlows.Training;
using NormalizingFlows.Transforms;
using NormalizingFlows.Transforms.Autoregressive;
using NormalizingFlows.Transforms.Coupling;

namespace NormalizingFlows.Cuda.Tests;

/// <summary>
/// Dropout in the conditioners on the device (ConditionerOptions.Dropout: Nn/Dropout after the hidden layers of an MLP
/// and a MADE, before each residual block's second linear): scoring and sampling in evaluation mode against the CPU;
/// a training step's loss and every gradient against autograd on the CPU with the device's own masks (read back and
/// applied by <see cref="Dropout{T}.ApplyMask"/> in a hand-written forward of the conditioner); the masks' kept
/// fraction, values and freshness per step; a TrainingLoop run with <see cref="TrainingOptions.Device"/> and its
/// replayed-graph steps against eager ones.
/// </summary>
public sealed class DeviceDropoutTests(CpuAcceleratorFixture fixture) : IClassFixture<CpuAcceleratorFixture>
{
    private readonly ComputeDevice _dev = fixture.Device;
    private const int D = 3;
    private const double P = 0.3;

    private static Tensor<float> Data(int n, long seed)
    {
        var x = new Rng(seed).Normal<float>(n, D);
        var s = x.Span;
        for (int i = 0; i < s.Length; i++) s[i] = (0.5f + 0.4f * (i % D)) * s[i] + 0.7f * (i % D) - 0.5f;
        return x;
    }

    /// <summary>One layer of the kind with dropout P (hidden 8, two hidden layers or residual blocks), weights moved off their start when <paramref name="noise"/>.</summary>
    private static Flow<float> Build(string kind, bool noise = true, long seed = 11, int context = 0)
    {
        var options = new ConditionerOptions { HiddenFeatures = 8, Residual = kind.EndsWith("_res", StringComparison.Ordinal), Dropout = P };
        var flow = kind.StartsWith("coupling", StringComparison.Ordinal)
            ? FlowBuilders.RealNvp<float>(D, layers: 1, hidden: 8, contextFeatures: context, rng: new Rng(seed), conditioner: options)
            : FlowBuilders.Maf<float>(D, layers: 1, hidden: 8, contextFeatures: context, rng: new Rng(seed), conditioner: options);
        if (!noise) return flow;
        var r = new Rng(seed + 1);
        foreach (var p in flow.Parameters())
        {
            var s = p.Value.Span;
            for (int i = 0; i < s.Length; i++) s[i] += (float)(0.2 * r.NextNormal());
        }
        return flow;
    }

    public static TheoryData<string> Kinds => ["coupling", "coupling_res", "maf", "maf_res"];

    [Theory]
    [MemberData(nameof(Kinds))]
    public void EvaluationModeScoresAndSamplesAsTheCpu(string kind)
    {
        var flow = Build(kind);
        Assert.Contains(flow.Transform.NamedModules(), m => m.Value is Dropout<float> { P: P });
        var x = Data(10, 1);
        var z = new Rng(2).Normal<float>(10, D);
        flow.Eval();
        float[] expected;
        Tensor<float> samples;
        using (GradMode.Disable())
        {
            expected = flow.LogProb(new Var<float>(x)).Value.ToArray();
            samples = flow.Transform.Inverse(new Var<float>(z)).X.Value;
        }
        using var dflow = DeviceFlow.Compile(flow, _dev);
        Assert2.Close(expected, dflow.LogProb(x), 1e-5, 1e-5, $"{kind}: log p");
        Assert2.Close(samples, dflow.Inverse(z), 1e-5, 1e-5, $"{kind}: samples");
        // a training step in between leaves scoring in evaluation mode
        using var db = DeviceTensor.Upload(_dev, x);
        dflow.TrainStep(db, 0);
        Assert2.Close(expected, dflow.LogProb(x), 1e-5, 1e-5, $"{kind}: log p after a training step");
        // the CPU in training mode scores otherwise (its dropout is there)
        flow.Train();
        using (GradMode.Disable())
        {
            var dropped = flow.LogProb(new Var<float>(x)).Value.ToArray();
            Assert.Contains(Enumerable.Range(0, 10), i => Math.Abs(dropped[i] - expected[i]) > 1e-3);
        }
    }

    /// <summary>
    /// The conditioner's output with the given masks (Nn/Mlp, Nn/Made, Nn/ResidualNet and the residual Nn/Made's
    /// forward, dropout by ApplyMask; the context read by the first layer, a MADE's output layer and a ResidualNet's gates).
    /// </summary>
    private static Var<float> Conditioner(Module<float> net, Var<float> x, Var<float>? c, Tensor<float>[] masks)
    {
        Var<float> With(Var<float> h) => c is null ? h : Ops.ConcatColumns(h, c);
        x = With(x);
        switch (net)
        {
            case Mlp<float> mlp:
            {
                var h = x;
                for (int i = 0; i < mlp.Layers.Count; i++)
                {
                    h = mlp.Layers[i].Forward(h);
                    if (i < mlp.Layers.Count - 1) h = Dropout<float>.ApplyMask(Activations.Apply(mlp.Activation, h), masks[i]);
                }
                Assert.Equal(mlp.Layers.Count - 1, masks.Length);
                return h;
            }
            case Made<float> { IsResidual: false } made:
            {
                var h = x;
                for (int i = 0; i < made.Layers.Count; i++)
                {
                    h = made.Layers[i].Forward(i > 0 && i == made.Layers.Count - 1 ? With(h) : h);
                    if (i < made.Layers.Count - 1) h = Dropout<float>.ApplyMask(Activations.Apply(made.Activation, h), masks[i]);
                }
                Assert.Equal(made.Layers.Count - 1, masks.Length);
                return h;
            }
            case Made<float> made:
            {
                var h = made.Layers[0].Forward(x);
                for (int b = 0; b < made.BlockLayers.Count; b += 2)
                {
                    var t = made.BlockLayers[b].Forward(Activations.Apply(made.Activation, h));
                    t = Dropout<float>.ApplyMask(Activations.Apply(made.Activation, t), masks[b / 2]);
                    h = Ops.Add(h, made.BlockLayers[b + 1].Forward(t));
                }
                Assert.Equal(made.BlockLayers.Count / 2, masks.Length);
                return made.Layers[1].Forward(With(h));
            }
            case ResidualNet<float> r:
            {
                var named = r.NamedModules().ToDictionary(m => m.Key, m => m.Value);
                Linear<float> L(string name) => (Linear<float>)named[name];
                var h = L("initial").Forward(x);
                for (int b = 0; b < r.BlockCount; b++)
                {
                    var t = L($"blocks.{b}.linear0").Forward(Activations.Apply(r.Activation, h));
                    t = Dropout<float>.ApplyMask(Activations.Apply(r.Activation, t), masks[b]);
                    t = L($"blocks.{b}.linear1").Forward(t);
                    if (c is not null) t = Ops.Mul(t, Ops.Sigmoid(L($"blocks.{b}.context").Forward(c)));
                    h = Ops.Add(h, t);
                }
                Assert.Equal(r.BlockCount, masks.Length);
                return L("final").Forward(h);
            }
            default:
                throw new InvalidOperationException(net.GetType().Name);
        }
    }

    /// <summary>−mean log p of the flow on x with the device layers' masks in its conditioners.</summary>
    private static Var<float> Loss(Flow<float> flow, Tensor<float> x, Tensor<float>? context, DeviceFlow dflow)
    {
        var ctx = context is null ? null : new Var<float>(context);
        var h = new Var<float>(x);
        Var<float>? logDet = null;
        var steps = DeviceFlowLayers.Steps(flow);
        Assert.Equal(steps.Count, dflow.Layers.Count);
        for (int k = 0; k < steps.Count; k++)
        {
            var masks = dflow.Layers[k].Network?.Dropout is { } d ? Enumerable.Range(0, d.Places).Select(i => d.Mask(i).Download()).ToArray() : [];
            Var<float> ld;
            switch (steps[k])
            {
                case CouplingTransform<float> c:
                {
                    int[] cond = c.Mask.ConditioningIndices, trans = c.Mask.TransformedIndices;
                    var xa = Ops.SelectColumns(h, cond);
                    var (yb, l) = c.Update.Apply(Ops.SelectColumns(h, trans), Conditioner(c.Conditioner, xa, ctx, masks), inverse: false);
                    (h, ld) = (Ops.MergeColumns(xa, cond, yb, trans, D), l);
                    break;
                }
                case AutoregressiveTransform<float> a:
                    (h, ld) = a.Update.Apply(h, Conditioner(a.Conditioner, h, ctx, masks), inverse: false);
                    break;
                case var other:
                    Assert.Empty(masks);
                    (h, ld) = other.Forward(h, ctx);
                    break;
            }
            logDet = logDet is null ? ld : Ops.Add(logDet, ld);
        }
        return Ops.Neg(Ops.Mean(Ops.Add(flow.Base.LogProb(h), logDet!)));
    }

    public static TheoryData<string, int> KindsAndContexts => new()
    {
        { "coupling", 0 }, { "coupling_res", 0 }, { "maf", 0 }, { "maf_res", 0 },
        { "coupling", 2 }, { "coupling_res", 2 }, { "maf", 2 }, { "maf_res", 2 },
    };

    [Theory]
    [MemberData(nameof(KindsAndContexts))]
    public void ATrainingStepEqualsTheCpuWithTheDevicesMasks(string kind, int context)
    {
        var cpu = Build(kind, context: context);
        var gpu = Build(kind, context: context);
        var batch = Data(16, 3);
        var cx = context == 0 ? null : new Rng(4).Normal<float>(16, context);
        using var dflow = DeviceFlow.Compile(gpu, _dev);
        using var db = DeviceTensor.Upload(_dev, batch);
        using var dc = cx is null ? null : DeviceTensor.Upload(_dev, cx);
        float loss = dflow.TrainStep(db, 0, readLoss: true, context: dc)!.Value;
        var dropouts = dflow.Layers.Select(l => l.Network?.Dropout).OfType<DeviceDropout>().ToList();
        Assert.Single(dropouts);
        float keep = (float)(1.0 / (1.0 - P));
        int dropped = 0;
        for (int i = 0; i < dropouts[0].Places; i++)
            foreach (var v in dropouts[0].Mask(i).Download().ToArray())
            {
                Assert.True(v == 0 || v == keep, $"{kind}: mask value {v}");
                if (v == 0) dropped++;
            }
        Assert.True(dropped > 0, $"{kind}: nothing dropped");

        var expected = Loss(cpu, batch, cx, dflow);
        expected.Backward();
        Assert.True(Math.Abs(expected.Value[0] - loss) <= 1e-5 * Math.Abs(loss) + 1e-5, $"{kind} C={context}: loss device {loss}, CPU {expected.Value[0]}");
        var pairs = dflow.Pairs(cpu).ToList();
        Assert.Equal(cpu.Parameters().Count(), 2 * pairs.Count);
        for (int i = 0; i < pairs.Count; i++)
            foreach (var (host, device, name) in new[] { (pairs[i].Host.Weight.Grad!, pairs[i].Device.GW, "weight"), (pairs[i].Host.Bias!.Grad!, pairs[i].Device.GB, "bias") })
            {
                var h = host.Clone();
                if (pairs[i].Host.Mask is { } mask && name == "weight")
                    for (int k = 0; k < h.Length; k++) h.Span[k] *= mask.ReadOnlySpan[k]; // the device's masked entries stay 0
                double scale = h.ToArray().Max(v => Math.Abs(v));
                Assert.True(scale > 0, $"{kind} C={context} layer {i}: zero {name} gradient");
                Assert2.Close(h, device.Download(), 1e-4, 1e-4 * scale, $"{kind} C={context} layer {i} {name} gradient");
            }
    }

    [Fact]
    public void MasksKeepABinomialFractionScaledExactlyAndAreFreshPerStepAndSite()
    {
        const int rows = 200, width = 100;
        using var step = DeviceTensor.Zeros(_dev, 2);
        using var a = new DeviceDropout(_dev, P, 0, [width]);
        using var b = new DeviceDropout(_dev, P, 1, [width]);
        using var ones = DeviceTensor.Upload(_dev, Tensor<float>.Full(1f, rows, width));
        Assert.Same(ones, a.Forward(0, ones)); // evaluation mode: the identity
        a.Step = b.Step = step;
        a.Prepare(rows);
        b.Prepare(rows);
        float[] Draw(DeviceDropout d, long count)
        {
            DeviceDropout.WriteStep(step, count);
            var y = d.Forward(0, ones).Download().ToArray();
            Assert.Equal(d.Mask(0).Download().ToArray(), y); // 1·mask
            return y;
        }
        var first = Draw(a, 1);
        float keep = (float)(1.0 / (1.0 - P));
        Assert.All(first, v => Assert.True(v == 0 || v == keep, $"mask value {v}"));
        int n = rows * width, kept = first.Count(v => v != 0);
        double sigma = Math.Sqrt(n * P * (1 - P));
        Assert.True(Math.Abs(kept - n * (1 - P)) <= 5 * sigma, $"kept {kept} of {n}, expected {n * (1 - P)} ± {5 * sigma:F0}");
        static double Differing(float[] u, float[] v) => u.Zip(v).Count(p => p.First != p.Second) / (double)u.Length;
        // another step and another site: independent masks differ in about 2p(1 − p) = 42 % of the places
        Assert.InRange(Differing(first, Draw(a, 2)), 0.35, 0.49);
        Assert.InRange(Differing(first, Draw(b, 1)), 0.35, 0.49);
        Assert.InRange(Differing(first, Draw(a, 1L << 30)), 0.35, 0.49); // the step's high part counts too
        Assert.Equal(first, Draw(a, 1)); // the same step and site: the same mask
    }

    [Fact]
    public void ZeroProbabilityIsExactlyTheIdentity()
    {
        using var step = DeviceTensor.Zeros(_dev, 2);
        using var d = new DeviceDropout(_dev, 0, 0, [7]);
        var hx = new Rng(4).Normal<float>(9, 7);
        using var h = DeviceTensor.Upload(_dev, hx);
        d.Step = step;
        d.Prepare(9);
        DeviceDropout.WriteStep(step, 5);
        Assert.Equal(hx.ToArray(), d.Forward(0, h).Download().ToArray());
        Assert.All(d.Mask(0).Download().ToArray(), v => Assert.Equal(1f, v));
        // a flow built with dropout 0 has no dropout module, and compiles without device dropout
        var flow = FlowBuilders.RealNvp<float>(D, layers: 1, hidden: 8, rng: new Rng(1), conditioner: new ConditionerOptions { HiddenFeatures = 8, Dropout = 0 });
        using var dflow = DeviceFlow.Compile(flow, _dev);
        Assert.All(dflow.Layers, l => Assert.Null(l.Network?.Dropout));
    }

    [Fact]
    public void TwoTrainingStepsDrawDifferentMasks()
    {
        var flow = Build("coupling");
        using var dflow = DeviceFlow.Compile(flow, _dev);
        using var db = DeviceTensor.Upload(_dev, Data(16, 3));
        var d = dflow.Layers.Select(l => l.Network?.Dropout).OfType<DeviceDropout>().Single();
        dflow.TrainStep(db, 1e-3);
        var first = d.Mask(0).Download().ToArray();
        dflow.TrainStep(db, 1e-3);
        var second = d.Mask(0).Download().ToArray();
        Assert.True(first.Zip(second).Count(p => p.First != p.Second) > first.Length / 10, "the second step drew the first step's mask");
    }

    private static (TrainingHistory History, Flow<float> Flow, List<TrainingProgress> Reports) Train(IFlowAccelerator device)
    {
        var flow = Build("coupling_res", noise: false, seed: 5);
        var options = new TrainingOptions { Epochs = 4, BatchSize = 16, LearningRate = 2e-2, Seed = 5, ValidationFraction = 0.2, ReportEverySteps = 1, ClipNorm = 5, Device = device };
        var reports = new List<TrainingProgress>();
        var loop = new TrainingLoop<float>(flow, options, new Adam<float>(flow.Parameters(), 2e-2)) { Progress = new Collect(reports) };
        return (loop.Fit(new MaximumLikelihoodLoss<float>(flow), new TrainingData<float>(Data(80, 9))), flow, reports);
    }

    private sealed class Collect(List<TrainingProgress> list) : IProgress<TrainingProgress>
    {
        public void Report(TrainingProgress value) => list.Add(value);
    }

    [Fact]
    public void TrainingLoopOnTheDeviceTrainsAndReplayedStepsEqualEagerSteps()
    {
        var x = Data(80, 9);
        static double MeanLogP(Flow<float> flow, Tensor<float> x)
        {
            flow.Eval();
            using (GradMode.Disable()) return flow.LogProb(new Var<float>(x)).Value.ToArray().Average();
        }
        double before = MeanLogP(Build("coupling_res", noise: false, seed: 5), x);
        var eager = Train(_dev);
        double after = MeanLogP(eager.Flow, x);
        Assert.True(after > before + 0.05, $"mean log p {before} before training, {after} after");
        var epochs = eager.History.Epochs.Select(e => e.ValidationLogLikelihood!.Value).ToList();
        Assert.True(epochs[^1] > epochs[0], $"validation log-likelihood by epoch: {string.Join(", ", epochs)}");

        using var device = ComputeDevice.CpuAccelerator();
        var recorder = LaunchRecorder.Install(device, graphs: true);
        var graph = Train(device);
        Assert.True(recorder.Replays > 0, $"{recorder.Captures} captures, {recorder.Replays} replays");
        Assert.Null(device.GraphFallback);
        // replayed steps drew their own step's masks: bit for bit the eager run
        Assert.Equal(eager.Reports.Select(r => r.Loss), graph.Reports.Select(r => r.Loss));
        Assert.Equal(eager.History.Epochs.Select(e => e.ValidationLogLikelihood), graph.History.Epochs.Select(e => e.ValidationLogLikelihood));
        foreach (var (e, g) in eager.Flow.Parameters().Zip(graph.Flow.Parameters())) Assert.Equal(e.Value.ToArray(), g.Value.ToArray());
    }

    [Fact]
    public void DropoutInAContextEmbeddingAndInADistilledStudentIsRefusedByName()
    {
        var flow = FlowBuilders.RealNvp<float>(D, layers: 1, hidden: 8, contextFeatures: 2, rng: new Rng(1));
        var embedding = new MlpEmbedding<float>(new Mlp<float>(4, [8], 2, new Rng(2), dropout: 0.1));
        Assert.Contains("dropout", Assert.Throws<NotSupportedException>(() => DeviceFlow.Compile(flow, _dev, embedding)).Message, StringComparison.Ordinal);
        // a distillation's teacher runs in evaluation mode (dropout is the identity there), its student trains: refused
        var teacher = FlowBuilders.Maf<float>(D, layers: 1, hidden: 8, rng: new Rng(1), conditioner: new ConditionerOptions { HiddenFeatures = 8, Dropout = 0.1 });
        var student = DistillationTrainer<float>.CreateStudent(teacher, new Rng(3));
        Assert.Contains(student.Transform.NamedModules(), m => m.Value is Dropout<float>);
        Assert.Contains("dropout", Assert.Throws<NotSupportedException>(() => new DeviceDistillation(_dev, teacher, student, null, true, true)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void TrainingWithAHostLossThroughDropoutIsRefusedByName()
    {
        // ForwardLogProb scores in evaluation mode; the CPU's training pass would drop: refused rather than trained without
        using var flow = DeviceFlow.Compile(Build("maf"), _dev);
        using var x = DeviceTensor.Upload(_dev, Data(8, 2));
        using var lp = DeviceTensor.Zeros(_dev, 8);
        using var g = DeviceTensor.Zeros(_dev, 8);
        flow.ForwardLogProb(x, null, lp);
        Assert.Contains("dropout", Assert.Throws<NotSupportedException>(() => flow.BackwardLogProb(x, null, g)).Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(nameof(DropoutKernels.DropoutForward))]
    [InlineData(nameof(DropoutKernels.DropoutStep))]
    public void KernelCompilesToPtx(string name) => PtxCompilationTests.CompilesToPtx(typeof(DropoutKernels), name);
}
