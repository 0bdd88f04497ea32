using NormalizingFlows.Autograd;
using NormalizingFlows.Flows;
using NormalizingFlows.Tensors;
using NormalizingFlows.Training;
using NormalizingFlows.Transforms;
using NormalizingFlows.Transforms.Autoregressive;
using Xunit.Abstractions;

namespace NormalizingFlows.Tests.Training;

public class DistillationTrainerTests(ITestOutputHelper output)
{
    private static Tensor<double> Context(int n, Rng rng)
    {
        var c = Tensor<double>.Empty(n, 1);
        rng.Uniform(c.Span, -1, 1);
        return c;
    }

    [Theory]
    [InlineData(0)]
    [InlineData(4)]
    public void InverseAutoregressiveLayerInvertsAndItsLogDetsCancel(int bins)
    {
        var rng = new Rng(3);
        var layer = bins == 0
            ? InverseAutoregressiveTransform<double>.Affine(4, rng, 1, ConditionerOptions.Default with { HiddenFeatures = 16, OutputInit = ConditionerOutputInit.Random })
            : InverseAutoregressiveTransform<double>.Spline(4, new NormalizingFlows.Transforms.Splines.RationalQuadraticSpline(bins, NormalizingFlows.Transforms.Splines.SplineDomain.Symmetric(3)), rng, 1,
                ConditionerOptions.Default with { HiddenFeatures = 16, OutputInit = ConditionerOutputInit.Random });
        var x = rng.Normal<double>(50, 4);
        var c = Context(50, rng);
        var (z, ldF) = layer.Forward(x, c);
        var (xBack, ldI) = layer.Inverse(z, c);
        for (int i = 0; i < x.Length; i++) Assert.Equal(x.ReadOnlySpan[i], xBack.Value.ReadOnlySpan[i], 1e-8);
        for (int i = 0; i < 50; i++) Assert.Equal(0.0, ldF.Value[i] + ldI.Value[i], 1e-8);
        Assert.True(Math.Abs(z.Value[0, 1] - x[0, 1]) > 1e-6, "the random-output layer should not be the identity");
    }

    [Fact]
    public void StudentReproducesTheTeachersSamplesAfterDistillation()
    {
        var rng = new Rng(7);
        const int d = 4;
        var teacher = FlowBuilders.Maf<double>(d, layers: 2, hidden: 24, contextFeatures: 1, rng: rng);
        // a teacher with a non-trivial map: a short maximum-likelihood fit to a curved conditional density
        var ctx = Context(2000, rng);
        var data = Tensor<double>.Empty(2000, d);
        for (int r = 0; r < 2000; r++)
        {
            double prev = 0;
            for (int j = 0; j < d; j++)
            {
                double v = Math.Sin(2 * ctx[r, 0]) + 0.6 * prev * prev - 0.5 + 0.4 * rng.NextNormal();
                data[r, j] = v;
                prev = v;
            }
        }
        new MaximumLikelihoodTrainer<double>(teacher, new TrainingOptions { Epochs = 6, BatchSize = 128, LearningRate = 3e-3, Seed = 2 })
            .Fit(new TrainingData<double>(data, ctx));
        var student = DistillationTrainer<double>.CreateStudent(teacher, new Rng(8), copyWeights: false);
        // the same z through both: teacher (sequential inverse) and student (one pass)
        var zTest = rng.Normal<double>(500, d);
        var cTest = Context(500, rng);
        double Mse()
        {
            using var _ = GradMode.Disable();
            var xt = teacher.Transform.Inverse(zTest, cTest).X.Value.ReadOnlySpan;
            var xs = student.Transform.Inverse(zTest, cTest).X.Value.ReadOnlySpan;
            double s = 0;
            for (int i = 0; i < xt.Length; i++) s += (xt[i] - xs[i]) * (xt[i] - xs[i]);
            return s / xt.Length;
        }
        double before = Mse();
        var teacherBefore = teacher.StateDict().ToDictionary(kv => kv.Key, kv => kv.Value.ToArray());
        var trainer = new DistillationTrainer<double>(teacher, student, new DistillationOptions { Steps = 800, BatchSize = 128, LearningRate = 3e-3, Seed = 1 });
        var loss = trainer.Fit(new TrainingData<double>(data, ctx));
        double after = Mse();
        output.WriteLine($"MSE(teacher, student) on the same z: before {before:G4}, after {after:G4}; final loss {loss}");
        Assert.True(before > 1e-2, $"a fresh student should differ from the teacher at first (MSE {before})");
        Assert.True(after < 0.01 * before, $"distillation should shrink the sample MSE by 100×: {before} → {after}");
        // the teacher was frozen during distillation (unchanged) and is trainable again afterwards
        foreach (var (name, value) in teacher.StateDict()) Assert.Equal(teacherBefore[name], value.ToArray());
        Assert.All(teacher.Parameters(), p => Assert.True(p.Trainable));
    }

    [Fact]
    public void TheLossIsZeroForAStudentThatEqualsTheTeacher()
    {
        // a one-feature flow: θ depends on the context only, so a student with copied weights is the exact inverse
        var rng = new Rng(11);
        var teacher = FlowBuilders.Maf<double>(1, layers: 2, hidden: 8, contextFeatures: 2, rng: rng);
        var student = DistillationTrainer<double>.CreateStudent(teacher, new Rng(2));
        var trainer = new DistillationTrainer<double>(teacher, student);
        using var scope = TensorScope.Begin();
        var x = rng.Normal<double>(64, 1);
        var c = rng.Normal<double>(64, 2);
        var loss = trainer.Step(x, c, new Rng(5));
        Assert.True(loss.Total < 1e-20, $"loss {loss}");
        var other = DistillationTrainer<double>.CreateStudent(teacher, new Rng(2), copyWeights: false);
        var lossOther = new DistillationTrainer<double>(teacher, other).Step(x, c, new Rng(5));
        Assert.True(lossOther.Total > 1e-4, $"a fresh student should not match: {lossOther}");
    }

    [Fact]
    public void MafLayerParametersPassAndFullPassInverseAgreeWithForwardAndInverse()
    {
        var rng = new Rng(13);
        var layer = MaskedSplineAutoregressive<double>.RationalQuadratic(5, rng, bins: 4, contextFeatures: 1,
            conditioner: ConditionerOptions.Default with { HiddenFeatures = 16, OutputInit = ConditionerOutputInit.Random });
        using var scope = TensorScope.Begin();
        var x = rng.Normal<double>(40, 5);
        var c = Context(40, rng);
        var (y, ld) = layer.Forward(x, c);
        var (y2, ld2, theta) = layer.ForwardWithParameters(x, c);
        Assert.Equal(y.Value.ToArray(), y2.Value.ToArray());
        Assert.Equal(ld.Value.ToArray(), ld2.Value.ToArray());
        Assert.Equal(layer.Made.Forward(x, c).Value.ToArray(), theta.Value.ToArray());
        var (xFull, ldFull) = layer.InverseFullPasses(y, c);
        var (xInc, ldInc) = layer.Inverse(y, c);
        for (int i = 0; i < x.Length; i++)
        {
            Assert.Equal(x.ReadOnlySpan[i], xFull.Value.ReadOnlySpan[i], 1e-8);
            Assert.Equal(xInc.Value.ReadOnlySpan[i], xFull.Value.ReadOnlySpan[i], 1e-10);
        }
        for (int i = 0; i < 40; i++) Assert.Equal(-ld.Value[i], ldFull.Value[i], 1e-8);
        Assert.False(xFull.RequiresGrad);
    }

    /// <summary>Distils a small conditional teacher for 30 steps (batches of 24 of 100 rows: 5 passes); cancels after <paramref name="cancelAt"/> steps (0: never) and resumes.</summary>
    private static (Flow<double> Student, DistillationTrainer<double> Trainer, DistillationLoss Loss) DistillWithResume(string ckpt, int cancelAt, Func<DistillationOptions, DistillationOptions>? change = null)
    {
        var rng = new Rng(21);
        var teacher = FlowBuilders.Maf<double>(2, layers: 2, hidden: 8, contextFeatures: 1, rng: rng);
        var data = new TrainingData<double>(rng.Normal<double>(100, 2), Context(100, rng));
        var options = new DistillationOptions { Steps = 30, BatchSize = 24, LearningRate = 3e-3, Seed = 5, ReportEverySteps = 1, CheckpointPath = ckpt };
        var cts = new CancellationTokenSource();
        var student = DistillationTrainer<double>.CreateStudent(teacher, new Rng(8), copyWeights: false);
        var trainer = new DistillationTrainer<double>(teacher, student, options) { Progress = new SyncProgress<DistillationProgress>(p => { if (p.Step == cancelAt) cts.Cancel(); }) };
        var loss = trainer.Fit(data, cts.Token);
        if (cancelAt == 0) return (student, trainer, loss);
        Assert.Equal(cancelAt, trainer.StepsDone);
        Assert.True(File.Exists(ckpt));
        var resumedStudent = DistillationTrainer<double>.CreateStudent(teacher, new Rng(8), copyWeights: false);
        var resumed = new DistillationTrainer<double>(teacher, resumedStudent, (change ?? (o => o))(options));
        return (resumedStudent, resumed, resumed.Fit(data, resumeFrom: ckpt));
    }

    [Fact]
    public void ACancelledDistillationResumesToTheSameStudentBitForBit()
    {
        string dir = Directory.CreateTempSubdirectory("nflow-distill-").FullName;
        try
        {
            var (straight, t1, l1) = DistillWithResume(Path.Combine(dir, "a.ckpt"), 0);
            var (resumed, t2, l2) = DistillWithResume(Path.Combine(dir, "b.ckpt"), 11); // inside the third pass over the data
            Assert.Equal(30, t1.StepsDone);
            Assert.Equal(30, t2.StepsDone);
            foreach (var (k, v) in straight.StateDict()) Assert.Equal(v.ToArray(), resumed.StateDict()[k].ToArray());
            Assert.Equal(l1, l2); // the last report covers the last step alone (ReportEverySteps = 1)
            // another seed is refused by name
            var ex = Assert.Throws<CheckpointMismatchException>(() => DistillWithResume(Path.Combine(dir, "c.ckpt"), 4, o => o with { Seed = 6 }));
            Assert.Equal("Seed", ex.Setting);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void NonAutoregressiveTeachersAreRejected()
    {
        var teacher = FlowBuilders.RealNvp<double>(4, layers: 2, hidden: 8);
        var e = Assert.Throws<ArgumentException>(() => DistillationTrainer<double>.CreateStudent(teacher));
        Assert.Contains("MAF", e.Message);
    }
}
