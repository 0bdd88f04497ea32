using NormalizingFlows.Autograd;
using NormalizingFlows.Flows;
using NormalizingFlows.Nn;
using NormalizingFlows.Tensors;
using NormalizingFlows.Training;
using NormalizingFlows.Transforms;

namespace NormalizingFlows.Cuda.Tests;

/// <summary>
/// Every hidden activation and the residual conditioners (ConditionerNetwork.Residual: nflows' ResidualNet in
/// couplings, the residual MADE in MAF layers) on the device against the library's CPU path with the same weights, on
/// ILGPU's CPU accelerator: the activation kernels' forward and backward, log p, the inverse from the same base points,
/// every weight, bias and context gradient of one step, and a training run through <see cref="TrainingOptions.Device"/>.
/// </summary>
public sealed class DeviceConditionerTests(CpuAcceleratorFixture fixture) : IClassFixture<CpuAcceleratorFixture>
{
    private readonly ComputeDevice _dev = fixture.Device;
    private const int D = 4, C = 2;

    /// <summary>
    /// coupling_res: RealNVP over ResidualNets (ReLU; gated by the context when conditional); coupling_res_silu: the
    /// same with SiLU (the blocks keep pre-activations); maf_res: a MAF over residual MADEs (maf_res_elu with ELU);
    /// maf_tanh: a MAF over plain tanh MADEs (the incremental sampler with another activation). D = 4, hidden 8, two
    /// layers of two blocks, every weight moved off its start.
    /// </summary>
    private static Flow<float> Build(string kind, int context = 0, long seed = 11)
    {
        var rng = new Rng(seed);
        ConditionerOptions Options(Activation a, bool residual) => new() { HiddenFeatures = 8, HiddenLayers = 2, Activation = a, Residual = residual };
        var flow = kind switch
        {
            "coupling_res" => FlowBuilders.RealNvp<float>(D, layers: 2, hidden: 8, contextFeatures: context, rng: rng, conditioner: Options(Activation.Relu, true)),
            "coupling_res_silu" => FlowBuilders.RealNvp<float>(D, layers: 2, hidden: 8, contextFeatures: context, rng: rng, conditioner: Options(Activation.Silu, true)),
            "maf_res" => FlowBuilders.Maf<float>(D, layers: 2, hidden: 8, contextFeatures: context, rng: rng, conditioner: Options(Activation.Relu, true)),
            "maf_res_elu" => FlowBuilders.Maf<float>(D, layers: 2, hidden: 8, contextFeatures: context, rng: rng, conditioner: Options(Activation.Elu, true)),
            "maf_tanh" => FlowBuilders.Maf<float>(D, layers: 2, hidden: 8, contextFeatures: context, rng: rng, conditioner: Options(Activation.Tanh, false)),
            _ => throw new ArgumentException(kind),
        };
        var noise = new Rng(seed + 1);
        foreach (var p in flow.Parameters())
        {
            var s = p.Value.Span;
            for (int i = 0; i < s.Length; i++) s[i] += (float)(0.15 * noise.NextNormal());
        }
        return flow;
    }

    public static TheoryData<string, int> Cases => new()
    {
        { "coupling_res", 0 }, { "coupling_res", C }, { "coupling_res_silu", C },
        { "maf_res", 0 }, { "maf_res", C }, { "maf_tanh", C },
    };

    private static Tensor<float> Context(int n, long seed)
    {
        var c = new Rng(seed).Normal<float>(n, C);
        var s = c.Span;
        for (int i = 0; i < s.Length; i++) s[i] = 2 * s[i] + 1;
        return c;
    }

    private static Var<float>? V(Tensor<float>? t) => t is null ? null : new Var<float>(t);

    /// <summary>Every weight and bias gradient of the device's last step against the host flow's autograd gradients (1e−4 relative plus 1e−4 of the largest).</summary>
    private static void SameGradients(Flow<float> flow, DeviceFlow dflow, string what)
    {
        var pairs = dflow.Pairs(flow).ToList();
        Assert.Equal(flow.Parameters().Count(), 2 * pairs.Count);
        for (int i = 0; i < pairs.Count; i++)
            foreach (var (host, device, name) in new[] { (pairs[i].Host.Weight.Grad!, pairs[i].Device.GW, "weight"), (pairs[i].Host.Bias!.Grad!, pairs[i].Device.GB, "bias") })
            {
                var h = host.Clone();
                if (pairs[i].Host.Mask is { } mask && name == "weight")
                    for (int k = 0; k < h.Length; k++) h.Span[k] *= mask.ReadOnlySpan[k]; // the device's masked entries stay 0
                double scale = h.ToArray().Max(v => Math.Abs(v));
                Assert.True(scale > 0, $"{what} layer {i}: zero {name} gradient");
                Assert2.Close(h, device.Download(), 1e-4, 1e-4 * scale, $"{what} layer {i} {name} gradient");
            }
    }

    [Theory]
    [InlineData(Activation.Relu)]
    [InlineData(Activation.Elu)]
    [InlineData(Activation.Tanh)]
    [InlineData(Activation.Silu)]
    [InlineData(Activation.LeakyRelu)]
    [InlineData(Activation.Sigmoid)]
    [InlineData(Activation.Softplus)]
    [InlineData(Activation.Identity)]
    public void EachActivationsForwardAndBackwardMatchTheCpu(Activation activation)
    {
        // y = act(v + b) by the fused bias kernel, act(v) by the out-of-place one, and g·act′ against autograd's
        const int rows = 6, cols = 5;
        var v = new Rng(3).Normal<float>(rows, cols);
        var s = v.Span;
        for (int i = 0; i < s.Length; i++) s[i] *= 4;                 // well into both tails
        s[0] = 0; s[1] = -30; s[2] = 30; s[3] = 1e-4f; s[4] = -1e-4f;
        var bias = new Rng(4).Normal<float>(cols);
        var pre = v.Clone();
        for (int i = 0; i < pre.Length; i++) pre.Span[i] += bias.ReadOnlySpan[i % cols];
        var gy = new Rng(5).Normal<float>(rows, cols);
        var x = new Parameter<float>(pre);
        var y = Activations.Apply(activation, (Var<float>)x);
        Ops.Sum(Ops.Mul(y, new Var<float>(gy))).Backward();
        int code = DeviceActivation.Code(activation);
        string what = activation.ToString();

        using var dy = DeviceTensor.Upload(_dev, v);
        using var db = DeviceTensor.Upload(_dev, bias);
        using var dpre = DeviceTensor.Zeros(_dev, rows, cols);
        bool keep = DeviceActivation.NeedsInput(code);
        DeviceActivationOps.BiasActivation(dy, db, code, keep ? dpre : null);
        Assert2.Close(y.Value, dy.Download(), 2e-6, 2e-6, $"{what} forward");
        if (keep) Assert2.Close(pre, dpre.Download(), 0, 0, $"{what} pre-activation");

        using var dx = DeviceTensor.Upload(_dev, pre);
        using var dout = DeviceTensor.Zeros(_dev, rows, cols);
        DeviceActivationOps.Activate(dx, dout, code);
        Assert2.Close(y.Value, dout.Download(), 2e-6, 2e-6, $"{what} out-of-place forward");

        using var dg = DeviceTensor.Upload(_dev, gy);
        DeviceActivationOps.Backward(dg, dy, keep ? dpre : null, code);
        Assert2.Close(x.Grad!, dg.Download(), 2e-6, 2e-6, $"{what} backward");
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void LogProbMatchesTheLibrary(string kind, int context)
    {
        var flow = Build(kind, context);
        var x = DeviceFlowTests.Data(24, 1);
        var c = context > 0 ? Context(24, 2) : null;
        float[] expected;
        using (GradMode.Disable()) expected = flow.LogProb(new Var<float>(x), V(c)).Value.ToArray();
        using var dflow = DeviceFlow.Compile(flow, _dev);
        Assert2.Close(expected, dflow.LogProb(x, c, batch: 16), 1e-4, 2e-4, $"{kind}/{context} log p");
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void InverseMatchesTheLibraryFromTheSameBasePoints(string kind, int context)
    {
        var flow = Build(kind, context);
        var z = new Rng(2).Normal<float>(16, D);
        var c = context > 0 ? Context(16, 4) : null;
        Tensor<float> expected;
        using (GradMode.Disable()) expected = flow.Transform.Inverse(new Var<float>(z), V(c)).X.Value;
        using var dflow = DeviceFlow.Compile(flow, _dev);
        Assert2.Close(expected, dflow.Inverse(z, c, batch: 16), 1e-4, 1e-4, $"{kind}/{context} inverse");
    }

    [Theory]
    [InlineData("maf_res", 0)]
    [InlineData("maf_res", C)]
    [InlineData("maf_res_elu", C)]
    [InlineData("maf_tanh", 0)]
    public void MadesSampleIncrementallyAsTheLibraryAndTheFullPassesDo(string kind, int context)
    {
        // the residual MADE keeps one row of hidden degrees through its blocks: it gets the incremental sampler too
        var flow = Build(kind, context);
        var layers = DeviceFlowLayers.Compile(flow, _dev);
        try { Assert.All(layers, l => Assert.True(((DeviceAutoregressive)l).HasIncrementalSampler, $"{kind}: no incremental sampler")); }
        finally { foreach (var l in layers) l.Dispose(); }
        var z = new Rng(6).Normal<float>(13, D);
        var c = context > 0 ? Context(13, 8) : null;
        Tensor<float> expected;
        using (GradMode.Disable()) expected = flow.Transform.Inverse(new Var<float>(z), V(c)).X.Value;
        using var dflow = DeviceFlow.Compile(flow, _dev);
        dflow.FullPassSampling = false;
        var incremental = dflow.Inverse(z, c);
        Assert2.Close(expected, incremental, 1e-4, 1e-4, $"{kind}/{context} incremental");
        dflow.FullPassSampling = true;
        Assert2.Close(incremental, dflow.Inverse(z, c), 1e-5, 1e-5, $"{kind}/{context} full passes");
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void OneStepsGradientsMatchAutograd(string kind, int context)
    {
        // every weight and bias gradient of the loss −mean log p, and the context's, against autograd's
        var flow = Build(kind, context);
        var x = DeviceFlowTests.Data(16, 100);
        var c = context > 0 ? new Parameter<float>(Context(16, 7)) : null;
        Ops.Neg(Ops.Mean(flow.LogProb(new Var<float>(x), c))).Backward();
        using var dflow = DeviceFlow.Compile(flow, _dev);
        dflow.TrackContextGradient = context > 0;
        using var dx = DeviceTensor.Upload(_dev, x);
        using var dc = c is null ? null : DeviceTensor.Upload(_dev, c.Value);
        dflow.TrainStep(dx, 1e-3, context: dc);
        SameGradients(flow, dflow, $"{kind}/{context}");
        if (c is null) return;
        double cs = c.Grad!.ToArray().Max(v => Math.Abs(v));
        Assert.True(cs > 0, $"{kind}: zero context gradient");
        Assert2.Close(c.Grad!, dflow.ContextGradient!.Download(), 1e-4, 1e-4 * cs, $"{kind} context gradient");
    }

    [Theory]
    [InlineData("coupling_res")]
    [InlineData("maf_res")]
    public void OneStepsGradientsWithASiluEmbeddingMatchAutograd(string kind)
    {
        // a SiLU MLP context embedding (its pre-activations kept) in front of residual conditioners: every gradient, the embedding's too
        const int raw = 5;
        Flow<float> Make()
        {
            var inner = Build(kind, C);
            var map = new Nn.Embeddings.MlpEmbedding<float>(new Mlp<float>(raw, [6], C, new Rng(2), Activation.Silu));
            return new Flow<float>(new EmbeddedContextTransform<float>(inner.Transform, map, raw), inner.Base);
        }
        var flow = Make();
        var x = DeviceFlowTests.Data(16, 100);
        var c = new Rng(9).Normal<float>(16, raw);
        Ops.Neg(Ops.Mean(flow.LogProb(new Var<float>(x), new Var<float>(c)))).Backward();
        using var dflow = DeviceFlow.Compile(Make(), _dev);
        Assert.True(dflow.HasEmbedding);
        using var dx = DeviceTensor.Upload(_dev, x);
        using var dc = DeviceTensor.Upload(_dev, c);
        dflow.TrainStep(dx, 1e-3, context: dc);
        SameGradients(flow, dflow, $"{kind} with a SiLU embedding");
    }

    [Theory]
    [InlineData("coupling_res", C)]
    [InlineData("maf_res", 0)]
    public void TrainerOnTheDeviceMatchesTheCpuRun(string kind, int context)
    {
        // DeviceTrainingTests' tolerances: losses and validation 2e−4 relative, weights 2e−3
        var x = new Rng(3).Normal<float>(96, D);
        for (int i = 0; i < x.Length; i++) x.Span[i] = 0.7f * x.Span[i] + 0.4f * (i % D);
        var data = new TrainingData<float>(x) { Context = context > 0 ? new Rng(21).Normal<float>(96, context) : null };
        var options = new TrainingOptions { Epochs = 2, BatchSize = 32, LearningRate = 3e-3, Seed = 5, ValidationFraction = 0.25 };
        var cpuFlow = Build(kind, context);
        var devFlow = Build(kind, context);
        var cpu = new MaximumLikelihoodTrainer<float>(cpuFlow, options).Fit(data);
        var dev = new MaximumLikelihoodTrainer<float>(devFlow, options with { Device = _dev }).Fit(data);
        Assert.Equal(cpu.Steps, dev.Steps);
        for (int i = 0; i < cpu.Epochs.Count; i++)
        {
            var (e, a) = (cpu.Epochs[i], dev.Epochs[i]);
            Assert.True(Math.Abs(e.TrainLoss - a.TrainLoss) <= 2e-4 * Math.Abs(e.TrainLoss) + 1e-5, $"{kind} epoch {e.Epoch}: loss {a.TrainLoss} on the device, {e.TrainLoss} on the CPU");
            Assert.True(Math.Abs(e.ValidationLogLikelihood!.Value - a.ValidationLogLikelihood!.Value) <= 2e-4 * Math.Abs(e.ValidationLogLikelihood.Value) + 1e-5,
                $"{kind} epoch {e.Epoch}: validation {a.ValidationLogLikelihood} on the device, {e.ValidationLogLikelihood} on the CPU");
        }
        var (ep, ap, start) = (cpuFlow.Parameters().ToList(), devFlow.Parameters().ToList(), Build(kind, context).Parameters().ToList());
        double moved = 0;
        for (int i = 0; i < ep.Count; i++)
        {
            Assert2.Close(ep[i].Value, ap[i].Value, 0, 2e-3, $"{kind}: parameter {i}");
            moved = Math.Max(moved, ep[i].Value.ToArray().Zip(start[i].Value.ToArray()).Max(p => Math.Abs(p.First - p.Second)));
        }
        Assert.True(moved > 1e-3, $"{kind}: training hardly moved the weights ({moved})");
    }

    [Theory]
    [InlineData("maf_res", C)]
    [InlineData("maf_tanh", 0)]
    public void ADistillationOverResidualOrTanhMadesMatchesTheLibrary(string kind, int context)
    {
        // the frozen teacher's input gradient and the student's weight gradients (DeviceDistillationTests' first-step check)
        const int n = 8;
        var teacher = Build(kind, context);
        var student = DistillationTrainer<float>.CreateStudent(teacher, new Rng(3), copyWeights: true);
        var noise = new Rng(21);
        foreach (var p in student.Parameters())
            for (int i = 0; i < p.Value.Length; i++) p.Value.Span[i] += (float)(0.1 * noise.NextNormal());
        var x = DeviceFlowTests.Data(n, 5);
        var c = context > 0 ? Context(n, 6) : null;
        var cpu = new DistillationTrainer<float>(teacher, student, new DistillationOptions());
        cpu.Optimizer.ZeroGrad();
        DistillationLoss expected;
        using (TensorScope.Begin()) expected = cpu.Step(x, c, new Rng(5), backward: true);
        Assert.All(DeviceFlowLayers.Steps(student), s => Assert.Equal(kind == "maf_res", ((Transforms.Autoregressive.InverseAutoregressiveTransform<float>)s).Conditioner is Made<float> { IsResidual: true }));
        var hosts = DeviceFlowLayers.Steps(student).SelectMany(DeviceFlowLayers.Linears).ToList();
        var grads = hosts.Select(h => (W: h.Weight.Grad!.Clone(), B: h.Bias!.Grad!.Clone(), h.Mask)).ToList();
        using var dist = new DeviceDistillation(_dev, teacher, student, null, zPass: true, xPass: true);
        dist.SetTrainingData(x, c);
        dist.Step(Enumerable.Range(0, n).ToArray(), teacher.Base.Sample(n, new Rng(5)).Value, learningRate: 0, clipNorm: null);
        var actual = dist.TakeLossSums();
        Assert.True(expected.Total > 0);
        Assert.True(Math.Abs(expected.Total - actual.Total) <= 1e-5 + 1e-4 * Math.Abs(expected.Total), $"{kind}: loss {actual.Total} on the device, {expected.Total} on the CPU");
        var linears = dist.StudentLinears;
        Assert.Equal(hosts.Count, linears.Count);
        for (int i = 0; i < hosts.Count; i++)
        {
            if (grads[i].Mask is { } mask) for (int k = 0; k < grads[i].W.Length; k++) grads[i].W.Span[k] *= mask.ReadOnlySpan[k];
            Assert2.Close(grads[i].W, linears[i].GW.Download(), 2e-3, 2e-5, $"{kind}: student linear {i} dW");
            Assert2.Close(grads[i].B, linears[i].GB.Download(), 2e-3, 2e-5, $"{kind}: student linear {i} db");
        }
    }

    [Fact]
    public void AGatedResidualStepLaunchesTheSameKernelsAtEveryStep()
    {
        // what a CUDA graph needs (DeviceGraphTests): the context copy, gates and activations add no per-step argument
        using var device = ComputeDevice.CpuAccelerator();
        var recorder = LaunchRecorder.Install(device, graphs: false);
        var flow = Build("coupling_res_silu", C);
        using var accelerated = device.Compile(flow, new Optim.AdamW<float>(flow.Parameters(), 1e-2, weightDecay: 0.5));
        accelerated.SetTrainingData(DeviceFlowTests.Data(40, 3), Context(40, 4));
        var rng = new Random(7);
        List<string> Step(int step)
        {
            recorder.Log = [];
            accelerated.TrainStep(Enumerable.Range(0, 40).OrderBy(_ => rng.Next()).Take(16).ToArray(), learningRate: 1e-2 / (1 + step), clipNorm: 0.5);
            var log = recorder.Log;
            recorder.Log = null;
            return log;
        }
        Step(0); Step(1);
        var (a, b) = (Step(2), Step(3));
        Assert.Equal(a.Count, b.Count);
        Assert.Contains(a, l => l.StartsWith("GateBackward(", StringComparison.Ordinal));
        Assert.Contains(a, l => l.StartsWith("BiasActivationKeep(", StringComparison.Ordinal));
        var differing = a.Zip(b).Where(p => p.First != p.Second).ToList();
        Assert.True(differing.Count == 1, $"{differing.Count} launches differ between steps: {string.Join("; ", differing.Take(3).Select(p => $"{p.First} vs {p.Second}"))}");
        Assert.StartsWith("AdamScalars(", differing[0].First, StringComparison.Ordinal);
    }

    [Fact]
    public void DropoutInResidualConditionersCompilesWithAPlacePerBlock()
    {
        // dropout runs on the device (DeviceDropoutTests); in a context embedding it is still refused by name
        foreach (var flow in new[]
                 {
                     FlowBuilders.RealNvp<float>(D, layers: 2, hidden: 8, rng: new Rng(1), conditioner: new ConditionerOptions { HiddenFeatures = 8, Residual = true, Dropout = 0.1 }),
                     FlowBuilders.Maf<float>(D, layers: 2, hidden: 8, rng: new Rng(1), conditioner: new ConditionerOptions { HiddenFeatures = 8, Residual = true, Dropout = 0.1 }),
                 })
        {
            using var dflow = DeviceFlow.Compile(flow, _dev);
            var dropouts = dflow.Layers.Select(l => l.Network?.Dropout).OfType<DeviceDropout>().ToList();
            Assert.Equal(2, dropouts.Count);
            Assert.All(dropouts, d => Assert.Equal((0.1, 2), (d.P, d.Places)));
            Assert.Equal([0, 1], dropouts.Select(d => d.Site));
        }
    }
}
