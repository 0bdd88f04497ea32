using NormalizingFlows.Autograd;
using NormalizingFlows.Flows;
using NormalizingFlows.Tensors;
using NormalizingFlows.Training;

namespace NormalizingFlows.Cuda.Tests;

/// <summary>
/// The inverse autoregressive layer (the distillation student, InverseAutoregressiveTransform) on ILGPU's CPU
/// accelerator: its sampling direction (one MADE pass per layer) and its density (D passes) against the library's,
/// affine and spline, with and without context; the compiled flow's host-side Inverse; training refused by name.
/// </summary>
public sealed class DeviceInverseAutoregressiveTests(CpuAcceleratorFixture fixture) : IClassFixture<CpuAcceleratorFixture>
{
    private readonly ComputeDevice _dev = fixture.Device;
    private const int D = 4;

    /// <summary>A two-layer student of a MAF teacher, its weights moved off the teacher's (so no layer is an identity or a copy).</summary>
    private static Flow<float> Student(string kind, int context)
    {
        var student = DistillationTrainer<float>.CreateStudent(DeviceFlowTests.Build(kind, context: context), new Rng(3), copyWeights: true);
        var noise = new Rng(21);
        foreach (var p in student.Parameters())
        {
            var s = p.Value.Span;
            for (int i = 0; i < s.Length; i++) s[i] += (float)(0.15 * noise.NextNormal());
        }
        return student;
    }

    private static Tensor<float>? Context(int n, int features) => features == 0 ? null : new Rng(9).Normal<float>(n, features);

    [Theory]
    [InlineData("maf", 0)]
    [InlineData("maf_rqs", 0)]
    [InlineData("maf", 2)]
    [InlineData("maf_rqs", 2)]
    public void SamplingDirectionAndLogProbMatchTheLibrary(string kind, int context)
    {
        var student = Student(kind, context);
        var z = new Rng(2).Normal<float>(24, D);
        var c = Context(24, context);
        Tensor<float> expected;
        float[] logp;
        using (GradMode.Disable())
        {
            expected = student.Transform.Inverse(new Var<float>(z), c is null ? null : new Var<float>(c)).X.Value;
            logp = student.LogProb(new Var<float>(expected), c is null ? null : new Var<float>(c)).Value.ToArray();
        }
        using var dflow = DeviceFlow.Compile(student, _dev);
        // through the device tensors, and through the host-side Inverse in two batches
        using var dz = DeviceTensor.Upload(_dev, z);
        using var dc = c is null ? null : DeviceTensor.Upload(_dev, c);
        using var dx = DeviceTensor.Zeros(_dev, 24, D);
        dflow.Inverse(dz, dx, dc);
        Assert2.Close(expected, dx.Download(), 1e-4, 1e-4, $"{kind} IAF inverse");
        Assert2.Close(expected, dflow.Inverse(z, c, batch: 16), 1e-4, 1e-4, $"{kind} IAF inverse from host base points");
        // the density direction: D sequential passes per layer
        Assert2.Close(logp, dflow.LogProb(expected, c, batch: 16), 1e-4, 2e-4, $"{kind} IAF log p");
    }

    [Fact]
    public void TheAcceleratedFlowMapsHostBasePointsAsTheLibrary()
    {
        var student = Student("maf_rqs", 2);
        var z = new Rng(4).Normal<float>(10, D);
        var c = Context(10, 2)!;
        Tensor<float> expected;
        using (GradMode.Disable()) expected = student.Transform.Inverse(new Var<float>(z), new Var<float>(c)).X.Value;
        using var accelerated = ((IFlowAccelerator)_dev).Compile(student);
        Assert2.Close(expected, accelerated.Inverse(z, c), 1e-4, 1e-4, "IAcceleratedFlow.Inverse");
        Assert.Throws<ArgumentException>(() => accelerated.Inverse(z));          // a conditional flow needs its context
        Assert.Throws<ArgumentException>(() => accelerated.Inverse(new Rng(1).Normal<float>(10, D + 1), c));
    }

    [Fact]
    public void TrainingThroughAnIafLayerIsRefusedByName()
    {
        using var dflow = DeviceFlow.Compile(Student("maf", 0), _dev);
        using var batch = DeviceTensor.Upload(_dev, DeviceFlowTests.Data(8, 1));
        var e = Assert.Throws<NotSupportedException>(() => dflow.TrainStep(batch, 1e-3));
        Assert.Contains("InverseAutoregressiveTransform", e.Message);
        Assert.Equal(0, dflow.Steps);
        // through the library's trainer: refused at the start, naming the layer
        var student = Student("maf", 0);
        var trainer = new MaximumLikelihoodTrainer<float>(student, new TrainingOptions { Epochs = 1, BatchSize = 4, Device = _dev });
        e = Assert.Throws<NotSupportedException>(() => trainer.Fit(new TrainingData<float>(DeviceFlowTests.Data(8, 2))));
        Assert.Contains("InverseAutoregressiveTransform", e.Message);
    }
}
