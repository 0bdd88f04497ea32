using NormalizingFlows.Autograd;
using NormalizingFlows.Distributions;
using NormalizingFlows.Optim;
using NormalizingFlows.Tensors;
using NormalizingFlows.Transforms;
using NormalizingFlows.Transforms.Splines;

namespace NormalizingFlows.Cuda.Tests;

/// <summary>Every device kernel against the library's CPU path (Tensor/Autograd ops), forward and backward, on ILGPU's CPU accelerator.</summary>
public sealed class DeviceOpsTests(CpuAcceleratorFixture fixture) : IClassFixture<CpuAcceleratorFixture>
{
    private readonly ComputeDevice _dev = fixture.Device;

    private DeviceTensor Up(Tensor<float> t) => DeviceTensor.Upload(_dev, t);

    [Theory]
    [InlineData(false, false)]
    [InlineData(true, false)]
    [InlineData(false, true)]
    [InlineData(true, true)]
    public void GemmMatchesADoubleProductInEveryTransposeVariant(bool ta, bool tb)
    {
        var rng = new Rng(1);
        int m = 7, n = 5, k = 9;
        var a = rng.Normal<float>(ta ? [k, m] : [m, k]);
        var b = rng.Normal<float>(tb ? [n, k] : [k, n]);
        var c0 = rng.Normal<float>(m, n);
        using var da = Up(a); using var db = Up(b); using var dc = Up(c0);
        DeviceOps.Gemm(da, ta, db, tb, dc, m, n, k, alpha: 0.5f, beta: 2f);
        var expected = new float[m * n];
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                double s = 0;
                for (int l = 0; l < k; l++)
                    s += (double)(ta ? a.ReadOnlySpan[l * m + i] : a.ReadOnlySpan[i * k + l]) * (tb ? b.ReadOnlySpan[j * k + l] : b.ReadOnlySpan[l * n + j]);
                expected[i * n + j] = (float)(0.5 * s + 2 * c0.ReadOnlySpan[i * n + j]);
            }
        Assert2.Close(expected, dc.Download().ReadOnlySpan, 1e-5, 1e-5, "gemm");
    }

    [Fact]
    public void FusedLinearReluForwardAndBackwardMatchAutograd()
    {
        var rng = new Rng(2);
        int n = 6, din = 5, dout = 4;
        var x = new Var<float>(rng.Normal<float>(n, din), requiresGrad: true);
        var w = new Parameter<float>(rng.Normal<float>(dout, din));
        var b = new Parameter<float>(rng.Normal<float>(dout));
        var y = Ops.Linear(x, w, b, relu: true);
        var seed = rng.Normal<float>(n, dout);
        y.Backward(seed);

        using var dx = Up(x.Value); using var dw = Up(w.Value); using var db = Up(b.Value);
        using var dy = DeviceTensor.Zeros(_dev, n, dout);
        DeviceOps.MatMul(dx, false, dw, true, dy);
        DeviceOps.BiasActivation(dy, db, relu: true);
        Assert2.Close(y.Value, dy.Download(), 1e-5, 1e-6, "y");

        using var g = Up(seed);
        DeviceOps.ReluBackward(g, dy);
        using var gw = DeviceTensor.Zeros(_dev, dout, din); using var gb = DeviceTensor.Zeros(_dev, dout); using var gx = DeviceTensor.Zeros(_dev, n, din);
        DeviceOps.MatMul(g, true, dx, false, gw);
        DeviceOps.ColumnSums(g, gb);
        DeviceOps.MatMul(g, false, dw, false, gx);
        Assert2.Close(w.Grad!, gw.Download(), 1e-5, 1e-5, "dW");
        Assert2.Close(b.Grad!, gb.Download(), 1e-5, 1e-5, "db");
        Assert2.Close(x.Grad!, gx.Download(), 1e-5, 1e-5, "dx");
    }

    [Fact]
    public void MaskedGradientKeepsOnlyTheMaskedEntries()
    {
        var g = Tensor<float>.From([1f, 2f, 3f, 4f], 2, 2);
        var mask = Tensor<float>.From([1f, 0f, 0f, 1f], 2, 2);
        using var dg = Up(g); using var dm = Up(mask);
        DeviceOps.Multiply(dg, dm);
        Assert.Equal([1f, 0f, 0f, 4f], dg.Download().ToArray());
    }

    [Fact]
    public void GatherAndScatterMoveColumns()
    {
        var x = Tensor<float>.From([0f, 1f, 2f, 3f, 10f, 11f, 12f, 13f], 2, 4);
        using var dx = Up(x);
        using var idx = new DeviceIndex(_dev, [3, 1]);
        using var part = DeviceTensor.Zeros(_dev, 2, 2);
        DeviceOps.Gather(dx, part, idx);
        Assert.Equal([3f, 1f, 13f, 11f], part.Download().ToArray());
        using var back = DeviceTensor.Zeros(_dev, 2, 4);
        DeviceOps.Fill(back, -1);
        DeviceOps.Scatter(part, back, idx);
        Assert.Equal([-1f, 1f, -1f, 3f, -1f, 11f, -1f, 13f], back.Download().ToArray());
    }

    public static TheoryData<int> ScaleKinds => [0, 1, 2, 3];

    private static AffineScale ScaleOf(int kind) => kind switch
    {
        0 => AffineScale.SoftClampedExp(3.0),
        1 => AffineScale.Sigmoid,
        2 => AffineScale.Softplus,
        _ => AffineScale.RationalClampedExp(),
    };

    [Theory]
    [MemberData(nameof(ScaleKinds))]
    public void AffineUpdateForwardInverseAndBackwardMatchAffineCouplingOp(int kind)
    {
        var scale = ScaleOf(kind);
        var rng = new Rng(3 + kind);
        int n = 5, k = 3;
        var x = new Var<float>(rng.Normal<float>(n, k), requiresGrad: true);
        var p = new Var<float>(rng.Normal<float>(n, 2 * k), requiresGrad: true);
        var (y, ld) = AffineCouplingOp.Apply(x, p, scale);
        var gy = rng.Normal<float>(n, k); var gl = rng.Normal<float>(n);
        Ops.Add(Ops.Sum(Ops.Mul(y, new Var<float>(gy))), Ops.Sum(Ops.Mul(ld, new Var<float>(gl)))).Backward();

        var args = DeviceFlowLayers.AffineArgsOf(scale);
        using var dx = Up(x.Value); using var dp = Up(p.Value);
        using var dy = DeviceTensor.Zeros(_dev, n, k); using var dld = DeviceTensor.Zeros(_dev, n, k); using var rowLd = DeviceTensor.Zeros(_dev, n);
        DeviceOps.Affine(dx, dp, dy, dld, args);
        DeviceOps.AddRowSums(dld, rowLd, 1);
        Assert2.Close(y.Value, dy.Download(), 1e-5, 1e-6, "y");
        Assert2.Close(ld.Value, rowLd.Download(), 1e-5, 1e-5, "log det");

        using var dgy = Up(gy); using var dgl = Up(gl);
        using var gx = DeviceTensor.Zeros(_dev, n, k); using var gp = DeviceTensor.Zeros(_dev, n, 2 * k);
        DeviceOps.AffineBackward(dx, dp, dgy, dgl, gx, gp, args);
        Assert2.Close(x.Grad!, gx.Download(), 1e-5, 1e-5, "dx");
        Assert2.Close(p.Grad!, gp.Download(), 1e-4, 1e-5, "dparams");

        // the inverse maps y back to x with the negated log-det
        using var back = DeviceTensor.Zeros(_dev, n, k); using var ldInv = DeviceTensor.Zeros(_dev, n, k);
        DeviceOps.Affine(dy, dp, back, ldInv, args with { Inverse = 1 });
        Assert2.Close(x.Value, back.Download(), 1e-5, 1e-5, "inverse(forward(x))");
    }

    private static RationalQuadraticSpline Spline => new(8, SplineDomain.Symmetric(3.0));

    [Fact]
    public void SplineForwardAndInverseMatchTheLibrarySplineIncludingTails()
    {
        var rng = new Rng(5);
        int n = 16, k = 3, m = Spline.ParametersPerElement;
        var x = rng.Normal<float>(n, k);
        var xs = x.Span;
        xs[0] = -3.5f; xs[1] = 4.25f; xs[2] = 3f; xs[3] = -3f; xs[4] = 0f; // tails and the edges
        for (int i = 5; i < xs.Length; i++) xs[i] *= 1.6f;
        var p = rng.Normal<float>(n, k * m);
        var yRef = new float[n * k]; var ldRef = new float[n * k];
        Spline.Forward<float>(x.ReadOnlySpan, p.ReadOnlySpan, yRef, ldRef);

        var args = DeviceFlowLayers.SplineArgsOf(Spline);
        using var dx = Up(x); using var dp = Up(p);
        using var dy = DeviceTensor.Zeros(_dev, n, k); using var dld = DeviceTensor.Zeros(_dev, n, k);
        DeviceOps.Spline(dx, dp, dy, dld, args);
        Assert2.Close(yRef, dy.Download().ReadOnlySpan, 1e-5, 2e-6, "spline y");
        Assert2.Close(ldRef, dld.Download().ReadOnlySpan, 1e-4, 2e-5, "spline log det");
        Assert.Equal(-3.5f, dy.Download().ReadOnlySpan[0]); // identity tail
        Assert.Equal(0f, dld.Download().ReadOnlySpan[1]);

        var ldInvRef = new float[n * k];
        Spline.Inverse<float>(yRef, p.ReadOnlySpan, new float[n * k], ldInvRef);
        // the inverse of the same y (the steepest inverse here has slope ≈ 300, so the inputs must agree to the bit)
        using var dyRef = Up(Tensor<float>.From(yRef, n, k));
        using var back = DeviceTensor.Zeros(_dev, n, k); using var ldInv = DeviceTensor.Zeros(_dev, n, k);
        DeviceOps.Spline(dyRef, dp, back, ldInv, args with { Inverse = 1 });
        // against the double reference: a few float ulps of y, amplified by the inverse's slope dx/dy
        var yd = yRef.Select(v => (double)v).ToArray(); var xd = new double[n * k]; var ldd = new double[n * k];
        Spline.Inverse<double>(yd, p.ReadOnlySpan.ToArray().Select(v => (double)v).ToArray(), xd, ldd);
        var xDev = back.Download().ReadOnlySpan;
        for (int i = 0; i < xd.Length; i++)
        {
            double bound = 1e-5 + 8 * 1.2e-7 * Math.Max(Math.Abs(yd[i]), 1) * Math.Exp(ldd[i]);
            Assert.True(Math.Abs(xDev[i] - xd[i]) <= bound, $"spline inverse[{i}]: double {xd[i]}, device {xDev[i]} (bound {bound})");
        }
        Assert2.Close(ldInvRef, ldInv.Download().ReadOnlySpan, 1e-4, 2e-5, "spline inverse log det");
        DeviceOps.Spline(dy, dp, back, ldInv, args with { Inverse = 1 });
        Assert2.Close(x.ReadOnlySpan, back.Download().ReadOnlySpan, 1e-4, 1e-4, "inverse(forward(x))");
    }

    [Fact]
    public void SplineBackwardMatchesSplineOpGradients()
    {
        var rng = new Rng(6);
        int n = 12, k = 2, m = Spline.ParametersPerElement;
        var xt = rng.Normal<float>(n, k);
        xt.Span[0] = 3.7f; // one element in the tail
        var x = new Var<float>(xt, requiresGrad: true);
        var p = new Var<float>(rng.Normal<float>(n, k * m), requiresGrad: true);
        var (y, ld) = SplineOp.Apply(Spline, x, p);
        var gy = rng.Normal<float>(n, k); var gl = rng.Normal<float>(n);
        Ops.Add(Ops.Sum(Ops.Mul(y, new Var<float>(gy))), Ops.Sum(Ops.Mul(ld, new Var<float>(gl)))).Backward();

        var args = DeviceFlowLayers.SplineArgsOf(Spline);
        using var dx = Up(x.Value); using var dp = Up(p.Value); using var dgy = Up(gy); using var dgl = Up(gl);
        using var gx = DeviceTensor.Zeros(_dev, n, k); using var gp = DeviceTensor.Zeros(_dev, n, k * m);
        DeviceOps.SplineBackward(dx, dp, dgy, dgl, gx, gp, args);
        Assert2.Close(x.Grad!, gx.Download(), 1e-4, 1e-4, "spline dx");
        Assert2.Close(p.Grad!, gp.Download(), 1e-3, 1e-4, "spline dparams");
    }

    [Fact]
    public void NormalLogProbAndSumsMatchTheCpu()
    {
        var rng = new Rng(7);
        int n = 9, d = 4;
        var z = rng.Normal<float>(n, d);
        var ld = rng.Normal<float>(n);
        var expected = Ops.Add(new StandardNormal<float>(d).LogProb(new Var<float>(z)), new Var<float>(ld)).Value;
        using var dz = Up(z); using var dld = Up(ld); using var lp = DeviceTensor.Zeros(_dev, n);
        DeviceOps.NormalLogProb(dz, dld, lp);
        Assert2.Close(expected, lp.Download(), 1e-5, 1e-5, "log p");

        using var total = DeviceTensor.Zeros(_dev, 1);
        DeviceOps.Sum(lp, total);
        Assert.Equal(expected.ToDoubleArray().Sum(), total.Download().ReadOnlySpan[0], 3);

        using var cols = DeviceTensor.Zeros(_dev, d);
        DeviceOps.ColumnSums(dz, cols);
        for (int j = 0; j < d; j++)
        {
            double s = 0;
            for (int r = 0; r < n; r++) s += z.ReadOnlySpan[r * d + j];
            Assert.Equal(s, cols.Download().ReadOnlySpan[j], 4);
        }
    }

    [Fact]
    public void AdamMatchesOptimAdamStepByStep()
    {
        var rng = new Rng(8);
        var param = new Parameter<float>(rng.Normal<float>(37));
        var adam = new Adam<float>([param], learningRate: 1e-2);
        using var p = Up(param.Value); using var m = DeviceTensor.Zeros(_dev, 37); using var v = DeviceTensor.Zeros(_dev, 37);
        using var scalars = DeviceTensor.Zeros(_dev, AdamArgs.Count);
        for (int step = 1; step <= 4; step++)
        {
            var grad = rng.Normal<float>(37);
            param.Grad = grad.Clone();
            adam.Step();
            using var g = Up(grad);
            DeviceOps.SetAdamScalars(scalars, DeviceAdam.Args(1e-2, 0.9, 0.999, 1e-8, step));
            DeviceOps.Adam(p, g, m, v, scalars);
            Assert2.Close(param.Value, p.Download(), 1e-6, 1e-7, $"Adam step {step}");
        }
    }

    [Theory]
    [InlineData(0.5)]   // clipped
    [InlineData(100.0)] // left as is
    public void ClippedAdamMatchesGradientClippingThenOptimAdam(double maxNorm)
    {
        var rng = new Rng(9);
        var a = new Parameter<float>(rng.Normal<float>(23)); var b = new Parameter<float>(rng.Normal<float>(4, 3));
        var adam = new Adam<float>([a, b], learningRate: 1e-2);
        using var pa = Up(a.Value); using var pb = Up(b.Value);
        using var ma = DeviceTensor.Zeros(_dev, 23); using var va = DeviceTensor.Zeros(_dev, 23);
        using var mb = DeviceTensor.Zeros(_dev, 4, 3); using var vb = DeviceTensor.Zeros(_dev, 4, 3);
        using var squares = DeviceTensor.Zeros(_dev, 1); using var scale = DeviceTensor.Zeros(_dev, 1);
        using var scalars = DeviceTensor.Zeros(_dev, AdamArgs.Count);
        for (int step = 1; step <= 3; step++)
        {
            var (ga, gb) = (rng.Normal<float>(23), rng.Normal<float>(4, 3));
            a.Grad = ga.Clone(); b.Grad = gb.Clone();
            double norm = GradientClipping.ClipGlobalNorm([a, b], maxNorm);
            adam.Step();
            using var dga = Up(ga); using var dgb = Up(gb);
            DeviceOps.Fill(squares, 0);
            DeviceOps.AddSumOfSquares(dga, squares); DeviceOps.AddSumOfSquares(dgb, squares);
            Assert.Equal(norm * norm, squares.Download().ReadOnlySpan[0], 4);
            DeviceOps.SetAdamScalars(scalars, DeviceAdam.Args(1e-2, 0.9, 0.999, 1e-8, step), (float)maxNorm);
            DeviceOps.ClipScale(squares, scale, scalars);
            Assert.Equal(norm > maxNorm ? maxNorm / (norm + 1e-6) : 1, scale.Download().ReadOnlySpan[0], 6);
            DeviceOps.Adam(pa, dga, ma, va, scalars, scale); DeviceOps.Adam(pb, dgb, mb, vb, scalars, scale);
            Assert2.Close(a.Value, pa.Download(), 1e-6, 1e-6, $"clipped Adam step {step}, a");
            Assert2.Close(b.Value, pb.Download(), 1e-6, 1e-6, $"clipped Adam step {step}, b");
        }
    }

    [Fact]
    public void GatherRowsTakesTheListedRowsInOrder()
    {
        var src = new Rng(10).Normal<float>(9, 3);
        int[] rows = [4, 0, 8, 4, 2];
        using var dsrc = Up(src); using var dst = DeviceTensor.Zeros(_dev, 4, 3);
        using var index = new DeviceIndex(_dev, new int[6]);
        index.CopyFrom(rows);
        DeviceOps.GatherRows(dsrc, dst, index); // the first 4 of the 5 rows
        var got = dst.Download().ReadOnlySpan;
        for (int r = 0; r < 4; r++)
            for (int j = 0; j < 3; j++) Assert.Equal(src.ReadOnlySpan[rows[r] * 3 + j], got[r * 3 + j]);
        Assert.Throws<ArgumentException>(() => index.CopyFrom(new int[7]));
    }

    [Fact]
    public void NormalNoiseIsSeededAndStandard()
    {
        using var a = DeviceTensor.Zeros(_dev, 20000); using var b = DeviceTensor.Zeros(_dev, 20000);
        DeviceOps.NormalNoise(a, 42); DeviceOps.NormalNoise(b, 42);
        var va = a.Download().ToArray();
        Assert.Equal(va, b.Download().ToArray());
        double mean = va.Average(v => (double)v), var = va.Average(v => (v - mean) * (v - mean));
        Assert.InRange(mean, -0.03, 0.03);
        Assert.InRange(var, 0.96, 1.04);
        DeviceOps.NormalNoise(b, 43);
        Assert.NotEqual(va, b.Download().ToArray());
    }

    [Fact]
    public void SampleRowsDrawsWholeRowsOfTheSourceBySeed()
    {
        var src = Tensor<float>.From(Enumerable.Range(0, 50 * 3).Select(i => (float)i).ToArray(), 50, 3);
        using var dsrc = Up(src); using var a = DeviceTensor.Zeros(_dev, 200, 3); using var b = DeviceTensor.Zeros(_dev, 200, 3);
        DeviceOps.SampleRows(dsrc, a, 7); DeviceOps.SampleRows(dsrc, b, 7);
        var va = a.Download().ToArray();
        Assert.Equal(va, b.Download().ToArray());
        var seen = new HashSet<int>();
        for (int r = 0; r < 200; r++)
        {
            int row = (int)va[r * 3] / 3;
            Assert.Equal([row * 3f, row * 3f + 1, row * 3f + 2], va.AsSpan(r * 3, 3).ToArray());
            seen.Add(row);
        }
        Assert.True(seen.Count > 35, $"200 draws hit only {seen.Count} of 50 rows");
    }

    [Fact]
    public void CudaFailsWithOneClearLineWithoutADevice()
    {
        try
        {
            using var cuda = ComputeDevice.Cuda();
            Assert.True(cuda.IsCuda); // a machine with a GPU: nothing to check here
        }
        catch (InvalidOperationException e)
        {
            Assert.StartsWith("no CUDA device: ", e.Message, StringComparison.Ordinal);
            Assert.DoesNotContain('\n', e.Message);
        }
    }
}
