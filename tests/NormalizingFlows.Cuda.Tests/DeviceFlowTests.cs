using NormalizingFlows.Autograd;
using NormalizingFlows.Flows;
using NormalizingFlows.Models;
using NormalizingFlows.Optim;
using NormalizingFlows.Tensors;

namespace NormalizingFlows.Cuda.Tests;

/// <summary>
/// DeviceFlow against the library's flows with the same weights, on ILGPU's CPU accelerator: log p, the inverse
/// (sampling) and a 20-step training run against the CPU autograd + Optim/Adam path on the same batches.
/// </summary>
public sealed class DeviceFlowTests(CpuAcceleratorFixture fixture) : IClassFixture<CpuAcceleratorFixture>
{
    private readonly ComputeDevice _dev = fixture.Device;
    private const int D = 4;

    /// <summary>The four bench architectures, small, with every weight moved off its (often identity) start.</summary>
    internal static Flow<float> Build(string kind, long seed = 11, int context = 0)
    {
        var rng = new Rng(seed);
        var flow = kind switch
        {
            "realnvp" => FlowBuilders.RealNvp<float>(D, layers: 3, hidden: 16, contextFeatures: context, rng: rng),
            "nsf_c" => FlowBuilders.NeuralSplineFlow<float>(D, layers: 2, hidden: 16, contextFeatures: context, rng: rng),
            "maf" => FlowBuilders.Maf<float>(D, layers: 2, hidden: 16, contextFeatures: context, rng: rng),
            "maf_rqs" => FlowBuilders.MafRqs<float>(D, layers: 2, hidden: 16, contextFeatures: context, rng: rng),
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

    public static TheoryData<string> Kinds => ["realnvp", "nsf_c", "maf", "maf_rqs"];

    internal static Tensor<float> Data(int n, long seed)
    {
        var x = new Rng(seed).Normal<float>(n, D);
        var s = x.Span;
        for (int i = 0; i < s.Length; i++) s[i] *= 1.3f; // some points beyond the spline bound 3
        return x;
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void LogProbMatchesTheLibrary(string kind)
    {
        var flow = Build(kind);
        var x = Data(40, 1);
        float[] expected;
        using (GradMode.Disable()) expected = flow.LogProb(new Var<float>(x)).Value.ToArray();
        using var dflow = DeviceFlow.Compile(flow, _dev);
        Assert2.Close(expected, dflow.LogProb(x, batch: 16), 1e-4, 2e-4, $"{kind} log p");
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void InverseMatchesTheLibrarysSamplingDirection(string kind)
    {
        var flow = Build(kind);
        var z = new Rng(2).Normal<float>(24, D);
        Tensor<float> expected;
        using (GradMode.Disable()) expected = flow.Transform.Inverse(new Var<float>(z)).X.Value;
        using var dflow = DeviceFlow.Compile(flow, _dev);
        using var dz = DeviceTensor.Upload(_dev, z);
        using var dx = DeviceTensor.Zeros(_dev, 24, D);
        dflow.Inverse(dz, dx);
        Assert2.Close(expected, dx.Download(), 1e-4, 1e-4, $"{kind} inverse");
    }

    [Fact]
    public void SamplesAreSeededFiniteAndScoreLikeTheLibrary()
    {
        var flow = Build("maf");
        using var dflow = DeviceFlow.Compile(flow, _dev);
        using var a = dflow.Sample(64, seed: 5);
        using var b = dflow.Sample(64, seed: 5);
        var xa = a.Download();
        Assert.Equal(xa.ToArray(), b.Download().ToArray());
        Assert.All(xa.ToArray(), v => Assert.True(float.IsFinite(v)));
        float[] expected;
        using (GradMode.Disable()) expected = flow.LogProb(new Var<float>(xa)).Value.ToArray();
        Assert2.Close(expected, dflow.LogProb(xa), 1e-4, 2e-4, "log p of device samples");
    }

    [Theory]
    [InlineData("realnvp", 20)]
    [InlineData("maf_rqs", 20)]
    [InlineData("nsf_c", 8)] // fewer steps for the other two: the CPU accelerator pays ~1 ms per kernel launch
    [InlineData("maf", 8)]
    public void TrainingStepsMatchTheCpuAdamPath(string kind, int steps)
    {
        // tolerance: losses to 2e-4 relative; weights to 2e-3 absolute (two learning-rate steps: Adam normalises each
        // gradient, so float rounding differences of the two GEMM orders move a weight by at most ~lr per step)
        StepsMatchTheCpuAdamPath(_dev, () => Build(kind), Data, 32, steps, 1e-3, kind);
    }

    /// <summary>
    /// <paramref name="steps"/> Adam steps of −mean log p on batches of <paramref name="rows"/> rows of
    /// <paramref name="data"/> (seeds 100, 101, …), by the CPU's autograd and on the device from the same start: every
    /// step's loss within 2e−4 relative (+1e−5), then <see cref="SameTrainedWeights"/>. Returns the device-trained flow
    /// (its weights copied back) and the start.
    /// </summary>
    internal static (Flow<float> Trained, List<float[]> Start) StepsMatchTheCpuAdamPath(ComputeDevice dev, Func<Flow<float>> build,
        Func<int, long, Tensor<float>> data, int rows, int steps, double lr, string kind)
    {
        var cpu = build();
        var gpu = build();
        var start = gpu.Parameters().Select(p => p.Value.ToArray()).ToList();
        var adam = new Adam<float>(cpu.Parameters(), learningRate: lr);
        using var dflow = DeviceFlow.Compile(gpu, dev);
        for (int step = 0; step < steps; step++)
        {
            var batch = data(rows, 100 + step);
            adam.ZeroGrad();
            var loss = Ops.Neg(Ops.Mean(cpu.LogProb(new Var<float>(batch))));
            loss.Backward();
            adam.Step();
            using var db = DeviceTensor.Upload(dev, batch);
            float deviceLoss = dflow.TrainStep(db, lr, readLoss: true)!.Value;
            float cpuLoss = loss.Value.ReadOnlySpan[0];
            Assert.True(Math.Abs(deviceLoss - cpuLoss) <= 2e-4 * Math.Abs(cpuLoss) + 1e-5, $"{kind} step {step}: device loss {deviceLoss}, CPU {cpuLoss}");
        }
        dflow.CopyTo(gpu);
        SameTrainedWeights(cpu, gpu, start, steps, kind);
        return (gpu, start);
    }

    /// <summary>
    /// The device-trained weights (written back into <paramref name="gpu"/>) against the CPU's to 2e−3 (two learning-rate
    /// steps), and some weight moved from <paramref name="start"/> by more than 5e−4 per step.
    /// </summary>
    internal static void SameTrainedWeights(Flow<float> cpu, Flow<float> gpu, List<float[]> start, int steps, string kind)
    {
        var cpuParams = cpu.Parameters().ToList(); var gpuParams = gpu.Parameters().ToList();
        double moved = 0;
        for (int i = 0; i < cpuParams.Count; i++)
        {
            Assert2.Close(cpuParams[i].Value, gpuParams[i].Value, 0, 2e-3, $"{kind} parameter {i}");
            var now = gpuParams[i].Value.ReadOnlySpan;
            for (int j = 0; j < now.Length; j++) moved = Math.Max(moved, Math.Abs(now[j] - start[i][j]));
        }
        Assert.True(moved > steps * 5e-4, $"{kind}: {steps} steps moved no weight by more than {moved}");
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void OneStepsGradientsMatchAutograd(string kind)
    {
        // Adam's first step is −lr·sign(g): the loss and weight comparisons cannot see a gradient off by a constant
        // factor. Every weight and bias gradient of one step against the CPU autograd parameters' .Grad.
        var cpu = Build(kind);
        var gpu = Build(kind);
        var batch = Data(32, 100);
        Ops.Neg(Ops.Mean(cpu.LogProb(new Var<float>(batch)))).Backward();
        using var dflow = DeviceFlow.Compile(gpu, _dev);
        using var db = DeviceTensor.Upload(_dev, batch);
        dflow.TrainStep(db, 1e-3);
        // the CPU flow's linear layers beside the device's (the device flow was compiled from a copy of the same weights)
        var pairs = dflow.Pairs(cpu).ToList();
        for (int i = 0; i < pairs.Count; i++)
        {
            foreach (var (host, device, name) in new[] { (pairs[i].Host.Weight, pairs[i].Device.GW, "weight"), (pairs[i].Host.Bias!, pairs[i].Device.GB, "bias") })
            {
                var expected = host.Grad!.ReadOnlySpan;
                double scale = 0;
                foreach (var v in expected) scale = Math.Max(scale, Math.Abs(v));
                Assert.True(scale > 0, $"{kind} layer {i} {name}: zero gradient");
                Assert2.Close(expected, device.Download().ReadOnlySpan, 1e-4, 1e-4 * scale, $"{kind} layer {i} {name} gradient");
            }
        }
    }

    [Fact]
    public void CopyToWritesAModelThatSavesAndLoadsOnTheCpu()
    {
        var flow = Build("nsf_c");
        var model = FlowModel<float>.FromFlow(flow);
        using var dflow = DeviceFlow.Compile(model, _dev);
        using var batch = DeviceTensor.Upload(_dev, Data(32, 9));
        for (int i = 0; i < 3; i++) dflow.TrainStep(batch, 1e-2);
        dflow.CopyTo(model);
        string path = Path.Combine(Path.GetTempPath(), $"devflow-{Guid.NewGuid():N}.nflow");
        try
        {
            ModelFile.Save(path, model);
            var loaded = ModelFile.Load<float>(path);
            var x = Data(10, 3);
            Assert2.Close(dflow.LogProb(x), loaded.LogProb(x).Select(v => (float)v).ToArray(), 1e-4, 2e-4, "reloaded model");
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void AlternatingBatchSizesReuseTheBuffersAndMatchFreshFlows()
    {
        // 16, 7, 16, 7 rows (a full batch, a partial last one, the next epoch's full one): log p, the step's loss and
        // every weight gradient equal a freshly compiled flow's on the same rows (learning rate 0 keeps the weights),
        // and after the first full batch no device buffer is allocated (views over the first rows instead)
        var flow = Build("maf", context: 2);
        int[] sizes = [16, 7, 16, 7];
        var rng = new Rng(31);
        var x = sizes.Select((n, i) => DeviceTensor.Upload(_dev, Data(n, 40 + i))).ToArray();
        var c = sizes.Select(n => DeviceTensor.Upload(_dev, rng.Normal<float>(n, 2))).ToArray();
        var w = sizes.Select(n => DeviceTensor.Upload(_dev, rng.Uniform<float>([n], 0.5, 1.5))).ToArray();
        var lp = sizes.Select(n => DeviceTensor.Zeros(_dev, n)).ToArray();
        try
        {
            long start = _dev.Allocations;
            using var reused = DeviceFlow.Compile(flow, _dev);
            for (int i = 0; i < sizes.Length; i++)
            {
                reused.LogProb(x[i], lp[i], c[i]);
                float loss = reused.TrainStep(x[i], 0, readLoss: true, c[i], w[i])!.Value;
                var got = lp[i].Download().ToArray();
                Assert.Equal(got, reused.LogProb(x[i].Download(), c[i].Download())); // the host path's blocks, reused too
                var gradients = reused.Pairs(flow).Select(p => p.Device.GW.Download().ToArray()).ToList();
                using var fresh = DeviceFlow.Compile(flow, _dev);
                fresh.LogProb(x[i], lp[i], c[i]);
                Assert.Equal(lp[i].Download().ToArray(), got);
                Assert.Equal(fresh.TrainStep(x[i], 0, readLoss: true, c[i], w[i])!.Value, loss);
                var expected = fresh.Pairs(flow).Select(p => p.Device.GW.Download().ToArray()).ToList();
                for (int l = 0; l < expected.Count; l++) Assert.Equal(expected[l], gradients[l]);
            }
            // the reused flow again over all sizes, counting buffers
            var hostX = x.Select(t => t.Download()).ToArray();
            var hostC = c.Select(t => t.Download()).ToArray();
            long before = _dev.Allocations;
            for (int i = 0; i < sizes.Length; i++)
            {
                reused.LogProb(x[i], lp[i], c[i]);
                reused.LogProb(hostX[i], hostC[i]);
                reused.TrainStep(x[i], 0, context: c[i], weights: w[i]);
            }
            Assert.True(before > start, "compiling and running flows allocates buffers: the count would catch a reallocation");
            Assert.Equal(before, _dev.Allocations);
        }
        finally
        {
            foreach (var t in x.Concat(c).Concat(w).Concat(lp)) t.Dispose();
        }
    }

    [Fact]
    public void UnsupportedPartsAreNamed()
    {
        var e = Assert.Throws<NotSupportedException>(() => DeviceFlow.Compile(RefusedTransform.Flow(D), _dev));
        Assert.Contains(RefusedTransform.Refusal, e.Message, StringComparison.Ordinal);
    }
}
