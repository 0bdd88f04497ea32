using NormalizingFlows.Autograd;
using NormalizingFlows.Distributions;
using NormalizingFlows.Flows;
using NormalizingFlows.Optim;
using NormalizingFlows.Tensors;
using NormalizingFlows.Transforms;
using NormalizingFlows.Transforms.Autoregressive;
using NormalizingFlows.Transforms.Splines;

namespace NormalizingFlows.Cuda.Tests;

/// <summary>
/// Circular rational-quadratic splines (angles, <c>--periodic</c>) on ILGPU's CPU accelerator: the kernel against the
/// library's spline in double (values, log-det, inverse, inverse∘forward, every gradient incl. the shift and the shared
/// boundary derivative; inputs outside the period wrapped), and periodic nsf and maf-rqs flows (circular and ordinary
/// columns mixed, PeriodicNormal base) against the CPU: log p, the inverse, one training step's loss, gradients and
/// weights, and the base's uniform draws on the periodic columns.
/// </summary>
public sealed class DeviceCircularSplineTests(CpuAcceleratorFixture fixture) : IClassFixture<CpuAcceleratorFixture>
{
    private readonly ComputeDevice _dev = fixture.Device;

    private static readonly CircularRationalQuadraticSpline Spline = new(5);

    private DeviceTensor Up(Tensor<float> t) => DeviceTensor.Upload(_dev, t);

    private static double[] ToDouble(ReadOnlySpan<float> v) => v.ToArray().Select(a => (double)a).ToArray();

    /// <summary>|a − b| on the circle of period 2π.</summary>
    private static double Circular(double a, double b)
    {
        double d = Math.Abs(a - b) % (2 * Math.PI);
        return Math.Min(d, 2 * Math.PI - d);
    }

    /// <summary>Angles on [−π, π) with the seam, and values outside the period (wrapped by the spline).</summary>
    private static Tensor<float> Inputs(Rng rng, int n, int k)
    {
        var x = rng.Uniform<float>([n, k], -Math.PI, Math.PI);
        var xs = x.Span;
        xs[0] = 4.0f; xs[1] = -7.5f; xs[2] = (float)Math.PI; xs[3] = -(float)Math.PI; xs[4] = 0f; xs[5] = 12.9f;
        return x;
    }

    [Fact]
    public void CircularSplineMatchesTheLibrarySplineWrappedForwardAndInverse()
    {
        var rng = new Rng(41);
        int n = 12, k = 3, m = Spline.ParametersPerElement;
        Assert.Equal(3 * 5 + 1, m);
        var x = Inputs(rng, n, k);
        var p = rng.Normal<float>(n, k * m);
        var pd = ToDouble(p.ReadOnlySpan);
        var yRef = new double[n * k]; var ldRef = new double[n * k];
        Spline.Forward<double>(ToDouble(x.ReadOnlySpan), pd, yRef, ldRef);

        var args = DeviceFlowLayers.CircularArgsOf(Spline, null, -1L);
        Assert.Equal(2, args.Boundary);
        using var dx = Up(x); using var dp = Up(p);
        using var dy = DeviceTensor.Zeros(_dev, n, k); using var dld = DeviceTensor.Zeros(_dev, n, k);
        DeviceOps.Spline(dx, dp, dy, dld, args);
        var y = dy.Download().ReadOnlySpan; var ld = dld.Download().ReadOnlySpan;
        for (int i = 0; i < y.Length; i++)
        {
            Assert.True(y[i] >= -(float)Math.PI && y[i] < (float)Math.PI, $"y[{i}] = {y[i]} outside [−π, π)");
            Assert.True(Circular(y[i], yRef[i]) <= 2e-5, $"y[{i}]: double {yRef[i]}, device {y[i]}");
            Assert.True(Math.Abs(ld[i] - ldRef[i]) <= 2e-5 + 1e-4 * Math.Abs(ldRef[i]), $"log det[{i}]: double {ldRef[i]}, device {ld[i]}");
        }
        // the wrap: an input and the same input one period on give the same output
        var shifted = x.Clone();
        foreach (ref var v in shifted.Span) v += (float)(2 * Math.PI);
        using var dxs = Up(shifted); using var dys = DeviceTensor.Zeros(_dev, n, k); using var ldS = DeviceTensor.Zeros(_dev, n, k);
        DeviceOps.Spline(dxs, dp, dys, ldS, args);
        var ys = dys.Download().ReadOnlySpan;
        for (int i = 0; i < y.Length; i++) Assert.True(Circular(ys[i], y[i]) <= 1e-4, $"y(x + 2π)[{i}] = {ys[i]}, y(x) = {y[i]}");

        // the inverse of the (float) y against the double reference
        var yFloat = yRef.Select(v => (float)v).ToArray();
        using var dyRef = Up(Tensor<float>.From(yFloat, n, k));
        using var back = DeviceTensor.Zeros(_dev, n, k); using var ldInv = DeviceTensor.Zeros(_dev, n, k);
        DeviceOps.Spline(dyRef, dp, back, ldInv, args with { Inverse = 1 });
        var xd = new double[n * k]; var ldd = new double[n * k];
        Spline.Inverse<double>(ToDouble(yFloat), pd, xd, ldd);
        var xDev = back.Download().ReadOnlySpan; var ldDev = ldInv.Download().ReadOnlySpan;
        for (int i = 0; i < xd.Length; i++)
        {
            double bound = 1e-5 + 8 * 1.2e-7 * Math.PI * Math.Exp(ldd[i]);
            Assert.True(Circular(xDev[i], xd[i]) <= bound, $"inverse[{i}]: double {xd[i]}, device {xDev[i]} (bound {bound})");
            Assert.True(Math.Abs(ldDev[i] - ldd[i]) <= 2e-5 + 1e-4 * Math.Abs(ldd[i]), $"inverse log det[{i}]: double {ldd[i]}, device {ldDev[i]}");
        }
        // inverse ∘ forward on the device: x modulo the period
        DeviceOps.Spline(dy, dp, back, ldInv, args with { Inverse = 1 });
        var xb = back.Download().ReadOnlySpan; var xs = x.ReadOnlySpan;
        for (int i = 0; i < xs.Length; i++) Assert.True(Circular(xb[i], xs[i]) <= 1e-4, $"inverse(forward(x))[{i}]: {xb[i]} for {xs[i]}");
    }

    [Fact]
    public void CircularSplineBackwardMatchesTheLibraryIncludingTheShiftAndTheSharedBoundaryDerivative()
    {
        var rng = new Rng(42);
        int n = 10, k = 2, m = Spline.ParametersPerElement;
        var x = Inputs(rng, n, k);
        var p = rng.Normal<float>(n, k * m);
        var gy = rng.Normal<float>(n, k); var gl = rng.Normal<float>(n);
        var gldElements = Enumerable.Range(0, n * k).Select(i => (double)gl.ReadOnlySpan[i / k]).ToArray();
        var gxRef = new double[n * k]; var gpRef = new double[n * k * m];
        Spline.ForwardBackward<double>(ToDouble(x.ReadOnlySpan), ToDouble(p.ReadOnlySpan), ToDouble(gy.ReadOnlySpan), gldElements, gxRef, gpRef);

        var args = DeviceFlowLayers.CircularArgsOf(Spline, null, -1L);
        using var dx = Up(x); using var dp = Up(p); using var dgy = Up(gy); using var dgl = Up(gl);
        using var gx = DeviceTensor.Zeros(_dev, n, k); using var gp = DeviceTensor.Zeros(_dev, n, k * m);
        DeviceOps.SplineBackward(dx, dp, dgy, dgl, gx, gp, args);
        Assert2.Close(gxRef.Select(v => (float)v).ToArray(), gx.Download().ReadOnlySpan, 1e-4, 1e-4, "circular spline dx");
        var g = gp.Download().ToArray();
        Assert2.Close(gpRef.Select(v => (float)v).ToArray(), g, 1e-3, 1e-4, "circular spline dparams");
        for (int e = 0; e < n * k; e++)
        {
            // the shift's gradient is gy; the shared derivative (knot 0 = knot K, parameter 2K) gets one
            Assert.Equal(gy.ReadOnlySpan[e], g[e * m + 3 * 5]);
        }
        Assert.Contains(Enumerable.Range(0, n * k), e => gpRef[e * m + 2 * 5] != 0 && Math.Abs(g[e * m + 2 * 5] - gpRef[e * m + 2 * 5]) <= 1e-3 * Math.Abs(gpRef[e * m + 2 * 5]) + 1e-4);
    }

    /// <summary>nsf (couplings) with features 0 and 1 periodic, maf-rqs with feature 1 periodic: circular and ordinary columns mixed.</summary>
    private static Flow<float> Build(string kind)
    {
        var rng = new Rng(17);
        var flow = kind switch
        {
            "nsf" => FlowBuilders.NeuralSplineFlow<float>(3, layers: 2, hidden: 8, bins: 4, rng: rng, periodic: [0, 1]),
            "maf_rqs" => FlowBuilders.MafRqs<float>(3, layers: 2, hidden: 8, bins: 4, rng: rng, periodic: [1]),
            _ => throw new ArgumentException(kind),
        };
        Assert.IsType<PeriodicNormal<float>>(flow.Base);
        var noise = new Rng(18);
        foreach (var p in flow.Parameters())
        {
            var s = p.Value.Span;
            for (int i = 0; i < s.Length; i++) s[i] += (float)(0.2 * noise.NextNormal());
        }
        return flow;
    }

    /// <summary>Angles in [−π, π) on the periodic columns (one beyond it), normal values beyond the spline bound on the others.</summary>
    private static Tensor<float> Data(int n, long seed)
    {
        var rng = new Rng(seed);
        var x = rng.Normal<float>(n, 3);
        var s = x.Span;
        for (int r = 0; r < n; r++)
        {
            s[r * 3] = (float)(Math.PI * (2 * rng.NextDouble() - 1));
            s[r * 3 + 1] = (float)(Math.PI * (2 * rng.NextDouble() - 1));
            s[r * 3 + 2] *= 2f;
        }
        s[3] = 4.5f; // feature 0 beyond the period: wrapped (nsf: periodic; maf-rqs: an ordinary column past the bound)
        return x;
    }

    public static TheoryData<string> Kinds => ["nsf", "maf_rqs"];

    [Theory]
    [MemberData(nameof(Kinds))]
    public void PeriodicFlowsScoreInvertAndTakeAStepAsOnTheCpu(string kind)
    {
        var cpu = Build(kind);
        var gpu = Build(kind);
        var x = Data(24, 1);
        float[] expected;
        using (GradMode.Disable()) expected = cpu.LogProb(new Var<float>(x)).Value.ToArray();
        Assert.All(expected, v => Assert.True(float.IsFinite(v)));
        using var dflow = DeviceFlow.Compile(gpu, _dev);
        Assert2.Close(expected, dflow.LogProb(x), 1e-4, 2e-4, $"{kind} log p");

        // the sampling direction from the same base points (uniform on the periodic columns)
        var z = new Rng(2).Normal<float>(16, 3);
        var zs = z.Span;
        var zr = new Rng(3);
        for (int r = 0; r < 16; r++) zs[r * 3 + 1] = (float)(Math.PI * (2 * zr.NextDouble() - 1));
        Tensor<float> inverse;
        using (GradMode.Disable()) inverse = cpu.Transform.Inverse(new Var<float>(z)).X.Value;
        var xi = dflow.Inverse(z);
        for (int i = 0; i < inverse.Length; i++)
            Assert.True(Circular(inverse.ReadOnlySpan[i], xi.ReadOnlySpan[i]) <= 2e-4, $"{kind} inverse[{i}]: CPU {inverse.ReadOnlySpan[i]}, device {xi.ReadOnlySpan[i]}");

        // one step: the loss, every weight and bias gradient, and the weights after Adam's step
        const double lr = 1e-3;
        var adam = new Adam<float>(cpu.Parameters(), learningRate: lr);
        adam.ZeroGrad();
        var loss = Ops.Neg(Ops.Mean(cpu.LogProb(new Var<float>(x))));
        loss.Backward();
        using var db = Up(x);
        float deviceLoss = dflow.TrainStep(db, lr, readLoss: true)!.Value;
        float cpuLoss = loss.Value.ReadOnlySpan[0];
        Assert.True(Math.Abs(deviceLoss - cpuLoss) <= 2e-4 * Math.Abs(cpuLoss) + 1e-5, $"{kind}: device loss {deviceLoss}, CPU {cpuLoss}");
        var pairs = dflow.Pairs(cpu).ToList();
        for (int i = 0; i < pairs.Count; i++)
        {
            foreach (var (host, device, name) in new[] { (pairs[i].Host.Weight, pairs[i].Device.GW, "weight"), (pairs[i].Host.Bias!, pairs[i].Device.GB, "bias") })
            {
                var g = host.Grad!.ReadOnlySpan;
                double scale = 0;
                foreach (var v in g) scale = Math.Max(scale, Math.Abs(v));
                Assert.True(scale > 0, $"{kind} layer {i} {name}: zero gradient");
                Assert2.Close(g, device.Download().ReadOnlySpan, 1e-4, 1e-4 * scale, $"{kind} layer {i} {name} gradient");
            }
        }
        var start = gpu.Parameters().Select(p => p.Value.ToArray()).ToList();
        adam.Step();
        dflow.CopyTo(gpu);
        DeviceFlowTests.SameTrainedWeights(cpu, gpu, start, 1, kind);
    }

    [Fact]
    public void SamplesDrawUniformAnglesOnThePeriodicColumnsAndScoreAsOnTheCpu()
    {
        var flow = Build("maf_rqs");
        using var dflow = DeviceFlow.Compile(flow, _dev);
        // the base draws: normal on features 0 and 2, uniform on [−π, π) on feature 1 (an identity flow shows them)
        var identity = FlowBuilders.MafRqs<float>(3, layers: 1, hidden: 8, bins: 4, rng: new Rng(1), periodic: [1]);
        using var base0 = DeviceFlow.Compile(identity, _dev);
        using var draws = base0.Sample(400, seed: 7);
        var z = draws.Download().ToArray();
        var angles = Enumerable.Range(0, 400).Select(r => (double)z[r * 3 + 1]).ToArray();
        Assert.All(angles, a => Assert.True(a >= -Math.PI && a < Math.PI, $"angle {a}"));
        Assert.True(angles.Count(a => a > 2) > 40 && angles.Count(a => a < -2) > 40, "uniform on the circle: both ends drawn");
        Assert.Contains(Enumerable.Range(0, 400), r => Math.Abs(z[r * 3]) > Math.PI); // feature 0 stays normal (unbounded)
        using var xs = dflow.Sample(64, seed: 5);
        var x = xs.Download();
        Assert.All(x.ToArray(), v => Assert.True(float.IsFinite(v)));
        float[] expected;
        using (GradMode.Disable()) expected = flow.LogProb(new Var<float>(x)).Value.ToArray();
        Assert.All(expected, v => Assert.True(float.IsFinite(v)));
        Assert2.Close(expected, dflow.LogProb(x), 1e-4, 2e-4, "log p of device samples");
    }

    [Fact]
    public void OtherMaskedUpdatesAndAnglesPastColumn63AreRefusedByName()
    {
        var affine = new AutoregressiveTransform<float>(3, new MaskedUpdate([true, false, true], SplineUpdate.Circular(4), new AffineUpdate()), new Rng(1));
        var ex = Assert.Throws<NotSupportedException>(() => DeviceFlow.Compile(new Flow<float>(affine, new PeriodicNormal<float>(3, [0, 2])), _dev));
        Assert.Contains("masked update of CircularRationalQuadraticSpline and AffineUpdate", ex.Message);

        var wide = FlowBuilders.MafRqs<float>(70, layers: 1, hidden: 4, bins: 3, rng: new Rng(1), periodic: [1, 65]);
        ex = Assert.Throws<NotSupportedException>(() => DeviceFlow.Compile(wide, _dev));
        Assert.Contains("periodic feature at index 65", ex.Message);
    }

    [Fact]
    public void OrdinaryColumnsPastColumn63StayOrdinary()
    {
        // 70 features, angle 1: columns 64 … 69 are ordinary (bit c mod 64 of the angle columns must not make column 65 circular)
        var flow = FlowBuilders.MafRqs<float>(70, layers: 1, hidden: 8, bins: 3, rng: new Rng(3), periodic: [1]);
        var noise = new Rng(4);
        foreach (var p in flow.Parameters())
        {
            var ps = p.Value.Span;
            for (int i = 0; i < ps.Length; i++) ps[i] += (float)(0.2 * noise.NextNormal());
        }
        var x = new Rng(5).Normal<float>(4, 70);
        foreach (ref var v in x.Span) v *= 2.5f; // beyond π: a circular column would wrap them
        float[] expected;
        using (GradMode.Disable()) expected = flow.LogProb(new Var<float>(x)).Value.ToArray();
        using var dflow = DeviceFlow.Compile(flow, _dev);
        Assert2.Close(expected, dflow.LogProb(x), 1e-4, 2e-4, "log p with 70 features");
    }
}
