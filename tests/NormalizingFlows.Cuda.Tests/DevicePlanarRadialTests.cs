using NormalizingFlows.Autograd;
using NormalizingFlows.Distributions;
using NormalizingFlows.Flows;
using NormalizingFlows.Optim;
using NormalizingFlows.Tensors;
using NormalizingFlows.Training;
using NormalizingFlows.Transforms;

namespace NormalizingFlows.Cuda.Tests;

/// <summary>
/// The planar and radial maps on the device (<see cref="DevicePlanar"/>, <see cref="DeviceRadial"/>) against the
/// library's CPU transforms, on the CPU accelerator: each layer's forward (Planar's root find), inverse, log|det| and
/// backward (input and parameters, Planar's û constraint and implicit root gradient included) against autograd; a planar
/// and a radial flow's log p and samples; training through <see cref="TrainingOptions.Device"/> against the CPU run
/// (losses, validation, weights, Adam's moments); captured step graphs; the frozen compile's refusal.
/// </summary>
public sealed class DevicePlanarRadialTests(CpuAcceleratorFixture fixture) : IClassFixture<CpuAcceleratorFixture>
{
    private readonly ComputeDevice _dev = fixture.Device;
    private const int D = 3;

    private static void Perturb(IEnumerable<Parameter<float>> parameters, long seed, double scale)
    {
        var noise = new Rng(seed);
        foreach (var p in parameters)
        {
            var s = p.Value.Span;
            for (int i = 0; i < s.Length; i++) s[i] += (float)(scale * noise.NextNormal());
        }
    }

    /// <summary>
    /// One layer off its start: "planar" (wᵀu inside the constraint's gentle range), "planar-folded" (wᵀu ≈ −3: û is
    /// pulled back to wᵀû &gt; −1, a map close to folding, so the root find and the constraint's gradient both work), "radial".
    /// </summary>
    private static Transform<float> Layer(string kind)
    {
        var rng = new Rng(17);
        switch (kind)
        {
            case "planar":
            {
                var p = new Planar<float>(D, rng);
                Perturb(p.Parameters(), 18, 0.5);
                return p;
            }
            case "planar-folded":
            {
                var p = new Planar<float>(D, rng);
                Perturb(p.Parameters(), 19, 0.5);
                var w = p.W.Value.Span; var u = p.U.Value.Span;
                double n2 = 0, c = 0;
                for (int j = 0; j < D; j++) { n2 += w[j] * w[j]; c += w[j] * u[j]; }
                for (int j = 0; j < D; j++) u[j] += (float)((-3 - c) * w[j] / n2); // wᵀu = −3
                return p;
            }
            case "radial":
            {
                var r = new Radial<float>(D, rng);
                Perturb(r.Parameters(), 20, 0.3);
                return r;
            }
            default: throw new ArgumentException(kind);
        }
    }

    private static Tensor<float> Data(int n, long seed)
    {
        var x = new Rng(seed).Normal<float>(n, D);
        var s = x.Span;
        for (int i = 0; i < s.Length; i++) s[i] = 0.8f * s[i] + 0.4f * (i % D);
        return x;
    }

    public static TheoryData<string> Kinds => ["planar", "planar-folded", "radial"];

    [Theory]
    [MemberData(nameof(Kinds))]
    public void EachLayerMatchesTheLibraryForwardInverseAndBackward(string kind)
    {
        var host = Layer(kind);
        if (host is Planar<float> planar)
        {
            var uh = planar.ConstrainedU();
            var w = planar.W.Value.ToArray();
            double v = Enumerable.Range(0, D).Sum(j => w[j] * uh[j]);
            Assert.True(kind == "planar-folded" ? v is > -1 and < -0.5 : Math.Abs(v) > 0.1, $"{kind}: wᵀû = {v}");
        }
        int n = 12;
        var x = Data(n, 1);
        var gy = new Rng(2).Normal<float>(n, D);   // loss = Σ gy·y + Σ gld·logdet
        var gld = new Rng(3).Normal<float>(n);
        var xv = new Var<float>(x.Clone(), requiresGrad: true);
        var (y, ld) = host.Forward(xv);
        Ops.Add(Ops.Sum(Ops.Mul(y, new Var<float>(gy))), Ops.Sum(Ops.Mul(ld, new Var<float>(gld)))).Backward();

        using var layer = DeviceParameterLayers.Compile(host, _dev, frozen: false)!;
        Assert.IsType(kind == "radial" ? typeof(DeviceRadial) : typeof(DevicePlanar), layer);
        using var dx = DeviceTensor.Upload(_dev, x);
        using var dy = DeviceTensor.Zeros(_dev, n, D);
        using var dld = DeviceTensor.Zeros(_dev, n);
        layer.Forward(dx, null, dy, dld);
        Assert2.Close(y.Value, dy.Download(), 1e-6, 1e-6, $"{kind} forward");
        Assert2.Close(ld.Value, dld.Download(), 1e-6, 1e-6, $"{kind} log|det|");
        // (a planar row far out along w, where tanh saturates, has log|det| ≈ 0; most are not)
        int telling = ld.Value.ReadOnlySpan.ToArray().Count(v => Math.Abs(v) > 1e-2);
        Assert.True(telling >= n / 2, $"{kind}: {telling} of {n} rows with |log|det|| > 0.01: a log|det| of ~0 cannot tell a sign error");

        // the inverse (the closed form): back to x, log|det ∂x/∂y| = −log|det ∂y/∂x|, and the library's inverse of the same y
        using var back = DeviceTensor.Zeros(_dev, n, D);
        using var ldInverse = DeviceTensor.Zeros(_dev, n);
        layer.Inverse(dy, null, back, ldInverse);
        Assert2.Close(x, back.Download(), 1e-5, 1e-5, $"{kind} round trip");
        Assert2.Close(ld.Value.ReadOnlySpan.ToArray().Select(v => -v).ToArray(), ldInverse.Download().ReadOnlySpan.ToArray(), 1e-5, 1e-5, $"{kind} inverse log|det| = −forward's");
        var (hostBack, hostLdInverse) = host.Inverse(new Var<float>(y.Value));
        Assert2.Close(hostBack.Value, back.Download(), 1e-6, 1e-6, $"{kind} inverse");
        Assert2.Close(hostLdInverse.Value, ldInverse.Download(), 1e-6, 1e-6, $"{kind} inverse log|det|");
        using var noLd = DeviceTensor.Zeros(_dev, n, D);
        layer.Inverse(dy, null, noLd); // without a log|det| output
        Assert.Equal(back.Download().ToArray(), noLd.Download().ToArray());

        // the backward (after a forward on the same x): the input's and every parameter's gradient against autograd
        layer.Forward(dx, null, dy, dld);
        using var dgy = DeviceTensor.Upload(_dev, gy);
        using var dgld = DeviceTensor.Upload(_dev, gld);
        using var gx = DeviceTensor.Zeros(_dev, n, D);
        layer.Backward(dx, dgy, dgld, gx);
        Assert2.Close(xv.Grad!, gx.Download(), 1e-5, 1e-5, $"{kind} input gradient");
        var pairs = DeviceParameterLayers.Pairs([host], [layer]);
        Assert.Equal(3, pairs.Count);
        foreach (var (p, (hp, dp)) in pairs.Select((q, i) => (i, q)))
        {
            Assert.True(hp.Grad!.ReadOnlySpan.ToArray().Any(v => v != 0), $"{kind} parameter {p}: zero gradient");
            Assert2.Close(hp.Grad!, dp.Grad.Download().Reshape(hp.Grad!.Shape.ToArray()), 1e-5, 1e-5, $"{kind} parameter {p} gradient");
        }
    }

    /// <summary>A planar flow (FlowBuilders.PlanarFlow) or a radial one (three radial maps over a standard normal), off its start.</summary>
    private static Flow<float> Build(string kind, long seed = 31)
    {
        var rng = new Rng(seed);
        var flow = kind == "planar"
            ? FlowBuilders.PlanarFlow<float>(D, layers: 3, rng: rng)
            : new Flow<float>(new CompositeTransform<float>([new Radial<float>(D, rng), new Radial<float>(D, rng), new Radial<float>(D, rng)]), new StandardNormal<float>(D));
        Perturb(flow.Parameters(), seed + 1, 0.3);
        return flow;
    }

    public static TheoryData<string> Flows => ["planar", "radial"];

    [Theory]
    [MemberData(nameof(Flows))]
    public void FlowLogProbAndSamplesMatchTheCpuFlow(string kind)
    {
        var flow = Build(kind);
        var x = Data(20, 3);
        var z = new Rng(4).Normal<float>(20, D);
        float[] expected;
        Tensor<float> samples;
        using (GradMode.Disable())
        {
            expected = flow.LogProb(new Var<float>(x)).Value.ToArray();
            samples = flow.Transform.Inverse(new Var<float>(z)).X.Value;
        }
        using var dflow = DeviceFlow.Compile(flow, _dev);
        Assert2.Close(expected, dflow.LogProb(x, batch: 8), 1e-5, 1e-4, $"{kind} log p");
        Assert2.Close(samples, dflow.Inverse(z, batch: 8), 1e-5, 1e-4, $"{kind} samples from the same base draws");
        // the device's own draws score as the library scores them
        using var s = dflow.Sample(12, seed: 3);
        var hs = s.Download();
        float[] scored;
        using (GradMode.Disable()) scored = flow.LogProb(new Var<float>(hs)).Value.ToArray();
        Assert.All(scored, v => Assert.True(float.IsFinite(v)));
        Assert2.Close(scored, dflow.LogProb(hs), 1e-5, 1e-4, $"{kind} log p of device samples");
    }

    private static TrainingOptions Options(IFlowAccelerator? device) => new()
    {
        Epochs = 2, BatchSize = 32, LearningRate = 1e-2, Seed = 5, ValidationFraction = 0.25, ReportEverySteps = 1, ClipNorm = 5, Device = device,
    };

    private sealed class Collect(List<TrainingProgress> list) : IProgress<TrainingProgress>
    {
        public void Report(TrainingProgress value) => list.Add(value);
    }

    [Theory]
    [MemberData(nameof(Flows))]
    public void TrainingOnTheDeviceMatchesTheCpuRun(string kind)
    {
        // TrainingLoop with clipping: every step's loss, the validation, the final weights (copied back) and Adam's
        // moments and step count against the CPU run
        var data = new TrainingData<float>(Data(96, 9));
        (TrainingHistory, Flow<float>, Adam<float>, List<TrainingProgress>) Run(IFlowAccelerator? device)
        {
            var flow = Build(kind);
            var adam = new Adam<float>(flow.Parameters(), 1e-2);
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
        var start = Build(kind).Parameters().ToList();
        double moved = 0;
        for (int i = 0; i < cp.Count; i++)
        {
            Assert2.Close(cp[i].Value, dp[i].Value, 0, 2e-3, $"parameter {i}");
            var now = dp[i].Value.ReadOnlySpan; var was = start[i].Value.ReadOnlySpan;
            for (int j = 0; j < now.Length; j++) moved = Math.Max(moved, Math.Abs(now[j] - was[j]));
        }
        Assert.True(moved > 2e-2, $"training moved no weight by more than {moved}");
        var (cs, ds) = (cpuAdam.ExportState(), devAdam.ExportState());
        Assert.Equal(cs.Keys, ds.Keys);
        foreach (var key in cs.Keys)
        {
            if (key.EndsWith("step", StringComparison.Ordinal)) Assert.Equal(cs[key].ToArray(), ds[key].ToArray());
            else Assert2.Close(cs[key], ds[key], 2e-2, 1e-6, $"Adam state {key}");
        }
    }

    [Fact]
    public void StepsReplayedFromACapturedGraphTrainAPlanarFlowExactlyAsEagerSteps()
    {
        // the root find's per-row state is a buffer of the layer's own: grown by the first (eager) step, then held by the graphs
        var data = new TrainingData<float>(Data(72, 9));
        (TrainingHistory, Flow<float>) Run(IFlowAccelerator device)
        {
            var flow = Build("planar");
            var options = Options(device) with { Epochs = 3, ValidationFraction = 0 };
            return (new TrainingLoop<float>(flow, options, new Adam<float>(flow.Parameters(), 1e-2)).Fit(new MaximumLikelihoodLoss<float>(flow), data), flow);
        }
        var (device, _, _) = DeviceGraphTests.ReplayedStepsEqualEagerSteps(_dev, Run, minReplays: 3);
        device.Dispose();
    }

    [Theory]
    [InlineData(true)]  // written on the device, resumed on the CPU
    [InlineData(false)] // written on the CPU, resumed on the device
    public void ACheckpointOfAPlanarFlowResumesOnTheOtherSide(bool writtenOnDevice)
    {
        string dir = Directory.CreateTempSubdirectory("nflow-planar-").FullName;
        try
        {
            var data = new TrainingData<float>(Data(96, 9));
            var options = Options(null) with { CheckpointPath = Path.Combine(dir, "run.ckpt"), ReportEverySteps = 2 };
            var (onDevice, onCpu) = (options with { Device = _dev }, options);
            var fullFlow = Build("planar");
            var full = new MaximumLikelihoodTrainer<float>(fullFlow, options with { CheckpointPath = null }).Fit(data);
            using var cancel = new CancellationTokenSource();
            var first = new MaximumLikelihoodTrainer<float>(Build("planar"), writtenOnDevice ? onDevice : onCpu) { Progress = new StopAfterEpoch(cancel) }
                .Fit(data, cancellation: cancel.Token);
            Assert.Equal(TrainingOutcome.Cancelled, first.Outcome);
            var resumedFlow = Build("planar", seed: 99); // other weights: the checkpoint must replace them
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

    public static TheoryData<string> KernelNames => [.. typeof(PlanarRadialKernels).GetMethods(System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.Static)
        .Where(m => m.GetParameters().FirstOrDefault()?.ParameterType == typeof(ILGPU.Index1D)).Select(m => m.Name)];

    [Theory]
    [MemberData(nameof(KernelNames))]
    public void KernelCompilesToPtx(string name) => PtxCompilationTests.CompilesToPtx(typeof(PlanarRadialKernels), name);

    [Fact]
    public void AllNineKernelsAreCompiledToPtx() => Assert.Equal(9, KernelNames.Count);

    [Theory]
    [MemberData(nameof(Flows))]
    public void AFrozenCompileRefusesThemByName(string kind)
    {
        var e = Assert.Throws<NotSupportedException>(() => DeviceFlowLayers.Compile(Build(kind), _dev, frozen: true));
        Assert.Contains($"the transform {(kind == "planar" ? "Planar" : "Radial")} is not supported in a frozen flow", e.Message, StringComparison.Ordinal);
    }
}
