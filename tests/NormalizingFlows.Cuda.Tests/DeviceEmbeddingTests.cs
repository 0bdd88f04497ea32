using NormalizingFlows.Autograd;
using NormalizingFlows.Data;
using NormalizingFlows.Data.Preprocessing;
using NormalizingFlows.Flows;
using NormalizingFlows.Models;
using NormalizingFlows.Nn;
using NormalizingFlows.Nn.Embeddings;
using NormalizingFlows.Optim;
using NormalizingFlows.Tensors;
using NormalizingFlows.Training;
using NormalizingFlows.Transforms;

namespace NormalizingFlows.Cuda.Tests;

/// <summary>
/// Trainable context embeddings (summary networks: the MLP and the deep-sets embedding) on the device against the
/// library's CPU path with the same weights, on ILGPU's CPU accelerator: each conditioner kind's gradient with respect
/// to its context, one step's gradients of every weight (the embedding's included), training steps (losses, weights),
/// log p and the inverse through the embedding, runs of <see cref="MaximumLikelihoodTrainer{T}"/> on a model with
/// context preprocessing and an embedding (history, clipping, checkpoints resumed on the other side), and the refusals.
/// </summary>
public sealed class DeviceEmbeddingTests(CpuAcceleratorFixture fixture) : IClassFixture<CpuAcceleratorFixture>
{
    private readonly ComputeDevice _dev = fixture.Device;
    private const int D = 4, C = 2, E = 3, Raw = 5, F = 2, K = 3;

    private static Tensor<float> Context(int n, long seed)
    {
        var c = new Rng(seed).Normal<float>(n, C);
        var s = c.Span;
        for (int i = 0; i < s.Length; i++) s[i] = 2 * s[i] + 1;
        return c;
    }

    /// <summary>The raw context an embedding reads: mlp [n, 5]; set [n, K·(F + 1)] with some elements absent (flag 0).</summary>
    internal static Tensor<float> RawContext(string embedding, int n, long seed)
    {
        var rng = new Rng(seed);
        if (embedding == "mlp")
        {
            var c = rng.Normal<float>(n, Raw);
            var cs = c.Span;
            for (int i = 0; i < cs.Length; i++) cs[i] = 1.5f * cs[i] + 0.5f;
            return c;
        }
        var sets = rng.Normal<float>(n, K * F);
        var s = sets.Span;
        for (int i = 0; i < s.Length; i++) s[i] = 2 * s[i] + 1;
        for (int r = 0; r < n; r++)
            for (int e = 1; e < K; e++)
                if ((r + e) % 3 == 0) s.Slice((r * K + e) * F, F).Fill(float.NaN); // element 0 is always there
        return SetEmbedding<float>.WithPresenceFlags(sets, F);
    }

    /// <summary>A small flow of <paramref name="kind"/> conditioned on E features that an embedding makes from the raw context.</summary>
    internal static Flow<float> Build(string kind, string embedding, long seed = 11)
    {
        var inner = DeviceFlowTests.Build(kind, seed, context: E);
        var rng = new Rng(seed + 7);
        ContextEmbedding<float> map = embedding switch
        {
            "mlp" => new MlpEmbedding<float>(new Mlp<float>(Raw, [8], E, rng)),
            "set" => new SetEmbedding<float>(F, K, hidden: 6, layers: 1, outFeatures: E, rng),
            _ => throw new ArgumentException(embedding),
        };
        if (map is SetEmbedding<float> set) set.SetStandardization([0.5, -0.3], [1.5, 0.8]);
        return new Flow<float>(new EmbeddedContextTransform<float>(inner.Transform, map, map.InputFeatures), inner.Base);
    }

    [Theory]
    [MemberData(nameof(DeviceFlowTests.Kinds), MemberType = typeof(DeviceFlowTests))]
    public void EachConditionersContextGradientMatchesAutograd(string kind)
    {
        // the coupling MLP reads the context in its first layer, the MADE in its first and output layers: the
        // gradient with respect to the context, summed over the layers, against autograd's
        var flow = DeviceFlowTests.Build(kind, context: C);
        var x = DeviceFlowTests.Data(16, 100);
        var c = new Parameter<float>(Context(16, 7));
        Ops.Neg(Ops.Mean(flow.LogProb(new Var<float>(x), c))).Backward();
        var expected = c.Grad!;
        using var dflow = DeviceFlow.Compile(flow, _dev);
        dflow.TrackContextGradient = true;
        using var dx = DeviceTensor.Upload(_dev, x);
        using var dc = DeviceTensor.Upload(_dev, c.Value);
        dflow.TrainStep(dx, 1e-3, context: dc);
        double scale = expected.ToArray().Max(v => Math.Abs(v));
        Assert.True(scale > 0, $"{kind}: zero context gradient");
        Assert2.Close(expected, dflow.ContextGradient!.Download(), 1e-4, 1e-4 * scale, $"{kind} context gradient");
    }

    [Theory]
    [InlineData("realnvp", "mlp")]
    [InlineData("maf", "mlp")]
    [InlineData("nsf_c", "set")]
    [InlineData("maf_rqs", "set")]
    public void OneStepsGradientsWithAnEmbeddingMatchAutograd(string kind, string embedding)
    {
        // every weight and bias gradient, the embedding's last (φ's, then ρ's for a set), against autograd's
        var cpu = Build(kind, embedding);
        var gpu = Build(kind, embedding);
        var x = DeviceFlowTests.Data(16, 100);
        var c = RawContext(embedding, 16, 9);
        Ops.Neg(Ops.Mean(cpu.LogProb(new Var<float>(x), new Var<float>(c)))).Backward();
        using var dflow = DeviceFlow.Compile(gpu, _dev);
        Assert.True(dflow.HasEmbedding);
        Assert.Equal(c.Cols, dflow.ContextFeatures);
        using var dx = DeviceTensor.Upload(_dev, x);
        using var dc = DeviceTensor.Upload(_dev, c);
        dflow.TrainStep(dx, 1e-3, context: dc);
        var pairs = dflow.Pairs(cpu).ToList();
        var embeddingWeights = ((EmbeddedContextTransform<float>)cpu.Transform).Map.Parameters().ToHashSet(ReferenceEqualityComparer.Instance);
        Assert.Equal(embeddingWeights.Count, 2 * pairs.Count(p => embeddingWeights.Contains(p.Host.Weight)));
        for (int i = 0; i < pairs.Count; i++)
        {
            string what = $"{kind}/{embedding} layer {i}{(embeddingWeights.Contains(pairs[i].Host.Weight) ? " (embedding)" : "")}";
            foreach (var (host, device, name) in new[] { (pairs[i].Host.Weight.Grad!, pairs[i].Device.GW, "weight"), (pairs[i].Host.Bias!.Grad!, pairs[i].Device.GB, "bias") })
            {
                double scale = host.ToArray().Max(v => Math.Abs(v));
                Assert.True(scale > 0, $"{what}: zero {name} gradient");
                Assert2.Close(host, device.Download(), 1e-4, 1e-4 * scale, $"{what} {name} gradient");
            }
        }
    }

    [Theory]
    [InlineData("realnvp", "mlp")]
    [InlineData("maf", "set")]
    public void TrainingStepsWithAnEmbeddingMatchTheCpuAdamPath(string kind, string embedding)
    {
        // the tolerances of DeviceFlowTests.TrainingStepsMatchTheCpuAdamPath; the weights compared include the embedding's
        const double lr = 1e-3;
        const int steps = 4, n = 16;
        var cpu = Build(kind, embedding);
        var gpu = Build(kind, embedding);
        var start = gpu.Parameters().Select(p => p.Value.ToArray()).ToList();
        var adam = new Adam<float>(cpu.Parameters(), learningRate: lr);
        using var dflow = DeviceFlow.Compile(gpu, _dev);
        for (int step = 0; step < steps; step++)
        {
            var batch = DeviceFlowTests.Data(n, 100 + step);
            var c = RawContext(embedding, n, 200 + step);
            adam.ZeroGrad();
            var loss = Ops.Neg(Ops.Mean(cpu.LogProb(new Var<float>(batch), new Var<float>(c))));
            loss.Backward();
            adam.Step();
            using var db = DeviceTensor.Upload(_dev, batch);
            using var dc = DeviceTensor.Upload(_dev, c);
            float deviceLoss = dflow.TrainStep(db, lr, readLoss: true, dc)!.Value;
            float cpuLoss = loss.Value.ReadOnlySpan[0];
            Assert.True(Math.Abs(deviceLoss - cpuLoss) <= 2e-4 * Math.Abs(cpuLoss) + 1e-5, $"{kind}/{embedding} step {step}: device loss {deviceLoss}, CPU {cpuLoss}");
        }
        dflow.CopyTo(gpu);
        DeviceFlowTests.SameTrainedWeights(cpu, gpu, start, steps, $"{kind}/{embedding}");
        var map = ((EmbeddedContextTransform<float>)gpu.Transform).Map;
        var initial = ((EmbeddedContextTransform<float>)Build(kind, embedding).Transform).Map;
        double moved = map.Parameters().Zip(initial.Parameters()).Max(p => p.First.Value.ToArray().Zip(p.Second.Value.ToArray()).Max(v => Math.Abs(v.First - v.Second)));
        Assert.True(moved > steps * 5e-4, $"{kind}/{embedding}: the embedding's weights moved at most {moved} on the device");
    }

    [Theory]
    [InlineData("realnvp", "mlp")]
    [InlineData("maf", "set")]
    public void TheClipNormCountsTheEmbeddingsGradients(string kind, string embedding)
    {
        // the global norm the device clips by against the norm of every CPU gradient (GradientClipping's), the
        // embedding's share large enough that a norm without it would differ by more than the tolerance
        var cpu = Build(kind, embedding);
        var x = DeviceFlowTests.Data(16, 100);
        var c = RawContext(embedding, 16, 9);
        Ops.Neg(Ops.Mean(cpu.LogProb(new Var<float>(x), new Var<float>(c)))).Backward();
        double Squares(IEnumerable<Parameter<float>> ps) => ps.Sum(p => p.Grad!.ToArray().Sum(v => (double)v * v));
        double total = Squares(cpu.Parameters()), share = Squares(((EmbeddedContextTransform<float>)cpu.Transform).Map.Parameters()) / total;
        Assert.True(share > 1e-3, $"{kind}/{embedding}: the embedding holds only {share} of the squared gradient norm");
        using var dflow = DeviceFlow.Compile(Build(kind, embedding), _dev);
        dflow.ClipNorm = 1e-9;
        using var dx = DeviceTensor.Upload(_dev, x);
        using var dc = DeviceTensor.Upload(_dev, c);
        dflow.TrainStep(dx, 1e-3, context: dc);
        double device = dflow.GradientSquares!.Download().ReadOnlySpan[0];
        Assert.True(Math.Abs(device - total) <= 0.1 * share * total, $"{kind}/{embedding}: squared gradient norm {device} on the device, {total} on the CPU (embedding share {share})");
    }

    [Theory]
    [InlineData("realnvp", "mlp")]
    [InlineData("maf", "set")]
    public void LogProbAndInverseThroughAnEmbeddingMatchTheLibrary(string kind, string embedding)
    {
        var flow = Build(kind, embedding);
        var x = DeviceFlowTests.Data(16, 1);
        var c = RawContext(embedding, 16, 2);
        var z = new Rng(3).Normal<float>(16, D);
        float[] expected;
        Tensor<float> inverse;
        using (GradMode.Disable())
        {
            expected = flow.LogProb(new Var<float>(x), new Var<float>(c)).Value.ToArray();
            inverse = flow.Transform.Inverse(new Var<float>(z), new Var<float>(c)).X.Value;
        }
        using var dflow = DeviceFlow.Compile(flow, _dev);
        Assert2.Close(expected, dflow.LogProb(x, c, batch: 10), 1e-4, 2e-4, $"{kind}/{embedding} log p(x | c)");
        using var dz = DeviceTensor.Upload(_dev, z);
        using var dc = DeviceTensor.Upload(_dev, c);
        using var dx = DeviceTensor.Zeros(_dev, 16, D);
        dflow.Inverse(dz, dx, dc);
        Assert2.Close(inverse, dx.Download(), 1e-4, 1e-4, $"{kind}/{embedding} inverse given c");
    }

    // a conditional realnvp over [a, b, c, d] given 4 context columns, standardised, then an MLP embedding to 3 features
    private static (FlowModel<float> Model, TrainingData<float> Data) Model(long seed = 4)
    {
        int n = 96;
        var rng = new Rng(21);
        var context = rng.Normal<float>(n, 4);
        var x = rng.Normal<float>(n, D);
        var xs = x.Span; var cs = context.Span;
        for (int i = 0; i < n; i++)
            for (int j = 0; j < D; j++) xs[i * D + j] = 0.6f * xs[i * D + j] + 0.8f * cs[i * 4 + j] + 0.3f * j; // x depends on the context
        for (int i = 0; i < cs.Length; i++) cs[i] = 3 * cs[i] + 2; // off the standardisation
        string[] names = ["c0", "c1", "c2", "c3"];
        var pre = PreprocessingPipeline.Fit<float>(Table.FromTensor(context, names), PreprocessingSpec.Uniform(names, PreprocessingKind.Standardize));
        var spec = new FlowSpec { Builder = "realnvp", Features = D, Layers = 2, Hidden = 8, ContextFeatures = E, Seed = seed, DType = "float32" };
        var model = new FlowModel<float>(spec, contextPreprocessing: pre, embedding: new EmbeddingSpec { Kind = EmbeddingSpec.Mlp, Features = E, Hidden = 8, Layers = 1 }, contextColumns: names);
        return (model, new TrainingData<float>(x, context));
    }

    private static TrainingOptions Options(int epochs = 2) => new()
    {
        Epochs = epochs, BatchSize = 32, LearningRate = 3e-3, Seed = 5, ValidationFraction = 0.25,
    };

    private static void SameWeights(Module<float> expected, Module<float> actual, double tolerance, string what)
    {
        var e = expected.Parameters().ToList(); var a = actual.Parameters().ToList();
        Assert.Equal(e.Count, a.Count);
        for (int i = 0; i < e.Count; i++) Assert2.Close(e[i].Value, a[i].Value, 0, tolerance, $"{what}: parameter {i}");
    }

    private static void SameHistory(TrainingHistory expected, TrainingHistory actual, string what)
    {
        Assert.Equal(expected.Epochs.Count, actual.Epochs.Count);
        Assert.Equal(expected.Steps, actual.Steps);
        for (int i = 0; i < expected.Epochs.Count; i++)
        {
            var (e, a) = (expected.Epochs[i], actual.Epochs[i]);
            Assert.True(Math.Abs(e.TrainLoss - a.TrainLoss) <= 2e-4 * Math.Abs(e.TrainLoss) + 1e-5, $"{what} epoch {e.Epoch}: loss {a.TrainLoss} on the device, {e.TrainLoss} on the CPU");
            if (e.ValidationLogLikelihood is { } ev)
                Assert.True(Math.Abs(ev - a.ValidationLogLikelihood!.Value) <= 2e-4 * Math.Abs(ev) + 1e-5, $"{what} epoch {e.Epoch}: validation {a.ValidationLogLikelihood} on the device, {ev} on the CPU");
        }
    }

    [Fact]
    public void AModelWithContextPreprocessingAndAnEmbeddingTrainsOnTheDeviceAsOnTheCpu()
    {
        (TrainingHistory, FlowModel<float>) Fit(TrainingOptions options)
        {
            var (model, data) = Model();
            return (new MaximumLikelihoodTrainer<float>(model.Flow, options).Fit(data), model);
        }
        var (cpu, cpuModel) = Fit(Options());
        var (dev, devModel) = Fit(Options() with { Device = _dev });
        SameHistory(cpu, dev, "embedded model");
        SameWeights(cpuModel.Flow, devModel.Flow, 2e-3, "embedded model");
        var (untrained, _) = Model();
        double moved = devModel.Embedding!.Parameters().Zip(untrained.Embedding!.Parameters())
            .Max(p => p.First.Value.ToArray().Zip(p.Second.Value.ToArray()).Max(v => Math.Abs(v.First - v.Second)));
        Assert.True(moved > 5e-3, $"the embedding's weights moved at most {moved} in the device run");

        // the device scores the trained model as the CPU does (its context preprocessing on the host, the embedding on the device)
        var (_, data) = Model();
        using var dflow = DeviceFlow.Compile(devModel.Inner, _dev, devModel.Embedding);
        float[] expected;
        Tensor<float> pre;
        using (GradMode.Disable())
        {
            expected = devModel.Flow.LogProb(new Var<float>(data.X), new Var<float>(data.Context!)).Value.ToArray();
            pre = devModel.ContextPreprocessing!.Forward(new Var<float>(data.Context!)).Y.Value;
        }
        Assert2.Close(expected, dflow.LogProb(data.X, pre), 1e-4, 2e-4, "log p of the device-trained model");
    }

    [Fact]
    public void ClippedTrainingWithAnEmbeddingMatchesTheCpu()
    {
        // as DeviceTrainingTests' clipping test: a clip far below the gradient norm leaves gradients below Adam's ε,
        // where a step is proportional to the clipped gradient (the norm's parts: TheClipNormCountsTheEmbeddingsGradients)
        var clipped = Options(epochs: 1) with { ClipNorm = 1e-9, ValidationFraction = 0 };
        FlowModel<float> Fit(TrainingOptions options)
        {
            var (model, data) = Model();
            new MaximumLikelihoodTrainer<float>(model.Flow, options).Fit(data);
            return model;
        }
        var cpu = Fit(clipped);
        var dev = Fit(clipped with { Device = _dev });
        var unclipped = Fit(clipped with { ClipNorm = null, Device = _dev });
        var (initial, _) = Model();
        double Distance(FlowModel<float> a, FlowModel<float> b) => a.Flow.Parameters().Zip(b.Flow.Parameters())
            .Max(p => p.First.Value.ToArray().Zip(p.Second.Value.ToArray()).Max(v => Math.Abs(v.First - v.Second)));
        double moved = Distance(cpu, initial), gap = Distance(cpu, unclipped), error = Distance(cpu, dev);
        Assert.True(gap > 2 * moved, $"clipping hardly changed the steps (moved {moved}, unclipped run {gap} away)");
        Assert.True(error < 0.02 * moved, $"the clipped device run is {error} from the CPU's, which moved {moved} from the start");
    }

    [Theory]
    [InlineData(true)]  // a device checkpoint (the embedding's weights and Adam moments too) resumed on the CPU
    [InlineData(false)] // a CPU checkpoint resumed on the device
    public void ACheckpointWithAnEmbeddingResumesOnTheOtherSide(bool writtenOnDevice)
    {
        string dir = Directory.CreateTempSubdirectory("nflow-embedding-").FullName;
        try
        {
            var options = Options() with { CheckpointPath = Path.Combine(dir, "run.ckpt") };
            var (onDevice, onCpu) = (options with { Device = _dev }, options);
            var (fullModel, data) = Model();
            var full = new MaximumLikelihoodTrainer<float>(fullModel.Flow, options with { CheckpointPath = null }).Fit(data);
            using var cancel = new CancellationTokenSource();
            var (firstModel, _) = Model();
            var first = new MaximumLikelihoodTrainer<float>(firstModel.Flow, writtenOnDevice ? onDevice : onCpu) { Progress = new Stop(cancel) }
                .Fit(data, cancellation: cancel.Token);
            Assert.Equal(TrainingOutcome.Cancelled, first.Outcome);
            var (resumedModel, _) = Model(seed: 99); // other weights: the checkpoint must replace them
            var resumed = new MaximumLikelihoodTrainer<float>(resumedModel.Flow, writtenOnDevice ? onCpu : onDevice).Fit(data, resumeFrom: options.CheckpointPath);
            SameHistory(full, resumed, $"resumed (written on the {(writtenOnDevice ? "device" : "CPU")})");
            SameWeights(fullModel.Flow, resumedModel.Flow, 2e-3, "resumed");
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

    /// <summary>An embedding kind the device does not know.</summary>
    private sealed class LinearEmbedding : ContextEmbedding<float>
    {
        private readonly Linear<float> _linear;

        public LinearEmbedding() : base(Raw, E) => _linear = RegisterModule("linear", new Linear<float>(Raw, E, new Rng(1)));

        public override Var<float> Forward(Var<float> x) => _linear.Forward(x);
    }

    [Fact]
    public void UnsupportedEmbeddingsAreRefusedByName()
    {
        var inner = DeviceFlowTests.Build("realnvp", context: E);
        var e = Assert.Throws<NotSupportedException>(() => DeviceFlow.Compile(inner, _dev, new LinearEmbedding()));
        Assert.Contains("context embedding LinearEmbedding is not supported", e.Message);
        // through the trainer: the same message
        var wrapped = new Flow<float>(new EmbeddedContextTransform<float>(inner.Transform, new LinearEmbedding(), Raw), inner.Base);
        e = Assert.ThrowsAny<NotSupportedException>(() => new MaximumLikelihoodTrainer<float>(wrapped, Options(1) with { Device = _dev })
            .Fit(new TrainingData<float>(DeviceFlowTests.Data(32, 1), RawContext("mlp", 32, 2))));
        Assert.Contains("LinearEmbedding", e.Message);
        // a trainable context map that is no context embedding
        var plain = new Flow<float>(new EmbeddedContextTransform<float>(inner.Transform, new Linear<float>(Raw, E, new Rng(4)), Raw), inner.Base);
        e = Assert.ThrowsAny<NotSupportedException>(() => new MaximumLikelihoodTrainer<float>(plain, Options(1) with { Device = _dev })
            .Fit(new TrainingData<float>(DeviceFlowTests.Data(32, 1), RawContext("mlp", 32, 2))));
        Assert.Contains("the trainable context map Linear", e.Message);
        // an embedding whose output is not the flow's context
        var wide = new MlpEmbedding<float>(new Mlp<float>(Raw, [8], E + 1, new Rng(3)));
        Assert.Contains("gives 4 features", Assert.Throws<ArgumentException>(() => DeviceFlow.Compile(inner, _dev, wide)).Message);
        // a model's context preprocessing runs on the host
        var (model, _) = Model();
        Assert.Contains("context preprocessing runs on the host", Assert.Throws<NotSupportedException>(() => DeviceFlow.Compile(model, _dev)).Message);
    }
}
