using NormalizingFlows.Autograd;
using NormalizingFlows.Flows;
using NormalizingFlows.Tensors;
using NormalizingFlows.Training;
using NormalizingFlows.Transforms;
using NormalizingFlows.Transforms.Monotonic;
using NormalizingFlows.Transforms.Splines;

namespace NormalizingFlows.Cuda.Tests;

/// <summary>
/// Probability density distillation on ILGPU's CPU accelerator (DeviceDistillation, DistillationOptions.Device): the
/// backward of the IAF's sampling direction against autograd in double, the first step's six terms and every student
/// gradient against DensityDistillationLoss (z-pass, x-pass, both; with and without context), and a few steps of the
/// trainer (clipped, cosine schedule) against the CPU run, also interrupted and resumed from a checkpoint (on the device
/// and on the CPU) and after a failure.
/// </summary>
public sealed class DeviceDistillationTests(CpuAcceleratorFixture fixture) : IClassFixture<CpuAcceleratorFixture>
{
    private readonly ComputeDevice _dev = fixture.Device;
    private const int D = 4;

    public static TheoryData<string> Updates => ["affine", "rqs_identity_tails", "rqs_linear_tails", "sigmoidal"];

    private static IElementwiseUpdate HostUpdate(string kind) => kind switch
    {
        "affine" => new AffineUpdate(AffineScale.Default),
        "rqs_identity_tails" => new SplineUpdate(new RationalQuadraticSpline(4, SplineDomain.Symmetric(2))),
        "rqs_linear_tails" => new SplineUpdate(new RationalQuadraticSpline(4, SplineDomain.UnitInterval)),
        "sigmoidal" => new SigmoidalUpdate(3),
        _ => throw new ArgumentException(kind),
    };

    /// <summary>x = τ⁻¹(y; θ): gy and gθ of Σ w·x from the device's chain (forward backward at x) against autograd of the library's inverse in double.</summary>
    [Theory]
    [MemberData(nameof(Updates))]
    public void TheSamplingDirectionsBackwardMatchesAutogradInDouble(string kind)
    {
        const int n = 6, k = 3;
        var update = HostUpdate(kind);
        int m = update.ParametersPerFeature;
        var rng = new Rng(17);
        // inputs inside and outside the spline's interval (both tails)
        var y = new double[n * k];
        for (int i = 0; i < y.Length; i++) y[i] = kind == "rqs_linear_tails" ? -0.3 + 1.6 * rng.NextDouble() : 3.0 * rng.NextNormal();
        var theta = new double[n * k * m];
        for (int i = 0; i < theta.Length; i++) theta[i] = 0.7 * rng.NextNormal();
        var w = new double[n * k];
        for (int i = 0; i < w.Length; i++) w[i] = rng.NextNormal();

        var yv = new Var<double>(Tensor<double>.From(y, n, k), requiresGrad: true);
        var tv = new Var<double>(Tensor<double>.From(theta, n, k * m), requiresGrad: true);
        var (xv, _) = update.Apply(yv, tv, inverse: true);
        Ops.Sum(Ops.Mul(xv, new Var<double>(Tensor<double>.From(w, n, k)))).Backward();

        Tensor<float> F(double[] v, params int[] shape) => Tensor<float>.FromDoubles(v, shape);
        var du = DeviceFlowLayers.Update(update);
        using var dy = DeviceTensor.Upload(_dev, F(y, n, k));
        using var dt = DeviceTensor.Upload(_dev, F(theta, n, k * m));
        using var dg = DeviceTensor.Upload(_dev, F(w, n, k));
        using var dx = DeviceTensor.Zeros(_dev, n, k);
        using var ld = DeviceTensor.Zeros(_dev, n, k);
        using var scratch = DeviceTensor.Zeros(_dev, n, k);
        using var gPrime = DeviceTensor.Zeros(_dev, n, k);
        using var zeros = DeviceTensor.Zeros(_dev, n);
        using var gTheta = DeviceTensor.Zeros(_dev, n, k * m);
        using var gy = DeviceTensor.Zeros(_dev, n, k);
        du.Apply(dy, dt, dx, ld, inverse: true);
        Assert2.Close(F(xv.Value.ToDoubleArray(), n, k), dx.Download(), 1e-5, 1e-5, $"{kind} inverse");
        DeviceDistillation.InverseBackward(DistillationKernels.Of(_dev), du, dx, dt, dg, gTheta, gy, scratch, ld, gPrime, zeros);
        Assert2.Close(F(yv.Grad!.ToDoubleArray(), n, k), gy.Download(), 1e-4, 1e-5, $"{kind} d/dy");
        Assert2.Close(F(tv.Grad!.ToDoubleArray(), n, k * m), gTheta.Download(), 1e-3, 2e-5, $"{kind} d/dθ");
    }

    /// <summary>A teacher (2 MAF layers, D = 4, MADE 16) and its student moved off the teacher's weights.</summary>
    private static (Flow<float> Teacher, Flow<float> Student) Pair(string kind, int context)
    {
        var teacher = DeviceFlowTests.Build(kind, context: context);
        var student = DistillationTrainer<float>.CreateStudent(teacher, new Rng(3), copyWeights: true);
        var noise = new Rng(21);
        foreach (var p in student.Parameters())
        {
            var s = p.Value.Span;
            for (int i = 0; i < s.Length; i++) s[i] += (float)(0.1 * noise.NextNormal());
        }
        return (teacher, student);
    }

    private static Tensor<float>? Context(int n, int features, long seed) => features == 0 ? null : new Rng(seed).Normal<float>(n, features);

    private static float[] Masked(Tensor<float> g, Tensor<float>? mask)
    {
        var v = g.ToArray();
        if (mask is not null) for (int i = 0; i < v.Length; i++) v[i] *= mask.ReadOnlySpan[i];
        return v;
    }

    [Theory]
    [InlineData("maf", 0, true, true)]
    [InlineData("maf_rqs", 0, true, true)]
    [InlineData("maf_rqs", 2, true, false)]
    [InlineData("maf_rqs", 2, false, true)]
    [InlineData("maf_rqs", 2, true, true)]
    [InlineData("maf", 2, true, true)]
    public void TheFirstStepsTermsAndStudentGradientsMatchTheLibrary(string kind, int context, bool zPass, bool xPass)
    {
        const int n = 8;
        var (teacher, student) = Pair(kind, context);
        var x = DeviceFlowTests.Data(n, 5);
        var c = Context(n, context, 6);
        var cpu = new DistillationTrainer<float>(teacher, student, new DistillationOptions { ZPass = zPass, XPass = xPass });
        cpu.Optimizer.ZeroGrad();
        DistillationLoss expected;
        using (TensorScope.Begin()) expected = cpu.Step(x, c, new Rng(5), backward: true);
        var pairs = DeviceFlowLayers.Steps(student).SelectMany(DeviceFlowLayers.Linears).ToList();
        var grads = pairs.Select(h => (W: Masked(h.Weight.Grad!, h.Mask), B: h.Bias!.Grad!.ToArray())).ToList();

        using var dist = new DeviceDistillation(_dev, teacher, student, null, zPass, xPass);
        dist.SetTrainingData(x, c);
        var z = zPass ? teacher.Base.Sample(n, new Rng(5)).Value : null;   // the CPU loss's first draws from the same stream
        dist.Step(Enumerable.Range(0, n).ToArray(), z, learningRate: 0, clipNorm: null);
        var actual = dist.TakeLossSums();
        string what = $"{kind} C={context} z={zPass} x={xPass}";
        foreach (var (name, e, a) in new[] { ("z", expected.Z, actual.Z), ("x", expected.X, actual.X), ("z_i", expected.IntermediateZ, actual.IntermediateZ),
                     ("x_i", expected.IntermediateX, actual.IntermediateX), ("θ_z", expected.ParametersZ, actual.ParametersZ), ("θ_x", expected.ParametersX, actual.ParametersX) })
            Assert.True(Math.Abs(e - a) <= 1e-5 + 1e-4 * Math.Abs(e), $"{what}: term {name}: expected {e}, got {a}");
        Assert.True(expected.Total > 0);
        var linears = dist.StudentLinears;
        Assert.Equal(pairs.Count, linears.Count);
        for (int i = 0; i < pairs.Count; i++)
        {
            Assert2.Close(grads[i].W, linears[i].GW.Download().ReadOnlySpan, 2e-3, 2e-5, $"{what}: student linear {i} dW");
            Assert2.Close(grads[i].B, linears[i].GB.Download().ReadOnlySpan, 2e-3, 2e-5, $"{what}: student linear {i} db");
        }
    }

    /// <summary>Reports per step, synchronously.</summary>
    private sealed class Steps(Action<DistillationProgress>? then = null) : IProgress<DistillationProgress>
    {
        public List<DistillationProgress> All { get; } = [];

        public void Report(DistillationProgress value)
        {
            All.Add(value);
            then?.Invoke(value);
        }
    }

    private static DistillationOptions Options(IFlowAccelerator? device, string? checkpoint = null) => new()
    {
        Steps = 4, BatchSize = 6, LearningRate = 3e-3, ClipNorm = 0.5, Seed = 7, ReportEverySteps = 1, Device = device, CheckpointPath = checkpoint,
    };

    private static float[] Weights(Flow<float> f) => f.Parameters().SelectMany(p => p.Value.ToArray()).ToArray();

    [Fact]
    public void AFewTrainerStepsMatchTheCpuRun()
    {
        var (teacher, cpuStudent) = Pair("maf_rqs", 2);
        var (_, devStudent) = Pair("maf_rqs", 2);
        var data = new TrainingData<float>(DeviceFlowTests.Data(10, 8), Context(10, 2, 9));
        var cpuSteps = new Steps();
        new DistillationTrainer<float>(teacher, cpuStudent, Options(null)) { Progress = cpuSteps }.Fit(data);
        var devSteps = new Steps();
        var teacherBefore = Weights(teacher);
        var trainer = new DistillationTrainer<float>(teacher, devStudent, Options(_dev)) { Progress = devSteps };
        trainer.Fit(data);
        Assert.Equal(teacherBefore, Weights(teacher));                   // the teacher stays frozen
        Assert.Equal(4, trainer.StepsDone);
        Assert.Equal(cpuSteps.All.Select(p => p.Step), devSteps.All.Select(p => p.Step));
        for (int i = 0; i < cpuSteps.All.Count; i++)
            Assert.True(Math.Abs(cpuSteps.All[i].Loss.Total - devSteps.All[i].Loss.Total) <= 2e-4 * cpuSteps.All[i].Loss.Total,
                $"step {cpuSteps.All[i].Step}: CPU loss {cpuSteps.All[i].Loss.Total}, device {devSteps.All[i].Loss.Total}");
        Assert2.Close(Weights(cpuStudent), Weights(devStudent), 2e-3, 2e-4, "student weights after 4 steps");
        Assert.Equal(4f, trainer.Optimizer.ExportState()["step"][0]);   // Adam's state came back too
    }

    [Fact]
    public void AnInterruptedDeviceRunResumesFromItsCheckpointAndAFailureKeepsTheStepsTaken()
    {
        var (teacher, cpuStudent) = Pair("maf", 2);
        var data = new TrainingData<float>(DeviceFlowTests.Data(10, 8), Context(10, 2, 9));
        new DistillationTrainer<float>(teacher, cpuStudent, Options(null)).Fit(data);
        // the CPU run of 4 steps stopped after step 2 (the schedule is that of 4 steps)
        var (_, twoStepStudent) = Pair("maf", 2);
        using (var cpuStop = new CancellationTokenSource())
            new DistillationTrainer<float>(teacher, twoStepStudent, Options(null)) { Progress = new Steps(p => { if (p.Step == 2) cpuStop.Cancel(); }) }.Fit(data, cpuStop.Token);

        string dir = Directory.CreateTempSubdirectory("nflow-distill-").FullName;
        try
        {
            string ckpt = Path.Combine(dir, "run.ckpt");
            // cancelled after step 2 on the device: the checkpoint holds the device's student and Adam state
            using var stop = new CancellationTokenSource();
            var (_, student) = Pair("maf", 2);
            var first = new DistillationTrainer<float>(teacher, student, Options(_dev, ckpt)) { Progress = new Steps(p => { if (p.Step == 2) stop.Cancel(); }) };
            first.Fit(data, stop.Token);
            Assert.Equal(2, first.StepsDone);
            Assert.True(File.Exists(ckpt));
            Assert2.Close(Weights(twoStepStudent), Weights(student), 2e-3, 2e-4, "the host student after the cancelled device run");
            string cpuCkpt = Path.Combine(dir, "cpu.ckpt");
            File.Copy(ckpt, cpuCkpt);
            var (_, resumed) = Pair("maf", 2);
            var second = new DistillationTrainer<float>(teacher, resumed, Options(_dev, ckpt));
            second.Fit(data, resumeFrom: ckpt);
            Assert.Equal(4, second.StepsDone);
            Assert2.Close(Weights(cpuStudent), Weights(resumed), 2e-3, 2e-4, "resumed on the device against the uninterrupted CPU run");
            // the device's checkpoint resumes on the CPU too
            var (_, onCpu) = Pair("maf", 2);
            new DistillationTrainer<float>(teacher, onCpu, Options(null, cpuCkpt)).Fit(data, resumeFrom: cpuCkpt);
            Assert2.Close(Weights(cpuStudent), Weights(onCpu), 2e-3, 2e-4, "resumed on the CPU from the device's checkpoint");

            // a failure (here the progress callback's) after step 2: the host student keeps the two steps
            var (_, failed) = Pair("maf", 2);
            var before = Weights(failed);
            var third = new DistillationTrainer<float>(teacher, failed, Options(_dev)) { Progress = new Steps(p => { if (p.Step == 2) throw new InvalidOperationException("stop"); }) };
            Assert.Throws<InvalidOperationException>(() => third.Fit(data));
            Assert.NotEqual(before, Weights(failed));
            Assert2.Close(Weights(twoStepStudent), Weights(failed), 2e-3, 2e-4, "the host student after a failure at step 2");
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void ADivergenceOnTheDeviceLeavesNoNonFiniteWeightInTheHostStudent()
    {
        // a learning rate of 1e30 makes step 1's weights ~1e30 and step 2's loss infinite; the CPU stops at step 2 with
        // its weights finite, the device notices at the report after step 3, when its weights are already NaN
        var (teacher, cpuStudent) = Pair("maf", 0);
        var data = new TrainingData<float>(DeviceFlowTests.Data(18, 8));
        DistillationOptions Diverging(IFlowAccelerator? device) => new() { Steps = 6, BatchSize = 6, LearningRate = 1e30, Seed = 7, ReportEverySteps = 3, Device = device };
        Assert.Throws<TrainingDivergedException>(() => new DistillationTrainer<float>(teacher, cpuStudent, Diverging(null)).Fit(data));
        Assert.All(Weights(cpuStudent), w => Assert.True(float.IsFinite(w)));
        var (_, student) = Pair("maf", 0);
        var start = Weights(student);
        Assert.Throws<TrainingDivergedException>(() => new DistillationTrainer<float>(teacher, student, Diverging(_dev)).Fit(data));
        var after = Weights(student);
        Assert.True(after.All(float.IsFinite), $"{after.Count(w => !float.IsFinite(w))} non-finite weights copied back into the host student");
        Assert.Equal(start, after); // no checkpoint: the host keeps the weights it started with
    }

    [Fact]
    public void BadInputIsRefusedByName()
    {
        var (teacher, student) = Pair("maf", 2);
        using var dist = new DeviceDistillation(_dev, teacher, student, null, zPass: true, xPass: true);
        Assert.Throws<InvalidOperationException>(() => dist.Step([0], new Rng(1).Normal<float>(1, D), 1e-3, null));
        Assert.Throws<ArgumentException>(() => dist.SetTrainingData(DeviceFlowTests.Data(4, 1)));          // the teacher is conditional
        dist.SetTrainingData(DeviceFlowTests.Data(4, 1), Context(4, 2, 1));
        Assert.Throws<ArgumentException>(() => dist.Step([0, 1], null, 1e-3, null));                        // the z-pass needs its draws
        Assert.Throws<ArgumentException>(() => dist.Step([0, 1], new Rng(1).Normal<float>(3, D), 1e-3, null));
        var (other, _) = Pair("maf", 0);
        Assert.Throws<ArgumentException>(() => new DeviceDistillation(_dev, other, student, null, true, true)); // shapes differ (context)
    }

    /// <summary>
    /// The frozen teacher is compiled with its weights only: its device buffers are exactly its parameters (the full
    /// compile adds gradients, two Adam moments, MADE masks and the incremental MADE), and training it throws.
    /// </summary>
    [Fact]
    public void TheFrozenTeacherHoldsItsWeightsOnly()
    {
        var (teacher, student) = Pair("maf_rqs", 2);
        long parameters = teacher.ParameterCount();
        long maskValues = DeviceFlowLayers.Steps(teacher).SelectMany(DeviceFlowLayers.Linears).Sum(h => h.Mask?.Length ?? 0);
        Assert.True(maskValues > 0);
        long Bytes(bool frozen)
        {
            long before = _dev.AllocatedBytes;
            var layers = DeviceFlowLayers.Compile(teacher, _dev, frozen);
            long bytes = _dev.AllocatedBytes - before;
            foreach (var l in layers) l.Dispose();
            return bytes;
        }
        Assert.Equal(4 * parameters, Bytes(frozen: true));
        Assert.True(Bytes(frozen: false) >= 4 * (4 * parameters + maskValues), "the full compile holds weights, gradients, two moments and masks");

        using var dist = new DeviceDistillation(_dev, teacher, student, null, zPass: true, xPass: true);
        var linears = dist.TeacherLinears.ToList();
        Assert.Equal(DeviceFlowLayers.Steps(teacher).Sum(s => DeviceFlowLayers.Linears(s).Count), linears.Count);
        Assert.All(linears, l => Assert.True(l.Frozen));
        Assert.All(dist.StudentLinears, l => Assert.False(l.Frozen));
        var first = linears[0];
        using var x = DeviceTensor.Zeros(_dev, 2, first.In);
        using var gy = DeviceTensor.Zeros(_dev, 2, first.Out);
        using var gx = DeviceTensor.Zeros(_dev, 2, first.In);
        first.Backward(x, gy, gx, parameterGradients: false); // the input's gradient is allowed
        Assert.Contains("frozen", Assert.Throws<InvalidOperationException>(() => first.Backward(x, gy, gx)).Message);
        using var scalars = DeviceTensor.Zeros(_dev, 8);
        Assert.Throws<InvalidOperationException>(() => first.Step(scalars, null));
        Assert.Throws<InvalidOperationException>(() => first.GW);
    }
}
