using NormalizingFlows.Autograd;
using NormalizingFlows.Data;
using NormalizingFlows.Distributions;
using NormalizingFlows.Flows;
using NormalizingFlows.Optim;
using NormalizingFlows.Tensors;
using NormalizingFlows.Training;
using NormalizingFlows.Transforms;
using NormalizingFlows.Transforms.Coupling;
using NormalizingFlows.Transforms.Monotonic;

namespace NormalizingFlows.Cuda.Tests;

/// <summary>
/// The UMNN update (<see cref="UmnnUpdate"/>) on ILGPU's CPU accelerator (<see cref="DeviceUmnn"/>): the update with
/// its integrand network against the CPU's bound update (y, log|det|, the inverse and inverse ∘ forward), its backward
/// against autograd in double (x, the parameters α, β̃, h and every weight of the integrand network), and small UMNN-MAF
/// and UMNN-coupling flows against the CPU: log p, the inverse from the same base points (incremental MADE and full
/// passes), samples, Adam steps and a <see cref="TrainingOptions.Device"/> run (eager and from a captured graph).
/// </summary>
public sealed class DeviceUmnnTests(CpuAcceleratorFixture fixture) : IClassFixture<CpuAcceleratorFixture>
{
    private readonly ComputeDevice _dev = fixture.Device;
    private const int D = 3;
    private static readonly UmnnUpdate Settings = new(embedding: 3, hidden: 8, layers: 2, nodes: 7);

    private DeviceTensor Up(Tensor<float> t) => DeviceTensor.Upload(_dev, t);

    private static void Perturb<T>(IEnumerable<Parameter<T>> parameters, long seed, double scale) where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        var noise = new Rng(seed);
        foreach (var p in parameters)
            foreach (ref var v in p.Value.Span) v += T.CreateTruncating(scale * noise.NextNormal());
    }

    /// <summary>A bound update and its integrand network with every weight moved off its start (the output layer starts at zero).</summary>
    private static (IElementwiseUpdate Update, IntegrandNetwork<float> Network) Bound(long seed, UmnnUpdate? settings = null)
    {
        var (update, weights) = (settings ?? Settings).Bind<float>(new Rng(seed));
        var network = (IntegrandNetwork<float>)weights!;
        Perturb(network.Parameters(), seed + 1, 0.3);
        return (update, network);
    }

    /// <summary>Inputs [n, c] (normal × 2, a few out to ±12) and parameters [n, c·(2 + E)] (normal × 0.7).</summary>
    private static (Tensor<float> X, Tensor<float> P) Case(int n, int c, long seed)
    {
        var rng = new Rng(seed);
        var x = rng.Normal<float>(n, c);
        var p = rng.Normal<float>(n, c * Settings.ParametersPerFeature);
        foreach (ref var v in x.Span) v *= 2;
        foreach (ref var v in p.Span) v *= 0.7f;
        float[] far = [0, 12, 0, 0, -9, 0, 0];
        for (int i = 1; i < Math.Min(far.Length, x.Length); i++) if (far[i] != 0 || i == 6) x.Span[i] = far[i];
        return (x, p);
    }

    [Fact]
    public void UpdateMatchesTheCpuForwardInverseAndRoundTrip()
    {
        int n = 6, c = 3;
        var (cpu, network) = Bound(50);
        var (x, p) = Case(n, c, 51);
        using var umnn = new DeviceUmnn(_dev, Settings, network);
        using var dx = Up(x); using var dp = Up(p);
        using var dy = DeviceTensor.Zeros(_dev, n, c); using var dld = DeviceTensor.Zeros(_dev, n, c);
        umnn.Apply(dx, dp, dy, dld, inverse: false);
        var y = dy.Download(); var ld = dld.Download().ToArray();
        Tensor<float> yCpu, ldCpu;
        using (GradMode.Disable())
        {
            var (yv, lv) = cpu.Apply(new Var<float>(x), new Var<float>(p), inverse: false);
            (yCpu, ldCpu) = (yv.Value, lv.Value);
        }
        Assert2.Close(yCpu, y, 1e-5, 1e-6, "UMNN y");
        var rowSums = Enumerable.Range(0, n).Select(r => ld.Skip(r * c).Take(c).Sum()).ToArray();
        Assert2.Close(ldCpu.ReadOnlySpan, rowSums, 1e-5, 1e-6, "UMNN log|det|");
        Assert.Contains(ld, v => Math.Abs(v) > 0.1); // the network is not the identity's

        // the inverse of the device's y against the CPU's solve of the same y, and inverse ∘ forward
        Tensor<float> xCpu, ldInvCpu;
        using (GradMode.Disable())
        {
            var (xv, lv) = cpu.Apply(new Var<float>(y), new Var<float>(p), inverse: true);
            (xCpu, ldInvCpu) = (xv.Value, lv.Value);
        }
        using var back = DeviceTensor.Zeros(_dev, n, c); using var ldBack = DeviceTensor.Zeros(_dev, n, c);
        umnn.Apply(dy, dp, back, ldBack, inverse: true);
        var xb = back.Download().ToArray(); var lb = ldBack.Download().ToArray();
        Assert2.Close(xCpu.ReadOnlySpan, xb, 1e-5, 1e-5, "UMNN inverse");
        Assert2.Close(ldInvCpu.ReadOnlySpan, Enumerable.Range(0, n).Select(r => lb.Skip(r * c).Take(c).Sum()).ToArray(), 1e-5, 1e-5, "UMNN inverse log|det|");
        var xs = x.ReadOnlySpan; var ys = y.ReadOnlySpan;
        for (int i = 0; i < xb.Length; i++)
        {
            // the solve's tolerance (8 float epsilons of max(1, |x|)) plus y's float rounding over the slope
            double bound = 2e-6 * Math.Max(1, Math.Abs(xs[i])) + 2.4e-7 * Math.Abs(ys[i]) * Math.Exp(-ld[i]);
            Assert.True(Math.Abs(xb[i] - xs[i]) <= bound, $"inverse(forward(x))[{i}]: {xb[i]} for x = {xs[i]} (bound {bound})");
            Assert.True(Math.Abs(lb[i] + ld[i]) <= 1e-5 * Math.Abs(ld[i]) + 1e-5, $"inverse log det[{i}] {lb[i]}, forward {ld[i]}");
        }
    }

    [Fact]
    public void InverseMapsNonFiniteTargetsToThemselvesAndThrowsWhereTheCpuThrows()
    {
        int n = 2, c = 3;
        var (cpu, network) = Bound(70);
        var (_, p) = Case(n, c, 71);
        float[] targets = [float.NaN, float.PositiveInfinity, float.NegativeInfinity, 0.5f, -4f, 30f];
        using var umnn = new DeviceUmnn(_dev, Settings, network);
        using var dy = Up(Tensor<float>.From(targets, n, c)); using var dp = Up(p);
        using var dx = DeviceTensor.Zeros(_dev, n, c); using var ld = DeviceTensor.Zeros(_dev, n, c);
        umnn.Apply(dy, dp, dx, ld, inverse: true);
        var x = dx.Download().ToArray();
        Assert.True(float.IsNaN(x[0]));
        Assert.Equal(float.PositiveInfinity, x[1]);
        Assert.Equal(float.NegativeInfinity, x[2]);
        Tensor<float> xCpu;
        using (GradMode.Disable()) xCpu = cpu.Apply(new Var<float>(Tensor<float>.From(targets.AsSpan(3), 1, c)), new Var<float>(Tensor<float>.From(p.ReadOnlySpan[(c * Settings.ParametersPerFeature)..], 1, c * Settings.ParametersPerFeature)), inverse: true).Output.Value;
        Assert2.Close(xCpu.ReadOnlySpan, x.AsSpan(3), 1e-5, 1e-5, "UMNN inverse of finite targets");

        // a NaN parameter makes the map NaN: the CPU's solve throws, and so does the device's, naming the update
        p.Span[3 * Settings.ParametersPerFeature + 1] = float.NaN; // β̃ of element 3 (a finite target)
        using var bad = Up(p);
        var e = Assert.Throws<ArgumentException>(() => umnn.Apply(dy, bad, dx, ld, inverse: true));
        Assert.Contains("UMNN update: the map is NaN", e.Message, StringComparison.Ordinal);
        using (GradMode.Disable())
            Assert.Throws<ArgumentException>(() => cpu.Apply(new Var<float>(Tensor<float>.From(targets, n, c)), new Var<float>(p), inverse: true));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void BackwardMatchesAutogradInDoubleForEveryParameter(int layers)
    {
        var settings = new UmnnUpdate(Settings.Embedding, Settings.Hidden, layers, Settings.Nodes, Settings.Tolerance);
        int n = 5, c = 3, m = settings.ParametersPerFeature;
        var (_, network) = Bound(60, settings);
        var (x, p) = Case(n, c, 61);
        var rng = new Rng(62);
        var gy = rng.Normal<float>(n, c); var gl = rng.Normal<float>(n);

        // autograd in double with the same weights: L = Σ gy·y + Σ_rows gl·log|det|
        var (cpu, weights) = settings.Bind<double>(new Rng(60));
        var cpuNet = (IntegrandNetwork<double>)weights!;
        foreach (var (d, f) in cpuNet.Parameters().Zip(network.Parameters()))
        {
            var fs = f.Value.ReadOnlySpan; var ds = d.Value.Span;
            for (int i = 0; i < ds.Length; i++) ds[i] = fs[i];
        }
        static Tensor<double> D2(Tensor<float> t, params int[] shape) => Tensor<double>.FromDoubles(t.ToArray().Select(v => (double)v).ToArray(), shape);
        var xv = new Var<double>(D2(x, n, c), requiresGrad: true);
        var pv = new Var<double>(D2(p, n, c * m), requiresGrad: true);
        var (yv, ldv) = cpu.Apply(xv, pv, inverse: false);
        var loss = Ops.Add(Ops.Sum(Ops.Mul(yv, new Var<double>(D2(gy, n, c)))), Ops.Sum(Ops.Mul(ldv, new Var<double>(D2(gl, n)))));
        loss.Backward();

        using var umnn = new DeviceUmnn(_dev, settings, network);
        using var dx = Up(x); using var dp = Up(p); using var dgy = Up(gy); using var dgl = Up(gl);
        using var gx = DeviceTensor.Zeros(_dev, n, c); using var gp = DeviceTensor.Zeros(_dev, n, c * m);
        DeviceOps.Fill(gx, float.NaN); DeviceOps.Fill(gp, float.NaN); // assigned, not accumulated
        foreach (var d in umnn.Parameters) DeviceOps.Fill(d.Grad, float.NaN);
        umnn.Backward(dx, dp, dgy, dgl, gx, gp);
        Close(xv.Grad!, gx.Download(), "UMNN dx");
        Close(pv.Grad!, gp.Download(), "UMNN dparams");
        var hosts = cpuNet.NamedParameters().ToList();
        Assert.Equal(hosts.Count, umnn.Parameters.Count);
        for (int i = 0; i < hosts.Count; i++)
        {
            var grad = new float[umnn.Parameters[i].Length];
            umnn.Parameters[i].Grad.CopyTo(grad);
            Close(hosts[i].Value.Grad!, Tensor<float>.From(grad, grad.Length), $"UMNN d{hosts[i].Key}");
            Assert.Contains(hosts[i].Value.Grad!.ToArray(), v => Math.Abs(v) > 1e-3);
        }
    }

    // float against double: relative 1e-4 of each value plus 1e-5 of the largest (sums over rows and nodes cancel)
    private static void Close(Tensor<double> expected, Tensor<float> actual, string what)
    {
        var e = expected.ToArray(); var a = actual.ToArray();
        Assert.Equal(e.Length, a.Length);
        double scale = e.Max(v => Math.Abs(v));
        for (int i = 0; i < e.Length; i++)
            Assert.True(Math.Abs(e[i] - a[i]) <= 1e-4 * Math.Abs(e[i]) + 1e-5 * scale, $"{what}[{i}]: double {e[i]}, device {a[i]}");
    }

    [Theory]
    [InlineData(nameof(DeviceUmnnKernels.Expand))]
    [InlineData(nameof(DeviceUmnnKernels.Combine))]
    [InlineData(nameof(DeviceUmnnKernels.Backward))]
    [InlineData(nameof(DeviceUmnnKernels.SolverStep))]
    public void KernelCompilesToPtx(string name) => PtxCompilationTests.CompilesToPtx(typeof(DeviceUmnnKernels), name);

    /// <summary>UMNN-MAF (D = 3, 2 layers, hidden 8; conditional on <paramref name="context"/> features) or two UMNN couplings, with every weight moved off its start.</summary>
    private static Flow<float> Build(string kind, int context = 0)
    {
        var rng = new Rng(41);
        var flow = kind switch
        {
            "maf" => FlowBuilders.Umnn<float>(D, layers: 2, hidden: 8, contextFeatures: context, rng: rng, update: Settings),
            "coupling" => new Flow<float>(new CompositeTransform<float>([
                new CouplingTransform<float>(CouplingMask.Half(D), Settings, rng, conditioner: new CouplingConditioner { HiddenFeatures = 8, HiddenLayers = 1 }),
                new CouplingTransform<float>(CouplingMask.Half(D, flip: true), Settings, rng, conditioner: new CouplingConditioner { HiddenFeatures = 8, HiddenLayers = 1 })]),
                new StandardNormal<float>(D)),
            _ => throw new ArgumentException(kind),
        };
        Perturb(flow.Parameters(), 42, 0.15);
        return flow;
    }

    private static Tensor<float> Data(int n, long seed)
    {
        var x = new Rng(seed).Normal<float>(n, D);
        var s = x.Span;
        for (int i = 0; i < s.Length; i++) s[i] = 1.4f * s[i] + 0.3f * (i % D);
        s[0] = 7f; s[4] = -6f; // tails
        return x;
    }

    public static TheoryData<string> Kinds => ["maf", "coupling"];

    [Theory]
    [MemberData(nameof(Kinds))]
    public void FlowScoresInvertsAndSamplesAsOnTheCpu(string kind)
    {
        // the MAF conditional on 2 context features (its MADEs read them; the update does not)
        var flow = Build(kind, context: kind == "maf" ? 2 : 0);
        var x = Data(16, 1);
        Tensor<float>? c = kind == "maf" ? new Rng(3).Normal<float>(16, 2) : null, cz = c is null ? null : new Rng(4).Normal<float>(8, 2);
        Var<float>? V(Tensor<float>? t) => t is null ? null : new Var<float>(t);
        float[] expected;
        using (GradMode.Disable()) expected = flow.LogProb(new Var<float>(x), V(c)).Value.ToArray();
        using var dflow = DeviceFlow.Compile(flow, _dev);
        Assert2.Close(expected, dflow.LogProb(x, c), 1e-4, 2e-4, $"{kind} log p");

        // the sampling direction from the same base points: the incremental MADE (MAF), then D full passes
        var z = new Rng(2).Normal<float>(8, D);
        z.Span[0] = 3.5f; z.Span[5] = -3f;
        Tensor<float> inverse;
        using (GradMode.Disable()) inverse = flow.Transform.Inverse(new Var<float>(z), V(cz)).X.Value;
        Assert2.Close(inverse, dflow.Inverse(z, cz), 1e-4, 1e-4, $"{kind} inverse");
        if (kind == "maf")
        {
            dflow.FullPassSampling = true;
            Assert2.Close(inverse, dflow.Inverse(z, cz), 1e-4, 1e-4, $"{kind} inverse (full passes)");
            dflow.FullPassSampling = false;
        }

        // device samples with their log-density from the inverse pass, scored by the CPU (the couplings: the MAF's
        // sampling runs the incremental inverse checked above, and each of its solves costs host round trips)
        if (kind != "coupling") return;
        using var xs = DeviceTensor.Zeros(_dev, 16, D); using var lq = DeviceTensor.Zeros(_dev, 16);
        dflow.Sample(xs, lq, seed: 4, firstRow: 0);
        var samples = xs.Download();
        Assert.All(samples.ToArray(), v => Assert.True(float.IsFinite(v)));
        float[] scored;
        using (GradMode.Disable()) scored = flow.LogProb(new Var<float>(samples)).Value.ToArray();
        Assert2.Close(scored, lq.Download().ReadOnlySpan, 1e-4, 2e-4, $"{kind} log q of the samples");
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void TrainingStepsMatchTheCpuAdamPath(string kind)
    {
        const int steps = 2;
        var (gpu, start) = DeviceFlowTests.StepsMatchTheCpuAdamPath(_dev, () => Build(kind), Data, 16, steps, 3e-3, kind);
        // the integrand networks (each layer's module "update") trained on the device too
        var named = gpu.NamedParameters().ToList();
        int i = 0;
        double moved = 0;
        foreach (var (name, p) in named)
        {
            if (name.Contains(".update.", StringComparison.Ordinal) || name.StartsWith("update.", StringComparison.Ordinal))
                moved = Math.Max(moved, p.Value.ToArray().Zip(start[i]).Max(t => Math.Abs(t.First - t.Second)));
            i++;
        }
        Assert.True(moved > steps * 5e-4, $"{kind}: the integrand networks moved by at most {moved}");
    }

    [Fact]
    public void UmnnTrainsThroughTrainingOptionsDeviceAsOnTheCpuAndFromACapturedGraphAsEagerly()
    {
        var data = new TrainingData<float>(Data(32, 3));
        var options = new TrainingOptions { Epochs = 1, BatchSize = 8, LearningRate = 3e-3, Seed = 5, ValidationFraction = 0.25 };
        (TrainingHistory, Flow<float>) Run(IFlowAccelerator? device)
        {
            var flow = Build("maf");
            return (new MaximumLikelihoodTrainer<float>(flow, options with { Device = device }).Fit(data), flow);
        }
        var (cpu, cpuFlow) = Run(null);
        var (eager, eagerFlow) = Run(_dev);
        DeviceTrainingTests.SameHistory(cpu, eager, "umnn");
        DeviceTrainingTests.SameWeights(cpuFlow, eagerFlow, 2e-3, "umnn");

        // the UMNN kernels are in the device's kernel set: steps replayed from a captured graph are the eager steps
        DeviceGraphTests.ReplayedStepsEqualEagerSteps(_dev, Run, eagerRun: (eager, eagerFlow)).Device.Dispose();
    }
}
