using NormalizingFlows.Autograd;
using NormalizingFlows.Tensors;
using NormalizingFlows.Transforms.Continuous;

namespace NormalizingFlows.Cuda.Tests;

/// <summary>
/// Continuous flows on the device against the library's CPU path, on the CPU accelerator: the vector field's velocity
/// and its backward (<see cref="DeviceVectorField"/>).
/// </summary>
public sealed class DeviceContinuousTests(CpuAcceleratorFixture fixture) : IClassFixture<CpuAcceleratorFixture>
{
    private readonly ComputeDevice _dev = fixture.Device;

    /// <summary>A field with every weight moved off its start (the zero output layer would make v = 0).</summary>
    internal static VectorField<float> Field(int d, int c, long seed = 3, int layers = 2)
    {
        var field = new VectorField<float>(d, hidden: 8, layers: layers, new Rng(seed), contextFeatures: c, timeFrequencies: 2);
        var noise = new Rng(seed + 100);
        foreach (var p in field.Parameters())
        {
            var s = p.Value.Span;
            for (int i = 0; i < s.Length; i++) s[i] += (float)(0.4 * noise.NextNormal());
        }
        return field;
    }

    [Theory]
    [InlineData(0)]
    [InlineData(2)]
    public void FieldVelocityAndBackwardMatchTheLibrary(int c)
    {
        const int d = 3, n = 7;
        var field = Field(d, c);
        var x = new Rng(1).Normal<float>(n, d);
        var time = Tensor<float>.Empty(n);
        for (int i = 0; i < n; i++) time.Span[i] = 0.13f * i;
        var context = c > 0 ? new Rng(2).Normal<float>(n, c) : null;
        var gv = new Rng(4).Normal<float>(n, d);
        var xv = new Var<float>(x.Clone(), requiresGrad: true);
        var cv = context is null ? null : new Var<float>(context.Clone(), requiresGrad: true);
        var v = field.Evaluate(xv, time, cv);
        Ops.Sum(Ops.Mul(v, new Var<float>(gv))).Backward();

        using var f = new DeviceVectorField(_dev, field);
        using var dx = DeviceTensor.Upload(_dev, x);
        using var dt = DeviceTensor.Upload(_dev, time);
        using var dc = context is null ? null : DeviceTensor.Upload(_dev, context);
        var dv = f.Forward(dx, dt, dc);
        Assert2.Close(v.Value, dv.Download(), 1e-5, 1e-6, "velocity");
        Assert.True(v.Value.ReadOnlySpan.ToArray().Any(e => Math.Abs(e) > 0.1), "a velocity of ~0 tests nothing");

        using var dgv = DeviceTensor.Upload(_dev, gv);
        using var gx = DeviceTensor.Zeros(_dev, n, d);
        using var gc = c > 0 ? DeviceTensor.Zeros(_dev, n, c) : null;
        f.Backward(dgv, gx, gc);
        Assert2.Close(xv.Grad!, gx.Download(), 1e-4, 1e-5, "input gradient");
        if (cv is not null) Assert2.Close(cv.Grad!, gc!.Download(), 1e-4, 1e-5, "context gradient");
        AssertParameterGradients(field, f, 1, "velocity");

        // accumulate: a second backward adds the same gradients
        f.Backward(dgv, null, null, accumulate: true);
        AssertParameterGradients(field, f, 2, "accumulated");
    }

    public static TheoryData<OdeSolver, TraceEstimator, int> Settings()
    {
        var data = new TheoryData<OdeSolver, TraceEstimator, int>();
        foreach (var solver in new[] { OdeSolver.RungeKutta4, OdeSolver.DormandPrince })
            foreach (var trace in new[] { TraceEstimator.Exact, TraceEstimator.Hutchinson })
                foreach (int c in new[] { 0, 2 }) data.Add(solver, trace, c);
        return data;
    }

    /// <summary>RK4 with 4 steps, or Dormand–Prince at tolerances 1e−4 (a few adaptive steps, some rejected at the start).</summary>
    internal static ContinuousFlowOptions Options(OdeSolver solver, TraceEstimator trace, long probeSeed = 5)
        => new() { Solver = solver, Trace = trace, Steps = 4, RelativeTolerance = 1e-4, AbsoluteTolerance = 1e-4, ProbeSeed = probeSeed };

    /// <summary>
    /// One continuous layer against ContinuousTransform: the density direction's y and log|det| and their backward
    /// (gx, every parameter's gradient, the context's), then the sampling direction with and without the log-det
    /// (the next probe of both streams), and the round trip back to x.
    /// </summary>
    [Theory]
    [MemberData(nameof(Settings))]
    public void LayerMatchesTheLibraryForwardBackwardAndInverse(OdeSolver solver, TraceEstimator trace, int c)
    {
        const int d = 2, n = 6;
        var field = Field(d, c, seed: 9);
        var host = new ContinuousTransform<float>(field, Options(solver, trace));
        var x = new Rng(1).Normal<float>(n, d);
        var context = c > 0 ? new Rng(2).Normal<float>(n, c) : null;
        var gy = new Rng(3).Normal<float>(n, d);
        var gld = new Rng(4).Normal<float>(n);
        var xv = new Var<float>(x.Clone(), requiresGrad: true);
        var cv = context is null ? null : new Var<float>(context.Clone(), requiresGrad: true);
        var (y, ld) = host.Forward(xv, cv);
        Ops.Add(Ops.Sum(Ops.Mul(y, new Var<float>(gy))), Ops.Sum(Ops.Mul(ld, new Var<float>(gld)))).Backward();

        using var layer = new DeviceContinuous(_dev, host);
        using var dx = DeviceTensor.Upload(_dev, x);
        using var dc = context is null ? null : DeviceTensor.Upload(_dev, context);
        using var dy = DeviceTensor.Zeros(_dev, n, d);
        using var dld = DeviceTensor.Zeros(_dev, n);
        layer.Forward(dx, dc, dy, dld);
        string what = $"{solver}/{trace}/c={c}";
        Assert.True(layer.LastSteps >= (solver == OdeSolver.RungeKutta4 ? 4 : 2), $"{what}: {layer.LastSteps} steps");
        Assert2.Close(y.Value, dy.Download(), 1e-4, 1e-5, $"{what} forward");
        Assert2.Close(ld.Value, dld.Download(), 1e-4, 1e-5, $"{what} log|det|");
        Assert.True(ld.Value.ReadOnlySpan.ToArray().Any(v => Math.Abs(v) > 0.05), $"{what}: a log|det| of ~0 tests nothing");

        using var dgy = DeviceTensor.Upload(_dev, gy);
        using var dgld = DeviceTensor.Upload(_dev, gld);
        using var gx = DeviceTensor.Zeros(_dev, n, d);
        using var gc = c > 0 ? DeviceTensor.Zeros(_dev, n, c) : null;
        layer.Backward(dx, dgy, dgld, gx, gc);
        Assert2.Close(xv.Grad!, gx.Download(), 1e-3, 1e-4, $"{what} input gradient");
        if (cv is not null) Assert2.Close(cv.Grad!, gc!.Download(), 1e-3, 1e-4, $"{what} context gradient");
        AssertParameterGradients(field, layer.Field, 1, what, 1e-3, 1e-4);

        // sampling: the library's inverse of the same y (each side draws its second probe), and back to x
        var (hostBack, hostLdInverse) = host.Inverse(new Var<float>(y.Value), cv is null ? null : new Var<float>(context!));
        using var back = DeviceTensor.Zeros(_dev, n, d);
        using var ldInverse = DeviceTensor.Zeros(_dev, n);
        layer.Inverse(dy, dc, back, ldInverse);
        Assert2.Close(hostBack.Value, back.Download(), 1e-4, 1e-5, $"{what} inverse");
        Assert2.Close(hostLdInverse.Value, ldInverse.Download(), 1e-4, 1e-5, $"{what} inverse log|det|");
        Assert2.Close(x, back.Download(), 1e-2, 1e-2, $"{what} round trip"); // the solver's own error (the CPU's round trip is as far: the inverse matched it above)
        var hostOnlyX = host.InverseWithoutLogDet(new Var<float>(y.Value), cv is null ? null : new Var<float>(context!));
        using var onlyX = DeviceTensor.Zeros(_dev, n, d);
        layer.Inverse(dy, dc, onlyX);
        Assert2.Close(hostOnlyX.Value, onlyX.Download(), 1e-4, 1e-5, $"{what} inverse without log|det|");
    }

    /// <summary>The device field's parameter gradients equal <paramref name="times"/> × the host's (input, hidden…, output order).</summary>
    internal static void AssertParameterGradients(VectorField<float> field, DeviceVectorField f, float times, string what, double rel = 1e-4, double abs = 1e-5)
    {
        var hosts = field.Parameters().ToList();
        var device = f.Linears.SelectMany(l => new[] { l.GW, l.GB }).ToList();
        Assert.Equal(hosts.Count, device.Count);
        for (int i = 0; i < hosts.Count; i++)
        {
            var expected = hosts[i].Grad!.Clone();
            var s = expected.Span;
            for (int j = 0; j < s.Length; j++) s[j] *= times;
            Assert.True(expected.ReadOnlySpan.ToArray().Any(e => e != 0), $"{what}: parameter {i} has a zero gradient");
            Assert2.Close(expected, device[i].Download().Reshape(expected.Shape.ToArray()), rel, abs, $"{what}: parameter {i} gradient");
        }
    }
}
