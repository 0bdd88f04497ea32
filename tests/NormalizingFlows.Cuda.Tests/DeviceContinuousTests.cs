using NormalizingFlows.Autograd;
using NormalizingFlows.Flows;
using NormalizingFlows.Optim;
using NormalizingFlows.Tensors;
using NormalizingFlows.Training;
using NormalizingFlows.Transforms.Continuous;

namespace NormalizingFlows.Cuda.Tests;

/// <summary>
/// Continuous flows on the device against the library's CPU path, on the CPU accelerator: the vector field's velocity
/// and its backward (<see cref="DeviceVectorField"/>); one continuous layer's solve both ways with its log-det and
/// backward (<see cref="DeviceContinuous"/>); a compiled "cnf" flow's log p and samples; maximum-likelihood training
/// through <see cref="TrainingOptions.Device"/> against the CPU run; eager steps on a device with graph capture.
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

    /// <summary>RK4 with 4 steps, or Dormand–Prince at tolerances 1e−3 (a few adaptive steps).</summary>
    internal static ContinuousFlowOptions Options(OdeSolver solver, TraceEstimator trace, long probeSeed = 5)
        => new() { Solver = solver, Trace = trace, Steps = 4, RelativeTolerance = 1e-3, AbsoluteTolerance = 1e-3, ProbeSeed = probeSeed };

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

    [Fact]
    public void AdaptiveSolverRunsOutOfStepsAsTheCpuDoes()
    {
        // MaxSteps counts attempts; at tolerances 1e−5 three are not enough: the device throws the CPU's error, stuck
        // near the same t (the error norms differ by float rounding, so the last digits of t and the step may too)
        var field = Field(2, 0, seed: 9);
        var host = new ContinuousTransform<float>(field, Options(OdeSolver.DormandPrince, TraceEstimator.Exact) with { MaxSteps = 3, RelativeTolerance = 1e-5, AbsoluteTolerance = 1e-5 });
        var x = new Rng(1).Normal<float>(4, 2);
        string expected;
        using (GradMode.Disable()) expected = Assert.Throws<InvalidOperationException>(() => host.Forward(new Var<float>(x))).Message;
        using var layer = new DeviceContinuous(_dev, host);
        using var dx = DeviceTensor.Upload(_dev, x);
        using var dy = DeviceTensor.Zeros(_dev, 4, 2);
        using var dld = DeviceTensor.Zeros(_dev, 4);
        var actual = Assert.Throws<InvalidOperationException>(() => layer.Forward(dx, null, dy, dld)).Message;
        Assert.Contains("needed more than MaxSteps = 3 steps", actual);
        var stuck = new System.Text.RegularExpressions.Regex(@"stuck at t = ([^,]+), step ([^)]+)\)");
        Assert.Equal(stuck.Replace(expected, "stuck"), stuck.Replace(actual, "stuck"));
        double T(string m) => double.Parse(stuck.Match(m).Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
        Assert.True(T(expected) < 1 && Math.Abs(T(expected) - T(actual)) <= 1e-3, $"stuck at t = {T(actual)} on the device, {T(expected)} on the CPU");
    }

    /// <summary>A "cnf" flow (D = 2, two tanh layers of 8) with every weight moved off its start.</summary>
    private static Flow<float> Cnf(OdeSolver solver, TraceEstimator trace, int c, long seed = 21)
    {
        var flow = FlowBuilders.ContinuousFlow<float>(2, layers: 2, hidden: 8, contextFeatures: c, rng: new Rng(seed), options: Options(solver, trace));
        var noise = new Rng(seed + 1);
        foreach (var p in flow.Parameters())
        {
            var s = p.Value.Span;
            for (int i = 0; i < s.Length; i++) s[i] += (float)(0.3 * noise.NextNormal());
        }
        return flow;
    }

    [Theory]
    [InlineData(OdeSolver.RungeKutta4, TraceEstimator.Exact, 0)]
    [InlineData(OdeSolver.DormandPrince, TraceEstimator.Hutchinson, 2)]
    public void FlowLogProbAndSamplesMatchTheCpuFlow(OdeSolver solver, TraceEstimator trace, int c)
    {
        var flow = Cnf(solver, trace, c);
        const int n = 12;
        var x = new Rng(3).Normal<float>(n, 2);
        var z = new Rng(4).Normal<float>(n, 2);
        var context = c > 0 ? new Rng(5).Normal<float>(n, c) : null;
        Var<float>? cv = context is null ? null : new Var<float>(context);
        float[] expected;
        Tensor<float> samples;
        using (GradMode.Disable())
        {
            expected = flow.LogProb(new Var<float>(x), cv).Value.ToArray();
            samples = flow.Transform.InverseWithoutLogDet(new Var<float>(z), cv).Value;
        }
        using var dflow = DeviceFlow.Compile(flow, _dev);
        Assert2.Close(expected, dflow.LogProb(x, context), 1e-4, 1e-4, $"{solver}/{trace} log p");
        Assert2.Close(samples, dflow.Inverse(z, context), 1e-4, 1e-4, $"{solver}/{trace} samples from the same base draws");
    }

    private static TrainingOptions Training(IFlowAccelerator? device, int epochs) => new()
    {
        Epochs = epochs, BatchSize = 12, LearningRate = 1e-2, Seed = 5, ValidationFraction = 0.25, ReportEverySteps = 1, Device = device,
    };

    private static (TrainingHistory History, Flow<float> Flow, List<TrainingProgress> Reports) Train(IFlowAccelerator? device, OdeSolver solver, int epochs = 2)
    {
        var flow = Cnf(solver, TraceEstimator.Exact, 0, seed: 31);
        var data = new TrainingData<float>(new Rng(8).Normal<float>(32, 2));
        var reports = new List<TrainingProgress>();
        var loop = new TrainingLoop<float>(flow, Training(device, epochs), new Adam<float>(flow.Parameters(), 1e-2)) { Progress = new Collect(reports) };
        return (loop.Fit(new MaximumLikelihoodLoss<float>(flow), data), flow, reports);
    }

    private sealed class Collect(List<TrainingProgress> list) : IProgress<TrainingProgress>
    {
        public void Report(TrainingProgress value) => list.Add(value);
    }

    [Fact]
    public void TrainingOnTheDeviceMatchesTheCpuRun()
    {
        // every step's loss (reported each step), the validation and the final weights against the CPU's autograd run
        // (RK4: the Dormand–Prince backward is checked per layer above, and under graph capture below)
        const OdeSolver solver = OdeSolver.RungeKutta4;
        var (cpu, cpuFlow, cpuReports) = Train(null, solver);
        var (dev, devFlow, devReports) = Train(_dev, solver);
        Assert.Equal(cpu.Steps, dev.Steps);
        Assert.Equal(cpuReports.Count, devReports.Count);
        Assert.True(cpuReports.Count >= 4, $"{cpuReports.Count} reports");
        for (int i = 0; i < cpuReports.Count; i++)
            Assert.True(Math.Abs(cpuReports[i].Loss - devReports[i].Loss) <= 1e-4 * Math.Abs(cpuReports[i].Loss) + 1e-4,
                $"report {i}: device {devReports[i].Loss}, CPU {cpuReports[i].Loss}");
        for (int e = 0; e < cpu.Epochs.Count; e++)
        {
            double c = cpu.Epochs[e].ValidationLogLikelihood!.Value, d = dev.Epochs[e].ValidationLogLikelihood!.Value;
            Assert.True(Math.Abs(c - d) <= 1e-4 * Math.Abs(c) + 1e-4, $"epoch {e + 1} validation: device {d}, CPU {c}");
        }
        var start = Cnf(solver, TraceEstimator.Exact, 0, seed: 31).Parameters().ToList();
        double moved = 0;
        foreach (var (p, (cp, dp)) in start.Zip(cpuFlow.Parameters().Zip(devFlow.Parameters())))
        {
            Assert2.Close(cp.Value, dp.Value, 1e-3, 1e-4, "trained weight");
            for (int i = 0; i < p.Value.Length; i++) moved = Math.Max(moved, Math.Abs(cp.Value.ReadOnlySpan[i] - p.Value.ReadOnlySpan[i]));
        }
        Assert.True(moved > 1e-3, $"training moved the weights by {moved} at most");
    }

    [Fact]
    public void StepsRunEagerlyOnADeviceWithGraphCapture()
    {
        // a continuous layer's solve is host-driven (the adaptive solver reads its error norm back each step, Hutchinson
        // probes are uploaded per solve, the recorded steps may allocate), so no training step may be captured: with a
        // capture installed (one that counts its captures and fails them), the RK4 run — whose second step has the
        // first's key, so it would be captured — never begins one, keeps graphs on, and equals the eager run bit for bit
        var (eager, eagerFlow, _) = Train(_dev, OdeSolver.RungeKutta4, epochs: 1);
        var capture = new CountingCapture();
        _dev.GraphCapture = capture;
        try
        {
            var (graph, graphFlow, _) = Train(_dev, OdeSolver.RungeKutta4, epochs: 1);
            Assert.Equal(2, graph.Steps);
            Assert.Equal(0, capture.Begins);
            Assert.Same(capture, _dev.GraphCapture);
            Assert.Equal(eager.Epochs.Select(e => e.TrainLoss), graph.Epochs.Select(e => e.TrainLoss));
            foreach (var (e, g) in eagerFlow.Parameters().Zip(graphFlow.Parameters())) Assert.Equal(e.Value.ToArray(), g.Value.ToArray());
        }
        finally
        {
            _dev.GraphCapture = null;
        }
    }

    /// <summary>A graph capture that counts the captures begun and fails each at its end.</summary>
    private sealed class CountingCapture : IGraphCapture
    {
        public int Begins { get; private set; }

        public void Begin() => Begins++;

        public ICapturedGraph End() => throw new InvalidOperationException("a continuous flow's step was captured");

        public void Abort() { }
    }

    public static TheoryData<string> KernelNames => [.. typeof(DeviceContinuousKernels).GetMethods(System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.Static)
        .Where(m => m.GetParameters().FirstOrDefault()?.ParameterType == typeof(ILGPU.Index1D)).Select(m => m.Name)];

    [Theory]
    [MemberData(nameof(KernelNames))]
    public void KernelCompilesToPtx(string name) => PtxCompilationTests.CompilesToPtx(typeof(DeviceContinuousKernels), name);

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
