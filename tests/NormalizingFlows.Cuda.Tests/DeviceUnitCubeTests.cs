using NormalizingFlows.Autograd;
using NormalizingFlows.Distributions;
using NormalizingFlows.Flows;
using NormalizingFlows.Nn;
using NormalizingFlows.Optim;
using NormalizingFlows.Tensors;
using NormalizingFlows.Training;
using NormalizingFlows.Transforms;
using NormalizingFlows.Transforms.Coupling;
using NormalizingFlows.Transforms.Splines;

namespace NormalizingFlows.Cuda.Tests;

/// <summary>
/// Unit-hypercube flows on ILGPU's CPU accelerator (the i-flow of FlowIntegrator): the unit-interval spline with
/// learnable boundary derivatives and linear tails against the library's spline (double reference and the float
/// path; values, log-det, inverse, parameter gradients), the uniform stream against its formula (blocks and shards),
/// the unit-cube flow's samples and log q against the host inverse of the same draws, and one round of each
/// sampled-divergence loss against SampledDivergenceLoss in the library's training loop (losses at every step, the
/// first step's gradients, the final weights); the same sampling and rounds for a flow conditioned on a one-hot
/// context (the multichannel integrator's); a loss computed on the host from the device's log q (DeviceUnitCubeTests.HostLoss.cs).
/// </summary>
public sealed partial class DeviceUnitCubeTests(CpuAcceleratorFixture fixture) : IClassFixture<CpuAcceleratorFixture>
{
    private readonly ComputeDevice _dev = fixture.Device;

    private DeviceTensor Up(Tensor<float> t) => DeviceTensor.Upload(_dev, t);

    private static RationalQuadraticSpline Spline => new(5, SplineDomain.UnitInterval);

    private static double[] ToDouble(ReadOnlySpan<float> v) => v.ToArray().Select(a => (double)a).ToArray();

    /// <summary>Points on [−0.2, 1.2] with both edges and both tails.</summary>
    private static Tensor<float> Inputs(Rng rng, int n, int k)
    {
        var x = rng.Uniform<float>([n, k], -0.2, 1.2);
        var xs = x.Span;
        xs[0] = -0.15f; xs[1] = 1.1f; xs[2] = 0f; xs[3] = 1f; xs[4] = 0.5f;
        return x;
    }

    [Fact]
    public void UnitIntervalSplineMatchesTheLibrarySplineWithItsBoundaryDerivativesAndTails()
    {
        var rng = new Rng(21);
        int n = 16, k = 3, m = Spline.ParametersPerElement;
        Assert.Equal(3 * 5 + 1, m);
        var x = Inputs(rng, n, k);
        var p = rng.Normal<float>(n, k * m);
        var pd = ToDouble(p.ReadOnlySpan);
        var yRef = new double[n * k]; var ldRef = new double[n * k];
        Spline.Forward<double>(ToDouble(x.ReadOnlySpan), pd, yRef, ldRef);
        var yFloat = new float[n * k]; var ldFloat = new float[n * k];
        Spline.Forward<float>(x.ReadOnlySpan, p.ReadOnlySpan, yFloat, ldFloat);

        var args = DeviceFlowLayers.SplineArgsOf(Spline);
        Assert.Equal(1, args.Boundary);
        using var dx = Up(x); using var dp = Up(p);
        using var dy = DeviceTensor.Zeros(_dev, n, k); using var dld = DeviceTensor.Zeros(_dev, n, k);
        DeviceOps.Spline(dx, dp, dy, dld, args);
        var y = dy.Download().ReadOnlySpan; var ld = dld.Download().ReadOnlySpan;
        Assert2.Close(yRef.Select(v => (float)v).ToArray(), y, 1e-5, 2e-6, "spline y (double reference)");
        Assert2.Close(ldRef.Select(v => (float)v).ToArray(), ld, 1e-4, 2e-5, "spline log det (double reference)");
        Assert2.Close(yFloat, y, 1e-5, 2e-6, "spline y (float path)");
        Assert2.Close(ldFloat, ld, 1e-4, 2e-5, "spline log det (float path)");
        // the tails are linear with the learnt boundary slopes, not the identity
        Assert.NotEqual(-0.15f, y[0]);
        Assert.NotEqual(0f, ld[1]);

        // the inverse of the same y against the double reference: a few float ulps of y times the inverse's slope
        using var dyRef = Up(Tensor<float>.From(yFloat, n, k));
        using var back = DeviceTensor.Zeros(_dev, n, k); using var ldInv = DeviceTensor.Zeros(_dev, n, k);
        DeviceOps.Spline(dyRef, dp, back, ldInv, args with { Inverse = 1 });
        var yd = ToDouble(yFloat); var xd = new double[n * k]; var ldd = new double[n * k];
        Spline.Inverse<double>(yd, pd, xd, ldd);
        var xDev = back.Download().ReadOnlySpan; var ldDev = ldInv.Download().ReadOnlySpan;
        for (int i = 0; i < xd.Length; i++)
        {
            double bound = 1e-5 + 8 * 1.2e-7 * Math.Max(Math.Abs(yd[i]), 1) * Math.Exp(ldd[i]);
            Assert.True(Math.Abs(xDev[i] - xd[i]) <= bound, $"spline inverse[{i}]: double {xd[i]}, device {xDev[i]} (bound {bound})");
            Assert.True(Math.Abs(ldDev[i] - ldd[i]) <= 2e-5 + 1e-4 * Math.Abs(ldd[i]), $"spline inverse log det[{i}]: double {ldd[i]}, device {ldDev[i]}");
        }
        // inverse ∘ forward on the device
        DeviceOps.Spline(dy, dp, back, ldInv, args with { Inverse = 1 });
        Assert2.Close(x.ReadOnlySpan, back.Download().ReadOnlySpan, 1e-4, 1e-4, "inverse(forward(x))");
    }

    [Fact]
    public void UnitIntervalSplineBackwardMatchesSplineOpGradientsIncludingTheBoundaryDerivatives()
    {
        var rng = new Rng(22);
        int n = 12, k = 2, m = Spline.ParametersPerElement;
        var x = new Var<float>(Inputs(rng, n, k), requiresGrad: true);
        var p = new Var<float>(rng.Normal<float>(n, k * m), requiresGrad: true);
        var (y, ld) = SplineOp.Apply(Spline, x, p);
        var gy = rng.Normal<float>(n, k); var gl = rng.Normal<float>(n);
        Ops.Add(Ops.Sum(Ops.Mul(y, new Var<float>(gy))), Ops.Sum(Ops.Mul(ld, new Var<float>(gl)))).Backward();

        var args = DeviceFlowLayers.SplineArgsOf(Spline);
        using var dx = Up(x.Value); using var dp = Up(p.Value); using var dgy = Up(gy); using var dgl = Up(gl);
        using var gx = DeviceTensor.Zeros(_dev, n, k); using var gp = DeviceTensor.Zeros(_dev, n, k * m);
        DeviceOps.SplineBackward(dx, dp, dgy, dgl, gx, gp, args);
        Assert2.Close(x.Grad!, gx.Download(), 1e-4, 1e-4, "spline dx");
        var g = gp.Download();
        Assert2.Close(p.Grad!, g, 1e-3, 1e-4, "spline dparams");
        // the boundary derivatives' parameters (2K and 3K of each element) get gradients, in the tails too
        Assert.NotEqual(0f, g.ReadOnlySpan[2 * 5]);
        Assert.NotEqual(0f, g.ReadOnlySpan[m + 3 * 5]);
    }

    [Fact]
    public void PiecewiseLinearSplineMatchesTheLibrarySplineForwardInverseAndBackward()
    {
        var spline = new PiecewiseLinearSpline(6);
        var rng = new Rng(23);
        var x = Inputs(rng, 16, 3);
        x.Span[5] = 1.2f; // the right tail
        x.Span[4] = 0.45f; // not on a knot (at a knot the density jumps: the inverse's log|det| is either bin's)
        // the inverse's slope is at most 1/(K·min mass): a few float ulps of y times it
        CheckSplineKernels(spline, new DeviceUpdate(new LinearSplineArgs(spline.Bins, (float)spline.MinBinMass, 0, 0)), x, rng, "linear spline",
            forwardLogDetRel: 1e-5, inverseBound: (y, ld) => 1e-5 + 8 * 1.2e-7 * Math.Exp(ld), inverseLogDetSlack: (ld, bound) => 2e-5 + 1e-5 * Math.Abs(ld));
    }

    [Fact]
    public void PiecewiseQuadraticSplineMatchesTheLibrarySplineForwardInverseAndBackward()
    {
        var spline = new PiecewiseQuadraticSpline(5);
        Assert.Equal(11, spline.ParametersPerElement);
        var rng = new Rng(24);
        var x = Inputs(rng, 16, 3);
        x.Span[5] = 1.2f; // the right tail
        CheckSplineKernels(spline, new DeviceUpdate(new QuadraticSplineArgs(spline.Bins, (float)spline.MinBinWidth, (float)spline.MinDensity, 0, 0)), x, rng, "quadratic spline",
            forwardLogDetRel: 1e-4, inverseBound: (y, ld) => 1e-5 + 8 * 1.2e-7 * Math.Max(Math.Abs(y), 1) * Math.Exp(ld),
            inverseLogDetSlack: (ld, bound) => 2e-5 + 1e-4 * Math.Abs(ld) + bound);
    }

    /// <summary>
    /// A unit-interval spline's device kernels (<paramref name="update"/>) against the library's <paramref name="spline"/>:
    /// forward values and log-det against the double reference; the inverse of the same y against the double inverse
    /// (within <paramref name="inverseBound"/>(y, log|det| of the inverse) per element, its log-det within
    /// <paramref name="inverseLogDetSlack"/>(that log-det, the bound)); inverse ∘ forward on the device; the backward
    /// (x and parameter gradients) against SplineOp's autograd.
    /// </summary>
    private void CheckSplineKernels(IElementwiseSpline spline, DeviceUpdate update, Tensor<float> x, Rng rng, string name, double forwardLogDetRel,
        Func<float, double, double> inverseBound, Func<double, double, double> inverseLogDetSlack)
    {
        int n = x.Dim(0), k = x.Dim(1), m = spline.ParametersPerElement;
        var p = rng.Normal<float>(n, k * m);
        var pd = ToDouble(p.ReadOnlySpan);
        var yRef = new double[n * k]; var ldRef = new double[n * k];
        spline.Forward<double>(ToDouble(x.ReadOnlySpan), pd, yRef, ldRef);
        using var dx = Up(x); using var dp = Up(p);
        using var dy = DeviceTensor.Zeros(_dev, n, k); using var dld = DeviceTensor.Zeros(_dev, n, k);
        update.Apply(dx, dp, dy, dld, inverse: false);
        Assert2.Close(yRef.Select(v => (float)v).ToArray(), dy.Download().ReadOnlySpan, 1e-5, 2e-6, $"{name} y");
        Assert2.Close(ldRef.Select(v => (float)v).ToArray(), dld.Download().ReadOnlySpan, forwardLogDetRel, 2e-5, $"{name} log det");

        var yFloat = yRef.Select(v => (float)v).ToArray();
        using var dyRef = Up(Tensor<float>.From(yFloat, n, k));
        using var back = DeviceTensor.Zeros(_dev, n, k); using var ldInv = DeviceTensor.Zeros(_dev, n, k);
        update.Apply(dyRef, dp, back, ldInv, inverse: true);
        var xd = new double[n * k]; var ldd = new double[n * k];
        spline.Inverse<double>(ToDouble(yFloat), pd, xd, ldd);
        var xDev = back.Download().ReadOnlySpan; var ldDev = ldInv.Download().ReadOnlySpan;
        for (int i = 0; i < xd.Length; i++)
        {
            double bound = inverseBound(yFloat[i], ldd[i]);
            Assert.True(Math.Abs(xDev[i] - xd[i]) <= bound, $"{name} inverse[{i}]: double {xd[i]}, device {xDev[i]} (bound {bound})");
            Assert.True(Math.Abs(ldDev[i] - ldd[i]) <= inverseLogDetSlack(ldd[i], bound), $"{name} inverse log det[{i}]: double {ldd[i]}, device {ldDev[i]}");
        }
        update.Apply(dy, dp, back, ldInv, inverse: true);
        Assert2.Close(x.ReadOnlySpan, back.Download().ReadOnlySpan, 1e-4, 1e-4, "inverse(forward(x))");

        var xv = new Var<float>(x, requiresGrad: true);
        var pv = new Var<float>(p, requiresGrad: true);
        var (y, ld) = SplineOp.Apply(spline, xv, pv);
        var gy = rng.Normal<float>(n, k); var gl = rng.Normal<float>(n);
        Ops.Add(Ops.Sum(Ops.Mul(y, new Var<float>(gy))), Ops.Sum(Ops.Mul(ld, new Var<float>(gl)))).Backward();
        using var dgy = Up(gy); using var dgl = Up(gl);
        using var gx = DeviceTensor.Zeros(_dev, n, k); using var gp = DeviceTensor.Zeros(_dev, n, k * m);
        update.Backward(dx, dp, dgy, dgl, gx, gp);
        Assert2.Close(xv.Grad!, gx.Download(), 1e-4, 1e-4, $"{name} dx");
        Assert2.Close(pv.Grad!, gp.Download(), 1e-3, 1e-4, $"{name} dparams");
    }

    private static ulong Mix(ulong z)
    {
        z += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    [Fact]
    public void TheUniformStreamIsItsFormulaAndBlocksAndShardsAreItsRows()
    {
        const int rows = 40, cols = 3;
        using var whole = DeviceTensor.Zeros(_dev, rows, cols);
        DeviceOps.UniformNoise(whole, NoiseArgs.Rows(11, 0, cols));
        var all = whole.Download().ToArray();
        for (int i = 0; i < all.Length; i++)
        {
            double expected = (Mix(11UL ^ Mix((ulong)(2 * i + 1))) >> 40) / 16777216.0;
            Assert.Equal(expected, all[i]);
            Assert.InRange(all[i], 0f, 1f - 1e-7f);
        }
        Assert.InRange(all.Average(), 0.4, 0.6);
        using var block = DeviceTensor.Zeros(_dev, 13, cols);
        DeviceOps.UniformNoise(block, NoiseArgs.Rows(11, 17, cols));
        Assert.Equal(all.AsSpan(17 * cols, 13 * cols).ToArray(), block.Download().ToArray());
        // shard 1 of 2 of 4 context rows × 10 samples: samples 6 … 9 of each
        using var shard = DeviceTensor.Zeros(_dev, 16, cols);
        DeviceOps.UniformNoise(shard, new NoiseArgs(11, 0, 4, 10, 6, cols));
        var expectedShard = Enumerable.Range(0, 4).SelectMany(c => all.AsSpan((c * 10 + 6) * cols, 4 * cols).ToArray()).ToArray();
        Assert.Equal(expectedShard, shard.Download().ToArray());
    }

    /// <summary>A 3-D unit-cube flow of four unit-interval spline couplings (conditioned on <paramref name="context"/> features when given), its weights moved off the identity.</summary>
    internal static Flow<float> UnitFlow(int seed, int d = 3, int context = 0)
    {
        var rng = new Rng(seed);
        var spline = new RationalQuadraticSpline(4, SplineDomain.UnitInterval);
        var conditioner = new ConditionerOptions { HiddenFeatures = 8, HiddenLayers = 2, Activation = Activation.Relu };
        var masks = new[] { CouplingMask.Custom([.. Enumerable.Range(0, d).Select(j => j % 2 == 1)]), CouplingMask.Custom([.. Enumerable.Range(0, d).Select(j => j >= d / 2)]) };
        var layers = masks.SelectMany(m => new[] { m, m.Flipped() })
            .Select(m => (Transform<float>)new SplineCoupling<float>(m, spline, rng, context, conditioner)).ToArray();
        var flow = new Flow<float>(new CompositeTransform<float>(layers), BoxUniform<float>.UnitCube(d));
        var noise = new Rng(seed + 1000);
        foreach (var p in flow.Parameters())
        {
            var s = p.Value.Span;
            for (int i = 0; i < s.Length; i++) s[i] += (float)(0.3 * noise.NextNormal());
        }
        flow.Eval();
        return flow;
    }

    [Fact]
    public void UnitCubeSamplesAreTheHostInverseOfTheUniformDrawsWithTheirLogQ()
    {
        var flow = UnitFlow(3);
        const int n = 50, d = 3;
        using var dflow = DeviceFlow.Compile(flow, _dev);
        Assert.True(dflow.UnitCubeBase);
        using var x = DeviceTensor.Zeros(_dev, n, d); using var logq = DeviceTensor.Zeros(_dev, n);
        dflow.Sample(x, logq, seed: 9);
        using var z = DeviceTensor.Zeros(_dev, n, d);
        DeviceOps.UniformNoise(z, NoiseArgs.Rows(9, 0, d));
        var (xHost, ldInverse) = flow.Transform.Inverse(new Var<float>(z.Download()));
        var expectedX = xHost.Value.ToArray().Select(v => Math.Clamp(v, 0f, 1f)).ToArray();
        var expectedLogQ = ldInverse.Value.ToArray().Select(v => -v).ToArray();
        Assert2.Close(expectedX, x.Download().ReadOnlySpan, 1e-4, 1e-4, "x");
        Assert2.Close(expectedLogQ, logq.Download().ReadOnlySpan, 1e-4, 1e-4, "log q");
        Assert.True(expectedLogQ.Select(Math.Abs).Max() > 0.1, "the flow is not the identity");

        // the same through IAcceleratedFlow, a later block of the stream, and log q by the density direction
        using var accelerated = _dev.Compile(flow);
        var (xs, lq) = accelerated.SampleUnitCube(20, seed: 9, firstRow: 30);
        Assert.Equal(x.Download().ToArray().AsSpan(30 * d, 20 * d).ToArray(), xs.ToArray());
        Assert.Equal(logq.Download().ToArray().AsSpan(30, 20).ToArray(), lq.ToArray());
        var host = flow.LogProb(new Var<float>(xs)).Value;
        Assert2.Close(host, Tensor<float>.From(accelerated.LogProb(xs), 20), 1e-4, 1e-3, "log q of the samples");
        Assert2.Close(lq, Tensor<float>.From(accelerated.LogProb(xs), 20), 1e-3, 1e-3, "log q, inverse against forward");
        // outside the cube the base density is 0
        var outside = Tensor<float>.From([0.5f, 1.5f, 0.5f], 1, d);
        Assert.Equal(float.NegativeInfinity, accelerated.LogProb(outside)[0]);
    }

    [Fact]
    public void AMaximumLikelihoodStepOfAUnitCubeFlowGivesTheCpusLossAndGradients()
    {
        var host = UnitFlow(6);
        var x = new Rng(7).Uniform<float>([40, 3]);
        using var dflow = DeviceFlow.Compile(host, _dev);
        using var dx = Up(x);
        float loss = dflow.TrainStep(dx, 1e-3, readLoss: true)!.Value;
        var cpuLoss = Ops.Neg(Ops.Mean(host.LogProb(new Var<float>(x))));
        cpuLoss.Backward();
        Assert.Equal(cpuLoss.Value[0], loss, 1e-4 * Math.Abs(cpuLoss.Value[0]) + 1e-5);
        foreach (var (h, dev) in dflow.Pairs(host))
        {
            Assert2.Close(h.Weight.Grad!, dev.GW.Download(), 1e-3, 1e-4 * h.Weight.Grad!.ToArray().Max(Math.Abs) + 1e-7, "weight gradient");
            Assert2.Close(h.Bias!.Grad!, dev.GB.Download(), 1e-3, 1e-4 * h.Bias!.Grad!.ToArray().Max(Math.Abs) + 1e-7, "bias gradient");
        }
    }

    [Fact]
    public void AStandardNormalFlowRefusesUnitCubeSamplingAndOtherBoxesAreRefusedByName()
    {
        var normal = new Flow<float>(((CompositeTransform<float>)UnitFlow(4).Transform), new StandardNormal<float>(3));
        using var accelerated = _dev.Compile(normal);
        var e = Assert.Throws<NotSupportedException>(() => accelerated.SampleUnitCube(4, 1));
        Assert.Contains("unit-cube", e.Message);
        var box = new Flow<float>(UnitFlow(4).Transform, new BoxUniform<float>([0, 0, 0], [2, 1, 1]));
        e = Assert.Throws<NotSupportedException>(() => DeviceFlow.Compile(box, _dev));
        Assert.Contains("BoxUniform on a box other than the unit cube", e.Message);
    }

    private sealed class Losses : IProgress<TrainingProgress>
    {
        public List<double> Values { get; } = [];

        public void Report(TrainingProgress value)
        {
            if (!value.EndOfEpoch) Values.Add(value.Loss);
        }
    }

    private static double Camel(ReadOnlySpan<float> x)
    {
        double a = 0, b = 0;
        for (int j = 0; j < x.Length; j++) { a += (x[j] - 0.3) * (x[j] - 0.3); b += (x[j] - 0.7) * (x[j] - 0.7); }
        return x[0] < 0.15f ? 0 : Math.Exp(-a / 0.05) + Math.Exp(-b / 0.05);
    }

    /// <summary>A round's points (uniform), f at them, and a log q_old that is not the flow's own.</summary>
    private static (Tensor<float> X, Tensor<float> LogQOld, double[] F) Round(Flow<float> flow, int n)
    {
        var rng = new Rng(31);
        var x = rng.Uniform<float>([n, 3]);
        using var _ = GradMode.Disable();
        var lq = flow.Transform.Forward(new Var<float>(x)).LogAbsDet.Value.Clone();
        var s = lq.Span;
        for (int i = 0; i < n; i++) s[i] += (float)(0.2 * rng.NextNormal());
        var f = new double[n];
        for (int i = 0; i < n; i++) f[i] = Camel(x.ReadOnlySpan.Slice(3 * i, 3));
        return (x.Untrack(), lq.Untrack(), f);
    }

    [Theory]
    [InlineData(Divergence.KullbackLeibler, 1.0)]
    [InlineData(Divergence.Variance, 1.0)]
    [InlineData(Divergence.Exponential, 0.5)]
    public void ARoundOfEachLossGivesTheCpusLossesGradientsAndWeights(Divergence divergence, double beta)
    {
        const int n = 64, steps = 4;
        var cpu = UnitFlow(5);
        var (x, lqOld, f) = Round(cpu, n);
        var (_, coefficient, aux) = SampledDivergenceLoss<float>.RoundCoefficients(divergence, f, lqOld.ReadOnlySpan, beta);
        Assert.Contains(f, v => v == 0);

        // the first step's gradients: the device's against autograd's through SampledDivergenceLoss (no clipping)
        {
            var host = UnitFlow(5);
            using var dflow = DeviceFlow.Compile(host, _dev);
            using var dx = Up(x); using var dc = Up(coefficient!); using var da = Up(aux!);
            dflow.DivergenceStep(dx, dc, da, divergence switch { Divergence.Variance => 1, Divergence.Exponential => 2, _ => 0 }, 1e-3, null);
            var loss = new SampledDivergenceLoss<float>(v => host.Transform.Forward(v).LogAbsDet, () => (x, lqOld), _ => f, divergence, 1) { Exponent = _ => beta };
            new TrainingLoop<float>(host, new TrainingOptions { Steps = 1, LearningRate = 1e-3, ClipNorm = null, ReportEverySteps = int.MaxValue }).Fit(loss, 1);
            foreach (var (h, dev) in dflow.Pairs(host))
            {
                Assert2.Close(h.Weight.Grad!, dev.GW.Download(), 1e-3, 1e-4 * h.Weight.Grad!.ToArray().Max(Math.Abs) + 1e-7, "weight gradient");
                Assert2.Close(h.Bias!.Grad!, dev.GB.Download(), 1e-3, 1e-4 * h.Bias!.Grad!.ToArray().Max(Math.Abs) + 1e-7, "bias gradient");
            }
            Assert.Contains(dflow.Pairs(host), p => p.Host.Weight.Grad!.ToArray().Max(Math.Abs) > 1e-3);
        }

        // StepsPerRound steps with the integrator's schedule and clip: every step's loss and the final weights
        var deviceFlow = UnitFlow(5);
        using var accelerated = _dev.Compile(deviceFlow, new Adam<float>(deviceFlow.Parameters().Where(p => p.Trainable), 5e-3));
        AssertRoundStepsMatch(cpu, deviceFlow, accelerated, x, lqOld, f, divergence, beta, steps, coefficient!, aux!);
    }

    /// <summary>
    /// <paramref name="steps"/> steps of one round with the integrator's cosine schedule and clip, on the CPU
    /// (<see cref="SampledDivergenceLoss{T}"/> in <see cref="TrainingLoop{T}"/>) and on the device (from
    /// <paramref name="deviceFlow"/>'s copy of the same start): every step's loss (2e−4 relative) and the final weights (2e−3).
    /// </summary>
    private static void AssertRoundStepsMatch(Flow<float> cpu, Flow<float> deviceFlow, IAcceleratedFlow accelerated, Tensor<float> x, Tensor<float> lqOld,
        double[] f, Divergence divergence, double beta, int steps, Tensor<float> coefficient, Tensor<float> aux, Tensor<float>? context = null)
    {
        var schedule = new CosineDecaySchedule(5e-3, steps, 5e-4);
        var options = new TrainingOptions { Steps = steps, LearningRate = 5e-3, Schedule = schedule, ClipNorm = 10, ReportEverySteps = 1 };
        var adam = new Adam<float>(cpu.Parameters().Where(p => p.Trainable), 5e-3);
        var cpuLosses = new Losses();
        var c = context is null ? null : new Var<float>(context);
        var cpuLoss = new SampledDivergenceLoss<float>(v => cpu.Transform.Forward(v, c).LogAbsDet, () => (x, lqOld), _ => f, divergence, steps) { Exponent = _ => beta };
        new TrainingLoop<float>(cpu, options, adam) { Progress = cpuLosses }.Fit(cpuLoss, steps);

        accelerated.SetDivergenceRound(x, divergence, coefficient, aux, context);
        var deviceLosses = new List<double>();
        for (int s = 0; s < steps; s++)
        {
            accelerated.DivergenceStep(schedule.LearningRate(s), 10);
            deviceLosses.Add(accelerated.TakeLossSum());
        }
        Assert.Equal(steps, cpuLosses.Values.Count);
        for (int s = 0; s < steps; s++)
            Assert.True(Math.Abs(cpuLosses.Values[s] - deviceLosses[s]) <= 2e-4 * Math.Abs(cpuLosses.Values[s]) + 1e-5, $"step {s}: CPU loss {cpuLosses.Values[s]}, device {deviceLosses[s]}");
        Assert.NotEqual(deviceLosses[0], deviceLosses[^1]);
        accelerated.CopyTo(deviceFlow);
        var expected = cpu.Parameters().ToList(); var actual = deviceFlow.Parameters().ToList();
        for (int i = 0; i < expected.Count; i++) Assert2.Close(expected[i].Value, actual[i].Value, 0, 2e-3, $"parameter {i}");
    }

    /// <summary>A one-hot context [n, k]: row i in channel i mod k.</summary>
    private static Tensor<float> OneHot(int n, int k)
    {
        var c = Tensor<float>.Zeros(n, k);
        var cs = c.Span;
        for (int i = 0; i < n; i++) cs[i * k + i % k] = 1;
        return c;
    }

    [Fact]
    public void ConditionalUnitCubeSamplesAreTheHostInverseOfTheUniformDrawsGivenTheirContext()
    {
        const int n = 24, d = 3;
        var flow = UnitFlow(13, d, context: 2);
        var context = OneHot(n, 2);
        using var accelerated = _dev.Compile(flow);
        var (xs, lq) = accelerated.SampleUnitCube(n, seed: 9, firstRow: 5, context);
        using var z = DeviceTensor.Zeros(_dev, n, d);
        DeviceOps.UniformNoise(z, NoiseArgs.Rows(9, 5, d));
        var (xHost, ldInverse) = flow.Transform.Inverse(new Var<float>(z.Download()), new Var<float>(context));
        var expectedX = xHost.Value.ToArray().Select(v => Math.Clamp(v, 0f, 1f)).ToArray();
        var expectedLogQ = ldInverse.Value.ToArray().Select(v => -v).ToArray();
        Assert2.Close(expectedX, xs.ReadOnlySpan, 1e-4, 1e-4, "x");
        Assert2.Close(expectedLogQ, lq.ReadOnlySpan, 1e-4, 1e-4, "log q");
        // the context matters: the other channel's draws from the same stream differ
        var (other, _) = accelerated.SampleUnitCube(n, seed: 9, firstRow: 5, OneHot(n + 1, 2).CopyRows(1, n));
        Assert.True(xs.ToArray().Zip(other.ToArray()).Max(p => Math.Abs(p.First - p.Second)) > 1e-2, "the context does not change the samples");
        var e = Assert.Throws<ArgumentException>(() => accelerated.SampleUnitCube(n, 9));
        Assert.Contains("context", e.Message);
    }

    [Theory]
    [InlineData(Divergence.KullbackLeibler, 1.0)]
    [InlineData(Divergence.Variance, 1.0)]
    [InlineData(Divergence.Exponential, 0.5)]
    public void AConditionalRoundOfEachLossGivesTheCpusLossesAndWeights(Divergence divergence, double beta)
    {
        const int n = 48, steps = 4;
        var cpu = UnitFlow(17, context: 2);
        var rng = new Rng(37);
        var x = rng.Uniform<float>([n, 3]).Untrack();
        var context = OneHot(n, 2).Untrack();
        var lqOld = Tensor<float>.Empty(n).Untrack();
        var f = new double[n];
        for (int i = 0; i < n; i++)
        {
            lqOld.Span[i] = (float)(0.3 * rng.NextNormal());
            f[i] = Camel(x.ReadOnlySpan.Slice(3 * i, 3)) * (i % 2 == 0 ? 1 : 0.3);
        }
        Assert.Contains(f, v => v == 0);
        var (_, coefficient, aux) = SampledDivergenceLoss<float>.RoundCoefficients(divergence, f, lqOld.ReadOnlySpan, beta);

        var deviceFlow = UnitFlow(17, context: 2);
        using var accelerated = _dev.Compile(deviceFlow, new Adam<float>(deviceFlow.Parameters().Where(p => p.Trainable), 5e-3));
        AssertRoundStepsMatch(cpu, deviceFlow, accelerated, x, lqOld, f, divergence, beta, steps, coefficient!, aux!, context);
        // a round without its context is refused
        Assert.Throws<ArgumentException>(() => accelerated.SetDivergenceRound(x, divergence, coefficient!, aux!));
    }
}
