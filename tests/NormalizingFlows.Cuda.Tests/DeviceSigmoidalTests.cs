using NormalizingFlows.Autograd;
using NormalizingFlows.Data;
using NormalizingFlows.Distributions;
using NormalizingFlows.Flows;
using NormalizingFlows.Optim;
using NormalizingFlows.Tensors;
using NormalizingFlows.Training;
using NormalizingFlows.Transforms;
using NormalizingFlows.Transforms.Autoregressive;
using NormalizingFlows.Transforms.Coupling;
using NormalizingFlows.Transforms.Monotonic;

namespace NormalizingFlows.Cuda.Tests;

/// <summary>
/// NAF's sigmoidal update (<see cref="SigmoidalUpdate"/>) on ILGPU's CPU accelerator: the kernels against
/// <see cref="SigmoidalMap"/> (forward and log|det| in double, the inverse's safeguarded Newton against the CPU's float
/// solve, inverse ∘ forward, tails out to |x| = 10³⁰ and extreme parameters with no NaN, the backward against autograd
/// in double), and small NAF (MAF structure), sigmoidal-coupling and sigmoidal IAF flows against the CPU: log p, the
/// inverse from the same base points (incremental MADE and full passes), samples; training steps, a
/// <see cref="TrainingOptions.Device"/> run and its steps replayed from a captured graph.
/// </summary>
public sealed class DeviceSigmoidalTests(CpuAcceleratorFixture fixture) : IClassFixture<CpuAcceleratorFixture>
{
    private readonly ComputeDevice _dev = fixture.Device;
    private const int K = 4;
    private static readonly SigmoidalMap Map = new(K);

    private DeviceTensor Up(Tensor<float> t) => DeviceTensor.Upload(_dev, t);

    private static double[] ToDouble(ReadOnlySpan<float> v) => v.ToArray().Select(a => (double)a).ToArray();

    /// <summary>
    /// Parameters [n, c·3K]: normal, with extreme elements (slopes at the 10⁻³ floor and steep, offsets ±25, one
    /// dominant weight); inputs [n, c]: normal × 3 with tails out to ±50 and ±10³⁰.
    /// </summary>
    private static (Tensor<float> X, Tensor<float> P) Case(int n, int c, long seed)
    {
        var rng = new Rng(seed);
        var x = rng.Normal<float>(n, c);
        var p = rng.Normal<float>(n, c * 3 * K);
        foreach (ref var v in x.Span) v *= 3;
        var xs = x.Span; var ps = p.Span;
        float[] far = [50, -50, 1e30f, -1e30f, 20, -35, 0];
        for (int i = 0; i < far.Length && 2 * i + 1 < xs.Length; i++) xs[2 * i + 1] = far[i];
        for (int e = 0; e < n * c; e += 3)
        {
            int o = e * 3 * K;
            switch (e / 3 % 4)
            {
                case 0: for (int j = 0; j < K; j++) ps[o + j] = -40; break;         // slopes at the floor 1e−3
                case 1: ps[o] = 15; ps[o + K + 1] = 25; ps[o + K + 2] = -25; break;  // a steep component, far offsets
                case 2: ps[o + 2 * K] = 15; ps[o + 2 * K + 3] = -15; break;         // one weight dominant, one vanishing
            }
        }
        return (x, p);
    }

    [Fact]
    public void KernelsMatchTheSigmoidalMapFarOutAndAtExtremeParameters()
    {
        int n = 12, c = 3;
        var (x, p) = Case(n, c, 7);
        var args = DeviceFlowLayers.SigmoidalArgsOf(Map);
        var pd = ToDouble(p.ReadOnlySpan);
        var yRef = new double[n * c]; var ldRef = new double[n * c];
        Map.Forward<double>(ToDouble(x.ReadOnlySpan), pd, yRef, ldRef);

        using var dx = Up(x); using var dp = Up(p);
        using var dy = DeviceTensor.Zeros(_dev, n, c); using var dld = DeviceTensor.Zeros(_dev, n, c);
        DeviceSigmoidal.Apply(dx, dp, dy, dld, args);
        var y = dy.Download().ToArray(); var ld = dld.Download().ToArray();
        for (int i = 0; i < y.Length; i++)
        {
            Assert.True(float.IsFinite(y[i]) && float.IsFinite(ld[i]), $"forward[{i}] at x = {x.ReadOnlySpan[i]}: y {y[i]}, log det {ld[i]}");
            Assert.True(Math.Abs(y[i] - yRef[i]) <= 1e-6 * Math.Abs(yRef[i]) + 1e-7, $"y[{i}] at x = {x.ReadOnlySpan[i]}: double {yRef[i]}, device {y[i]}");
            Assert.True(Math.Abs(ld[i] - ldRef[i]) <= 1e-6 * Math.Abs(ldRef[i]) + 1e-7, $"log det[{i}] at x = {x.ReadOnlySpan[i]}: double {ldRef[i]}, device {ld[i]}");
        }
        Assert.Contains(ld, v => v < Math.Log(2e-3)); // the floor slope is reached

        // the inverse of the device's y against the CPU's float solve (the same Newton in double), and inverse ∘ forward
        var xCpu = new float[n * c]; var ldCpu = new float[n * c];
        Map.Inverse<float>(y, p.ReadOnlySpan, xCpu, ldCpu);
        using var back = DeviceTensor.Zeros(_dev, n, c); using var ldBack = DeviceTensor.Zeros(_dev, n, c);
        DeviceSigmoidal.Apply(dy, dp, back, ldBack, args with { Inverse = 1 });
        var xb = back.Download().ToArray(); var lb = ldBack.Download().ToArray();
        var xs = x.ReadOnlySpan;
        for (int i = 0; i < xb.Length; i++)
        {
            Assert.True(Math.Abs(xb[i] - xCpu[i]) <= 1e-6 * Math.Max(1, Math.Abs(xCpu[i])), $"inverse[{i}] of y = {y[i]}: CPU {xCpu[i]}, device {xb[i]}");
            Assert.True(Math.Abs(lb[i] - ldCpu[i]) <= 1e-6 * Math.Abs(ldCpu[i]) + 1e-7, $"inverse log det[{i}]: CPU {ldCpu[i]}, device {lb[i]}");
            // the solve's tolerance (8 float epsilons of max(1, |x|)) plus y's float rounding over the slope
            double bound = 2e-6 * Math.Max(1, Math.Abs(xs[i])) + 1.2e-7 * Math.Abs(y[i]) * Math.Exp(-ld[i]);
            Assert.True(Math.Abs(xb[i] - xs[i]) <= bound, $"inverse(forward(x))[{i}]: {xb[i]} for x = {xs[i]} (bound {bound})");
            Assert.True(Math.Abs(lb[i] + ld[i]) <= 1e-5 * Math.Abs(ld[i]) + 1e-5, $"inverse log det[{i}] {lb[i]}, forward {ld[i]}");
        }
    }

    [Fact]
    public void NonFiniteTargetsPassThroughAndNothingElseIsNaN()
    {
        // the CPU's solve: NaN stays NaN, ±∞ maps to ±∞; every finite y of extreme size has a finite inverse
        int n = 4, c = 2;
        var (_, p) = Case(n, c, 8);
        float[] targets = [float.NaN, float.PositiveInfinity, float.NegativeInfinity, 3e38f, -3e38f, 1e-30f, 60f, -1e6f];
        using var dy = Up(Tensor<float>.From(targets, n, c)); using var dp = Up(p);
        using var dx = DeviceTensor.Zeros(_dev, n, c); using var ld = DeviceTensor.Zeros(_dev, n, c);
        DeviceSigmoidal.Apply(dy, dp, dx, ld, DeviceFlowLayers.SigmoidalArgsOf(Map) with { Inverse = 1 });
        var x = dx.Download().ToArray();
        Assert.True(float.IsNaN(x[0]));
        Assert.Equal(float.PositiveInfinity, x[1]);
        Assert.Equal(float.NegativeInfinity, x[2]);
        var xCpu = new float[targets.Length - 3]; var ldCpu = new float[targets.Length - 3];
        Map.Inverse<float>(targets.AsSpan(3), p.ReadOnlySpan[(3 * 3 * K)..], xCpu, ldCpu);
        var lds = ld.Download().ToArray();
        for (int i = 3; i < targets.Length; i++)
        {
            Assert.True(float.IsFinite(lds[i]), $"inverse log det of y = {targets[i]}: {lds[i]}");
            Assert.True(x[i] == xCpu[i - 3] || Math.Abs(x[i] - xCpu[i - 3]) <= 1e-6 * Math.Abs(xCpu[i - 3]), $"inverse of y = {targets[i]}: CPU {xCpu[i - 3]}, device {x[i]}");
        }
    }

    [Fact]
    public void BackwardMatchesAutogradInDouble()
    {
        int n = 10, c = 3, m = 3 * K;
        var (x, p) = Case(n, c, 9);
        var xs = x.Span;
        for (int i = 0; i < xs.Length; i++) if (Math.Abs(xs[i]) > 1e3) xs[i] = Math.Sign(xs[i]) * 40f; // gradients at finite slopes
        var rng = new Rng(10);
        var gy = rng.Normal<float>(n, c); var gl = rng.Normal<float>(n);

        // autograd: L = Σ gy·y + Σ_rows gl·log|det| through SigmoidalUpdate in double
        var xv = new Var<double>(Tensor<double>.FromDoubles(ToDouble(x.ReadOnlySpan), n, c), requiresGrad: true);
        var pv = new Var<double>(Tensor<double>.FromDoubles(ToDouble(p.ReadOnlySpan), n, c * m), requiresGrad: true);
        var (yv, ldv) = new SigmoidalUpdate(K).Apply(xv, pv, inverse: false);
        var loss = Ops.Add(Ops.Sum(Ops.Mul(yv, new Var<double>(Tensor<double>.FromDoubles(ToDouble(gy.ReadOnlySpan), n, c)))),
            Ops.Sum(Ops.Mul(ldv, new Var<double>(Tensor<double>.FromDoubles(ToDouble(gl.ReadOnlySpan), n)))));
        loss.Backward();

        using var dx = Up(x); using var dp = Up(p); using var dgy = Up(gy); using var dgl = Up(gl);
        using var gx = DeviceTensor.Zeros(_dev, n, c); using var gp = DeviceTensor.Zeros(_dev, n, c * m);
        DeviceOps.Fill(gp, float.NaN); // assigned, not accumulated
        DeviceSigmoidal.Backward(dx, dp, dgy, dgl, gx, gp, DeviceFlowLayers.SigmoidalArgsOf(Map));
        Assert2.Close(xv.Grad!.ReadOnlySpan.ToArray().Select(v => (float)v).ToArray(), gx.Download().ReadOnlySpan, 1e-6, 1e-7, "sigmoidal dx");
        Assert2.Close(pv.Grad!.ReadOnlySpan.ToArray().Select(v => (float)v).ToArray(), gp.Download().ReadOnlySpan, 1e-6, 1e-7, "sigmoidal dparams");
        Assert.Contains(pv.Grad!.ReadOnlySpan.ToArray(), v => Math.Abs(v) > 1e-2);
    }

    [Theory]
    [InlineData(nameof(DeviceSigmoidalKernels.Apply))]
    [InlineData(nameof(DeviceSigmoidalKernels.Backward))]
    public void KernelCompilesToPtx(string name) => PtxCompilationTests.CompilesToPtx(typeof(DeviceSigmoidalKernels), name);

    /// <summary>NAF (D = 3, 2 layers, K = 4, hidden 8), two sigmoidal couplings or two sigmoidal IAF layers, with every weight moved off its start.</summary>
    private static Flow<float> Build(string kind)
    {
        const int d = 3;
        var rng = new Rng(31);
        var flow = kind switch
        {
            "naf" => FlowBuilders.Naf<float>(d, layers: 2, hidden: 8, components: K, rng: rng),
            "coupling" => new Flow<float>(new CompositeTransform<float>([
                new CouplingTransform<float>(CouplingMask.Half(d), new SigmoidalUpdate(3), rng, conditioner: new CouplingConditioner { HiddenFeatures = 8, HiddenLayers = 1 }),
                new CouplingTransform<float>(CouplingMask.Half(d, flip: true), new SigmoidalUpdate(3), rng, conditioner: new CouplingConditioner { HiddenFeatures = 8, HiddenLayers = 1 })]),
                new StandardNormal<float>(d)),
            "iaf" => new Flow<float>(new CompositeTransform<float>([
                new InverseAutoregressiveTransform<float>(d, new SigmoidalUpdate(3), rng, conditioner: new MadeConditioner { HiddenFeatures = 8 }),
                new InverseAutoregressiveTransform<float>(d, new SigmoidalUpdate(3), rng, conditioner: new MadeConditioner { HiddenFeatures = 8 })]),
                new StandardNormal<float>(d)),
            _ => throw new ArgumentException(kind),
        };
        var noise = new Rng(32);
        foreach (var p in flow.Parameters())
        {
            var s = p.Value.Span;
            for (int i = 0; i < s.Length; i++) s[i] += (float)(0.15 * noise.NextNormal());
        }
        return flow;
    }

    private static Tensor<float> Data(int n, long seed)
    {
        var x = new Rng(seed).Normal<float>(n, 3);
        var s = x.Span;
        for (int i = 0; i < s.Length; i++) s[i] = 1.4f * s[i] + 0.3f * (i % 3);
        s[0] = 12f; s[4] = -9f; // tails
        return x;
    }

    public static TheoryData<string> Kinds => ["naf", "coupling"];

    public static TheoryData<string> ScoredKinds => ["naf", "coupling", "iaf"];

    [Theory]
    [MemberData(nameof(ScoredKinds))]
    public void FlowScoresInvertsAndSamplesAsOnTheCpu(string kind)
    {
        var flow = Build(kind);
        var x = Data(24, 1);
        float[] expected;
        using (GradMode.Disable()) expected = flow.LogProb(new Var<float>(x)).Value.ToArray();
        using var dflow = DeviceFlow.Compile(flow, _dev);
        Assert2.Close(expected, dflow.LogProb(x), 1e-4, 2e-4, $"{kind} log p");

        // the sampling direction from the same base points: the incremental MADE (NAF), then D full passes
        var z = new Rng(2).Normal<float>(16, 3);
        z.Span[0] = 5.5f; z.Span[5] = -6f;
        Tensor<float> inverse;
        using (GradMode.Disable()) inverse = flow.Transform.Inverse(new Var<float>(z)).X.Value;
        Assert2.Close(inverse, dflow.Inverse(z), 1e-4, 1e-4, $"{kind} inverse");
        if (kind == "naf")
        {
            dflow.FullPassSampling = true;
            Assert2.Close(inverse, dflow.Inverse(z), 1e-4, 1e-4, $"{kind} inverse (full passes)");
            dflow.FullPassSampling = false;
        }

        // device samples with their log-density from the inverse pass, scored by the CPU
        using var xs = DeviceTensor.Zeros(_dev, 32, 3); using var lq = DeviceTensor.Zeros(_dev, 32);
        dflow.Sample(xs, lq, seed: 4, firstRow: 0);
        var samples = xs.Download();
        Assert.All(samples.ToArray(), v => Assert.True(float.IsFinite(v)));
        float[] scored;
        using (GradMode.Disable()) scored = flow.LogProb(new Var<float>(samples)).Value.ToArray();
        Assert2.Close(scored, lq.Download().ReadOnlySpan, 1e-4, 2e-4, $"{kind} log q of the samples");
    }

    [Fact]
    public void ConditionalNafScoresAndInvertsAsOnTheCpu()
    {
        var flow = FlowBuilders.Naf<float>(3, layers: 2, hidden: 8, components: K, contextFeatures: 2, rng: new Rng(33));
        var noise = new Rng(34);
        foreach (var p in flow.Parameters())
            foreach (ref var v in p.Value.Span) v += (float)(0.15 * noise.NextNormal());
        var x = Data(16, 5);
        var c = new Rng(35).Normal<float>(16, 2);
        var z = new Rng(36).Normal<float>(16, 3);
        float[] expected;
        Tensor<float> inverse;
        using (GradMode.Disable())
        {
            expected = flow.LogProb(new Var<float>(x), new Var<float>(c)).Value.ToArray();
            inverse = flow.Transform.Inverse(new Var<float>(z), new Var<float>(c)).X.Value;
        }
        using var dflow = DeviceFlow.Compile(flow, _dev);
        Assert2.Close(expected, dflow.LogProb(x, c), 1e-4, 2e-4, "conditional naf log p");
        Assert2.Close(inverse, dflow.Inverse(z, c), 1e-4, 1e-4, "conditional naf inverse");
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void TrainingStepsMatchTheCpuAdamPath(string kind)
    {
        DeviceFlowTests.StepsMatchTheCpuAdamPath(_dev, () => Build(kind), Data, 32, 4, 3e-3, kind);
    }

    [Fact]
    public void NafTrainsThroughTrainingOptionsDeviceAsOnTheCpuAndFromACapturedGraphAsEagerly()
    {
        var data = new TrainingData<float>(Data(64, 3));
        var options = new TrainingOptions { Epochs = 1, BatchSize = 16, LearningRate = 3e-3, Seed = 5, ValidationFraction = 0.25 };
        (TrainingHistory, Flow<float>) Run(IFlowAccelerator? device)
        {
            var flow = Build("naf");
            return (new MaximumLikelihoodTrainer<float>(flow, options with { Device = device }).Fit(data), flow);
        }
        var (cpu, cpuFlow) = Run(null);
        var (eager, eagerFlow) = Run(_dev);
        DeviceTrainingTests.SameHistory(cpu, eager, "naf");
        DeviceTrainingTests.SameWeights(cpuFlow, eagerFlow, 2e-3, "naf");

        // the sigmoidal kernels are in the device's kernel set: steps replayed from a captured graph are the eager steps
        var (device, recorder, graphFlow) = DeviceGraphTests.ReplayedStepsEqualEagerSteps(_dev, Run, eagerRun: (eager, eagerFlow));
        using var _ = device;

        // NAF samples with the incremental MADE (its per-layer weight gathers, one sigmoidal inverse per position), not D full passes
        using var dflow = DeviceFlow.Compile(graphFlow, device);
        var z = new Rng(6).Normal<float>(8, 3);
        List<string> Launches(bool fullPasses)
        {
            dflow.FullPassSampling = fullPasses;
            recorder.Log = [];
            dflow.Inverse(z);
            var log = recorder.Log;
            recorder.Log = null;
            return log;
        }
        var incremental = Launches(false);
        Assert.Contains(incremental, l => l.StartsWith("Gather2D(", StringComparison.Ordinal));
        Assert.Equal(2 * 3, incremental.Count(l => l.StartsWith("SigmoidalApply(", StringComparison.Ordinal)));
        Assert.DoesNotContain(Launches(true), l => l.StartsWith("Gather2D(", StringComparison.Ordinal));
    }
}
