using NormalizingFlows.Autograd;
using NormalizingFlows.Distributions;
using NormalizingFlows.Flows;
using NormalizingFlows.IO;
using NormalizingFlows.Models;
using NormalizingFlows.Optim;
using NormalizingFlows.Tensors;
using NormalizingFlows.Training;
using NormalizingFlows.Transforms;

namespace NormalizingFlows.Cuda.Tests;

/// <summary>
/// Glow on the device (ActNorm, the LU-decomposed linear map, fixed permutations between the couplings) against the
/// library's CPU transforms, on the CPU accelerator: each layer's forward, inverse, log|det| and backward; a small
/// Glow's log p and samples; training through <see cref="TrainingOptions.Device"/> (ActNorm's data-dependent
/// initialisation on the first batch, losses, weights, Adam's moments) against the CPU run; a saved model.
/// </summary>
public sealed class DeviceGlowTests(CpuAcceleratorFixture fixture) : IClassFixture<CpuAcceleratorFixture>
{
    private readonly ComputeDevice _dev = fixture.Device;
    private const int D = 4;

    /// <summary>One layer with every parameter moved off its (often identity) start.</summary>
    private static Transform<float> Layer(string kind)
    {
        var rng = new Rng(7);
        Transform<float> t = kind switch
        {
            "actnorm" => new ActNorm<float>(D),
            "lu" => new LuLinear<float>(D, rng),
            "permutation" => new Permutation<float>([2, 0, 3, 1]),
            _ => throw new ArgumentException(kind),
        };
        Perturb(t.Parameters(), 8);
        t.Eval(); // an ActNorm in evaluation mode keeps its parameters (no initialisation here)
        return t;
    }

    private static void Perturb(IEnumerable<Parameter<float>> parameters, long seed)
    {
        var noise = new Rng(seed);
        foreach (var p in parameters)
        {
            var s = p.Value.Span;
            for (int i = 0; i < s.Length; i++) s[i] += (float)(0.3 * noise.NextNormal());
        }
    }

    private static Tensor<float> Data(int n, long seed)
    {
        var x = new Rng(seed).Normal<float>(n, D);
        var s = x.Span;
        for (int i = 0; i < s.Length; i++) s[i] = 0.8f * s[i] + 0.5f * (i % D); // shifted, narrower than the base
        return x;
    }

    public static TheoryData<string> Kinds => ["actnorm", "lu", "permutation"];

    [Theory]
    [MemberData(nameof(Kinds))]
    public void EachLayerMatchesTheLibraryForwardInverseAndBackward(string kind)
    {
        var host = Layer(kind);
        int n = 12;
        var x = Data(n, 1);
        var gy = new Rng(2).Normal<float>(n, D);   // the backward's output gradient: loss = Σ gy·y + Σ gld·logdet
        var gld = new Rng(3).Normal<float>(n);
        var xv = new Var<float>(x.Clone(), requiresGrad: true);
        var (y, ld) = host.Forward(xv);
        Ops.Add(Ops.Sum(Ops.Mul(y, new Var<float>(gy))), Ops.Sum(Ops.Mul(ld, new Var<float>(gld)))).Backward();

        using var layer = DeviceParameterLayers.Compile(host, _dev, frozen: false)!;
        using var dx = DeviceTensor.Upload(_dev, x);
        using var dy = DeviceTensor.Zeros(_dev, n, D);
        using var dld = DeviceTensor.Zeros(_dev, n);
        layer.Forward(dx, null, dy, dld);
        Assert2.Close(y.Value, dy.Download(), 1e-6, 1e-6, $"{kind} forward");
        Assert2.Close(ld.Value, dld.Download(), 1e-6, 1e-6, $"{kind} log|det|");
        if (kind != "permutation") Assert.True(ld.Value.ReadOnlySpan.ToArray().All(v => Math.Abs(v) > 1e-2), $"{kind}: a log|det| of ~0 cannot tell a sign error");

        // the inverse: back to x, log|det ∂x/∂y| = −log|det ∂y/∂x|, and the library's inverse of the same y
        using var back = DeviceTensor.Zeros(_dev, n, D);
        using var ldInverse = DeviceTensor.Zeros(_dev, n);
        layer.Inverse(dy, null, back, ldInverse);
        Assert2.Close(x, back.Download(), 1e-5, 1e-5, $"{kind} round trip");
        var (hostBack, hostLdInverse) = host.Inverse(new Var<float>(y.Value));
        Assert2.Close(hostBack.Value, back.Download(), 1e-6, 1e-6, $"{kind} inverse");
        Assert2.Close(hostLdInverse.Value, ldInverse.Download(), 1e-6, 1e-6, $"{kind} inverse log|det|");

        // the backward: the input's and every parameter's gradient against autograd
        layer.Forward(dx, null, dy, dld);
        using var dgy = DeviceTensor.Upload(_dev, gy);
        using var dgld = DeviceTensor.Upload(_dev, gld);
        using var gx = DeviceTensor.Zeros(_dev, n, D);
        layer.Backward(dx, dgy, dgld, gx);
        Assert2.Close(xv.Grad!, gx.Download(), 1e-5, 1e-5, $"{kind} input gradient");
        var pairs = DeviceParameterLayers.Pairs([host], [layer]);
        Assert.Equal(kind switch { "actnorm" => 2, "lu" => 4, _ => 0 }, pairs.Count);
        foreach (var (p, (hp, dp)) in pairs.Select((q, i) => (i, q)))
        {
            Assert.True(hp.Grad!.ReadOnlySpan.ToArray().Any(v => v != 0), $"{kind} parameter {p}: zero gradient");
            Assert2.Close(hp.Grad!, dp.Grad.Download().Reshape(hp.Grad!.Shape.ToArray()), 1e-5, 1e-5, $"{kind} parameter {p} gradient");
        }
    }

    /// <summary>
    /// A small Glow (D = 4, 2 steps, hidden 8) with every weight moved off its start (the couplings' zero output layers
    /// would give the layers before them no gradient); its ActNorms initialised on a batch first, or left to the first training step.
    /// </summary>
    private static Flow<float> Glow(long seed = 11, bool initialised = true)
    {
        var flow = FlowBuilders.Glow<float>(D, layers: 2, hidden: 8, rng: new Rng(seed));
        if (initialised)
        {
            flow.Train();
            using (GradMode.Disable()) flow.LogProb(new Var<float>(Data(32, 5)));
            flow.Eval();
        }
        Perturb(flow.Parameters(), seed + 1);
        return flow;
    }

    [Fact]
    public void GlowLogProbAndSamplesMatchTheCpuFlow()
    {
        var flow = Glow();
        var x = Data(24, 3);
        var z = new Rng(4).Normal<float>(24, D);
        float[] expected;
        Tensor<float> samples;
        using (GradMode.Disable())
        {
            expected = flow.LogProb(new Var<float>(x)).Value.ToArray();
            samples = flow.Transform.Inverse(new Var<float>(z)).X.Value;
        }
        using var dflow = DeviceFlow.Compile(flow, _dev);
        Assert2.Close(expected, dflow.LogProb(x, batch: 10), 1e-5, 1e-4, "glow log p");
        Assert2.Close(samples, dflow.Inverse(z, batch: 10), 1e-5, 1e-4, "glow samples from the same base draws");
        // the device's own draws score as the library scores them
        using var s = dflow.Sample(16, seed: 3);
        var hs = s.Download();
        float[] scored;
        using (GradMode.Disable()) scored = flow.LogProb(new Var<float>(hs)).Value.ToArray();
        Assert2.Close(scored, dflow.LogProb(hs), 1e-5, 1e-4, "log p of device samples");
    }

    [Fact]
    public void ConditionalGlowLogProbAndSamplesMatchTheCpuFlow()
    {
        // the couplings read [x_a, context]; ActNorm and the LU map read none
        var flow = FlowBuilders.Glow<float>(D, layers: 2, hidden: 8, contextFeatures: 2, rng: new Rng(13));
        Perturb(flow.Parameters(), 14);
        var x = Data(20, 3);
        var c = new Rng(6).Normal<float>(20, 2);
        var z = new Rng(4).Normal<float>(20, D);
        float[] expected;
        Tensor<float> samples;
        using (GradMode.Disable())
        {
            expected = flow.LogProb(new Var<float>(x), new Var<float>(c)).Value.ToArray();
            samples = flow.Transform.Inverse(new Var<float>(z), new Var<float>(c)).X.Value;
        }
        using var dflow = DeviceFlow.Compile(flow, _dev);
        Assert.Equal(2, dflow.ContextFeatures);
        Assert2.Close(expected, dflow.LogProb(x, c), 1e-5, 1e-4, "conditional glow log p");
        Assert2.Close(samples, dflow.Inverse(z, c), 1e-5, 1e-4, "conditional glow samples");
    }

    [Fact]
    public void FirstStepInitialisesActNormAndGradientsMatchAutograd()
    {
        // a fresh Glow: the first training step initialises each ActNorm from its input (the CPU's first training
        // forward does), then every gradient against autograd's; learning rate 0 keeps the initialised values
        var cpu = Glow(initialised: false);
        var gpu = Glow(initialised: false);
        var batch = Data(32, 100);
        cpu.Train();
        Ops.Neg(Ops.Mean(cpu.LogProb(new Var<float>(batch)))).Backward();
        using var dflow = DeviceFlow.Compile(gpu, _dev);
        dflow.ClipNorm = 1e9; // computes the squared global norm without clipping
        using var db = DeviceTensor.Upload(_dev, batch);
        dflow.TrainStep(db, 0);
        foreach (var a in gpu.Transform.NamedModules().Select(m => m.Value).OfType<ActNorm<float>>()) Assert.True(a.IsInitialized);
        var linears = dflow.Pairs(cpu).SelectMany(p => new[] { (p.Host.Weight, p.Device.GW), (p.Host.Bias!, p.Device.GB) });
        var own = dflow.ParameterPairs(cpu).Select(p => (p.Host, p.Device.Grad));
        Assert.Equal(2 * (2 + 4), own.Count());
        double squares = 0;
        int i = 0;
        foreach (var (host, device) in linears.Concat(own))
        {
            var expected = host.Grad!.ReadOnlySpan;
            double scale = 0;
            foreach (var v in expected) { scale = Math.Max(scale, Math.Abs(v)); squares += (double)v * v; }
            Assert.True(scale > 0, $"parameter {i}: zero gradient");
            Assert2.Close(expected, device.Download().ReadOnlySpan[..expected.Length], 1e-4, 1e-4 * scale, $"parameter {i} gradient");
            i++;
        }
        float deviceSquares = dflow.GradientSquares!.Download().ReadOnlySpan[0];
        Assert.True(Math.Abs(deviceSquares - squares) <= 1e-4 * squares, $"Σg²: device {deviceSquares}, CPU {squares}");
        // the initialised ActNorm parameters (untouched by a step of learning rate 0) written back equal the CPU's;
        // written into another flow, its ActNorms are marked initialised (a later CPU training run keeps them)
        var other = Glow(seed: 99, initialised: false);
        dflow.CopyTo(other);
        Assert.All(other.Transform.NamedModules().Select(m => m.Value).OfType<ActNorm<float>>(), a => Assert.True(a.IsInitialized));
        dflow.CopyTo(gpu);
        foreach (var (c, g) in cpu.Transform.NamedModules().Select(m => m.Value).OfType<ActNorm<float>>().Zip(gpu.Transform.NamedModules().Select(m => m.Value).OfType<ActNorm<float>>()))
        {
            Assert2.Close(c.LogScale.Value, g.LogScale.Value, 1e-5, 1e-5, "ActNorm log-scale at initialisation");
            Assert2.Close(c.Shift.Value, g.Shift.Value, 1e-5, 1e-5, "ActNorm shift at initialisation");
        }
    }

    private static TrainingOptions Options(IFlowAccelerator? device) => new()
    {
        Epochs = 2, BatchSize = 32, LearningRate = 3e-3, Seed = 5, ValidationFraction = 0.25, ReportEverySteps = 1, ClipNorm = 5, Device = device,
    };

    private sealed class Collect(List<TrainingProgress> list) : IProgress<TrainingProgress>
    {
        public void Report(TrainingProgress value) => list.Add(value);
    }

    [Fact]
    public void TrainingOnTheDeviceMatchesTheCpuRunAndSavesAModelTheCpuLoads()
    {
        // a Glow trained by TrainingLoop with its ActNorms uninitialised: on the device they initialise from the first
        // batch as on the CPU; the loss of every step (reported each step), the validation, the final weights and
        // Adam's moments and step count (copied back into the host optimizer) against the CPU run. The weights are
        // moved off the builder's start (Glow(initialised: false)): with the couplings' zero output layers and
        // ActNorm's zero-mean start, some first-step gradients (the LU biases', the couplings' output biases') are 0 in
        // exact arithmetic and ~1e−8 of either sign in float on both sides, and Adam's first step, −lr·g/|g|, turns
        // that noise into ±lr: two correct runs then differ by lr in those weights, whatever the device.
        var data = new TrainingData<float>(Data(96, 9));
        (TrainingHistory, Flow<float>, Adam<float>, List<TrainingProgress>) Run(IFlowAccelerator? device)
        {
            var flow = Glow(initialised: false);
            var adam = new Adam<float>(flow.Parameters(), 3e-3);
            var reports = new List<TrainingProgress>();
            var loop = new TrainingLoop<float>(flow, Options(device), adam) { Progress = new Collect(reports) };
            return (loop.Fit(new MaximumLikelihoodLoss<float>(flow), data), flow, adam, reports);
        }
        var (cpu, cpuFlow, cpuAdam, cpuReports) = Run(null);
        var (dev, devFlow, devAdam, devReports) = Run(_dev);
        Assert.Equal(cpu.Steps, dev.Steps);
        Assert.Equal(cpuReports.Count, devReports.Count);
        Assert.True(cpuReports.Count >= 6);
        for (int i = 0; i < cpuReports.Count; i++)
            Assert.True(Math.Abs(cpuReports[i].Loss - devReports[i].Loss) <= 2e-4 * Math.Abs(cpuReports[i].Loss) + 1e-5,
                $"report {i} (step {cpuReports[i].Step}): device {devReports[i].Loss}, CPU {cpuReports[i].Loss}");
        for (int e = 0; e < cpu.Epochs.Count; e++)
        {
            double c = cpu.Epochs[e].ValidationLogLikelihood!.Value, d = dev.Epochs[e].ValidationLogLikelihood!.Value;
            Assert.True(Math.Abs(c - d) <= 2e-4 * Math.Abs(c) + 1e-5, $"epoch {e + 1} validation: device {d}, CPU {c}");
        }
        var cp = cpuFlow.Parameters().ToList(); var dp = devFlow.Parameters().ToList();
        var start = Glow(initialised: false).Parameters().ToList();
        double moved = 0;
        for (int i = 0; i < cp.Count; i++)
        {
            Assert2.Close(cp[i].Value, dp[i].Value, 0, 2e-3, $"parameter {i}");
            var now = dp[i].Value.ReadOnlySpan; var was = start[i].Value.ReadOnlySpan;
            for (int j = 0; j < now.Length; j++) moved = Math.Max(moved, Math.Abs(now[j] - was[j]));
        }
        Assert.True(moved > 1e-2, $"training moved no weight by more than {moved}");
        Assert.All(devFlow.Transform.NamedModules().Select(m => m.Value).OfType<ActNorm<float>>(), a => Assert.True(a.IsInitialized));
        var (cs, ds) = (cpuAdam.ExportState(), devAdam.ExportState());
        Assert.Equal(cs.Keys, ds.Keys);
        foreach (var key in cs.Keys)
        {
            if (key.EndsWith("step", StringComparison.Ordinal)) Assert.Equal(cs[key].ToArray(), ds[key].ToArray());
            else Assert2.Close(cs[key], ds[key], 2e-2, 1e-6, $"Adam state {key}");
        }

        // saved after device training, the model loads on the CPU with the same bits and scores as the trained flow
        string path = Path.Combine(Path.GetTempPath(), $"devglow-{Guid.NewGuid():N}.nflow");
        try
        {
            var model = FlowModel<float>.FromFlow(devFlow);
            ModelFile.Save(path, model);
            var loaded = ModelFile.Load<float>(path);
            var lp = loaded.Inner.Parameters().ToList();
            Assert.Equal(dp.Count, lp.Count);
            for (int i = 0; i < dp.Count; i++) Assert.Equal(dp[i].Value.ToArray(), lp[i].Value.ToArray());
            Assert.All(loaded.Inner.Transform.NamedModules().Select(m => m.Value).OfType<ActNorm<float>>(), a => Assert.True(a.IsInitialized));
            var x = Data(10, 12);
            devFlow.Eval();
            float[] expected;
            using (GradMode.Disable()) expected = devFlow.LogProb(new Var<float>(x)).Value.ToArray();
            Assert.Equal(expected.Select(v => (double)v), loaded.LogProb(x));
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void PermutationsBetweenCouplingsTrainAsOnTheCpu()
    {
        // a RealNVP with a fixed permutation between its couplings: log p and a few steps against the CPU's Adam path
        Flow<float> Build()
        {
            var realNvp = FlowBuilders.RealNvp<float>(D, layers: 2, hidden: 8, rng: new Rng(21));
            var couplings = ((CompositeTransform<float>)realNvp.Transform).Steps;
            var f = new Flow<float>(new CompositeTransform<float>([couplings[0], new Permutation<float>([3, 1, 0, 2]), couplings[1]]), new StandardNormal<float>(D));
            Perturb(f.Parameters(), 22);
            return f;
        }
        var cpu = Build(); var gpu = Build();
        var adam = new Adam<float>(cpu.Parameters(), 1e-2);
        using var dflow = DeviceFlow.Compile(gpu, _dev);
        for (int step = 0; step < 4; step++)
        {
            var batch = Data(16, 30 + step);
            adam.ZeroGrad();
            var loss = Ops.Neg(Ops.Mean(cpu.LogProb(new Var<float>(batch))));
            loss.Backward();
            adam.Step();
            using var db = DeviceTensor.Upload(_dev, batch);
            float deviceLoss = dflow.TrainStep(db, 1e-2, readLoss: true)!.Value;
            float cpuLoss = loss.Value.ReadOnlySpan[0];
            Assert.True(Math.Abs(deviceLoss - cpuLoss) <= 2e-4 * Math.Abs(cpuLoss) + 1e-5, $"step {step}: device {deviceLoss}, CPU {cpuLoss}");
        }
        dflow.CopyTo(gpu);
        var (c, g) = (cpu.Parameters().ToList(), gpu.Parameters().ToList());
        for (int i = 0; i < c.Count; i++) Assert2.Close(c[i].Value, g[i].Value, 0, 2e-3, $"parameter {i}");
    }

    [Fact]
    public void StepsReplayedFromACapturedGraphTrainGlowExactlyAsEagerSteps()
    {
        // ActNorm's initialisation reads back once, in the first (always eager) step; the captured steps launch only
        // kernels, their parameters' Adam and clip kernels included: replays equal the eager run bit for bit
        var data = new TrainingData<float>(Data(72, 9));
        (TrainingHistory, Flow<float>) Run(IFlowAccelerator device)
        {
            var flow = Glow(initialised: false);
            var options = Options(device) with { Epochs = 3, ValidationFraction = 0 };
            return (new TrainingLoop<float>(flow, options, new Adam<float>(flow.Parameters(), 3e-3)).Fit(new MaximumLikelihoodLoss<float>(flow), data), flow);
        }
        var (device, _, _) = DeviceGraphTests.ReplayedStepsEqualEagerSteps(_dev, Run, minReplays: 3);
        device.Dispose();
    }

    [Theory]
    [InlineData(true)]  // written on the device (its ActNorms initialised there), resumed on the CPU
    [InlineData(false)] // written on the CPU, resumed on the device (which must not initialise again)
    public void ACheckpointResumesOnTheOtherSide(bool writtenOnDevice)
    {
        string dir = Directory.CreateTempSubdirectory("nflow-glow-").FullName;
        try
        {
            var data = new TrainingData<float>(Data(96, 9));
            var options = Options(null) with { CheckpointPath = Path.Combine(dir, "run.ckpt"), ReportEverySteps = 2 };
            var (onDevice, onCpu) = (options with { Device = _dev }, options);
            var fullFlow = Glow(initialised: false);
            var full = new MaximumLikelihoodTrainer<float>(fullFlow, options with { CheckpointPath = null }).Fit(data);
            using var cancel = new CancellationTokenSource();
            var first = new MaximumLikelihoodTrainer<float>(Glow(initialised: false), writtenOnDevice ? onDevice : onCpu) { Progress = new StopAfterEpoch(cancel) }
                .Fit(data, cancellation: cancel.Token);
            Assert.Equal(TrainingOutcome.Cancelled, first.Outcome);
            var resumedFlow = Glow(seed: 99, initialised: false); // other weights, uninitialised ActNorms: the checkpoint must replace both
            var resumed = new MaximumLikelihoodTrainer<float>(resumedFlow, writtenOnDevice ? onCpu : onDevice).Fit(data, resumeFrom: options.CheckpointPath);
            Assert.Equal(full.Steps, resumed.Steps);
            for (int e = 0; e < full.Epochs.Count; e++)
            {
                double c = full.Epochs[e].TrainLoss, r = resumed.Epochs[e].TrainLoss;
                Assert.True(Math.Abs(c - r) <= 2e-4 * Math.Abs(c) + 1e-5, $"epoch {e + 1}: resumed {r}, uninterrupted {c}");
            }
            foreach (var (c, r) in fullFlow.Parameters().Zip(resumedFlow.Parameters())) Assert2.Close(c.Value, r.Value, 0, 2e-3, "resumed weights");
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    private sealed class StopAfterEpoch(CancellationTokenSource cancel) : IProgress<TrainingProgress>
    {
        public void Report(TrainingProgress value) { if (value.EndOfEpoch) cancel.Cancel(); }
    }
}
