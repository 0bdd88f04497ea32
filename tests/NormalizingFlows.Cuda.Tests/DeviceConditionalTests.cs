using NormalizingFlows.Autograd;
using NormalizingFlows.Flows;
using NormalizingFlows.Optim;
using NormalizingFlows.Tensors;

namespace NormalizingFlows.Cuda.Tests;

/// <summary>
/// Conditional flows and weighted events on the device against the library's CPU path with the same weights, on
/// ILGPU's CPU accelerator: log p(x | c), the inverse from the same base points, training steps (unit and per-event
/// weights) and the errors for a missing or misshapen context.
/// </summary>
public sealed class DeviceConditionalTests(CpuAcceleratorFixture fixture) : IClassFixture<CpuAcceleratorFixture>
{
    private readonly ComputeDevice _dev = fixture.Device;
    private const int D = 4, C = 2;

    public static TheoryData<string> Kinds => DeviceFlowTests.Kinds;

    private static Tensor<float> Context(int n, long seed)
    {
        var c = new Rng(seed).Normal<float>(n, C);
        var s = c.Span;
        for (int i = 0; i < s.Length; i++) s[i] = 2 * s[i] + 1; // a context that moves the density
        return c;
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void ConditionalLogProbMatchesTheLibrary(string kind)
    {
        var flow = DeviceFlowTests.Build(kind, context: C);
        var x = DeviceFlowTests.Data(24, 1);
        var c = Context(24, 2);
        float[] expected, other;
        using (GradMode.Disable())
        {
            expected = flow.LogProb(new Var<float>(x), new Var<float>(c)).Value.ToArray();
            other = flow.LogProb(new Var<float>(x), new Var<float>(Context(24, 3))).Value.ToArray();
        }
        Assert.True(expected.Zip(other).Max(p => Math.Abs(p.First - p.Second)) > 0.05, $"{kind}: the context hardly moves log p");
        using var dflow = DeviceFlow.Compile(flow, _dev);
        Assert.Equal(C, dflow.ContextFeatures);
        Assert2.Close(expected, dflow.LogProb(x, c, batch: 16), 1e-4, 2e-4, $"{kind} log p(x | c)");
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void ConditionalInverseMatchesTheLibraryFromTheSameBasePoints(string kind)
    {
        var flow = DeviceFlowTests.Build(kind, context: C);
        var z = new Rng(2).Normal<float>(16, D);
        var c = Context(16, 4);
        Tensor<float> expected;
        using (GradMode.Disable()) expected = flow.Transform.Inverse(new Var<float>(z), new Var<float>(c)).X.Value;
        using var dflow = DeviceFlow.Compile(flow, _dev);
        using var dz = DeviceTensor.Upload(_dev, z);
        using var dc = DeviceTensor.Upload(_dev, c);
        using var dx = DeviceTensor.Zeros(_dev, 16, D);
        dflow.Inverse(dz, dx, dc);
        Assert2.Close(expected, dx.Download(), 1e-4, 1e-4, $"{kind} inverse given c");
    }

    [Fact]
    public void ConditionalSamplesAreSeededAndScoreLikeTheLibrary()
    {
        var flow = DeviceFlowTests.Build("maf", context: C);
        var c = Context(32, 5);
        using var dflow = DeviceFlow.Compile(flow, _dev);
        using var dc = DeviceTensor.Upload(_dev, c);
        using var a = dflow.Sample(32, seed: 5, dc);
        using var b = dflow.Sample(32, seed: 5, dc);
        var xa = a.Download();
        Assert.Equal(xa.ToArray(), b.Download().ToArray());
        float[] expected;
        using (GradMode.Disable()) expected = flow.LogProb(new Var<float>(xa), new Var<float>(c)).Value.ToArray();
        Assert2.Close(expected, dflow.LogProb(xa, c), 1e-4, 2e-4, "log p of conditional device samples");
    }

    [Theory]
    [InlineData("realnvp", false)]
    [InlineData("nsf_c", false)]
    [InlineData("maf", false)]
    [InlineData("maf_rqs", false)]
    [InlineData("realnvp", true)]
    [InlineData("maf", true)]
    public void ConditionalTrainingStepsMatchTheCpuAdamPath(string kind, bool weighted)
    {
        // the tolerances of DeviceFlowTests.TrainingStepsMatchTheCpuAdamPath; weighted: MaximumLikelihoodLoss's
        // −Σ w log p / (B·w̄) with w̄ the whole set's mean weight (some weights negative), the device given w/w̄
        const double lr = 1e-3;
        const int steps = 4, n = 24;
        var cpu = DeviceFlowTests.Build(kind, context: C);
        var gpu = DeviceFlowTests.Build(kind, context: C);
        var start = gpu.Parameters().Select(p => p.Value.ToArray()).ToList();
        var adam = new Adam<float>(cpu.Parameters(), learningRate: lr);
        var weights = new Rng(8).Uniform<float>([steps * n], -0.3, 2.2);
        double meanWeight = weights.ToArray().Sum(v => (double)v) / weights.Length;
        using var dflow = DeviceFlow.Compile(gpu, _dev);
        for (int step = 0; step < steps; step++)
        {
            var batch = DeviceFlowTests.Data(n, 100 + step);
            var c = Context(n, 200 + step);
            var w = Tensor<float>.From(weights.ToArray()[(step * n)..((step + 1) * n)], n);
            adam.ZeroGrad();
            var logp = cpu.LogProb(new Var<float>(batch), new Var<float>(c));
            var loss = weighted ? Ops.ScaleShift(Ops.Sum(Ops.Mul(logp, new Var<float>(w))), -1.0 / (n * meanWeight)) : Ops.Neg(Ops.Mean(logp));
            loss.Backward();
            adam.Step();
            using var db = DeviceTensor.Upload(_dev, batch);
            using var dc = DeviceTensor.Upload(_dev, c);
            using var dw = weighted ? DeviceTensor.Upload(_dev, Tensor<float>.From(w.ToArray().Select(v => (float)(v / meanWeight)).ToArray(), n)) : null;
            float deviceLoss = dflow.TrainStep(db, lr, readLoss: true, dc, dw)!.Value;
            float cpuLoss = loss.Value.ReadOnlySpan[0];
            Assert.True(Math.Abs(deviceLoss - cpuLoss) <= 2e-4 * Math.Abs(cpuLoss) + 1e-5, $"{kind} step {step}: device loss {deviceLoss}, CPU {cpuLoss}");
        }
        dflow.CopyTo(gpu);
        DeviceFlowTests.SameTrainedWeights(cpu, gpu, start, steps, kind);
    }

    [Theory]
    [InlineData("realnvp")]
    [InlineData("maf")]
    public void OneConditionalStepsGradientsMatchAutograd(string kind)
    {
        // the context weights' gradients too: a context column dropped or shifted in the device's [x, c] would show here
        var cpu = DeviceFlowTests.Build(kind, context: C);
        var gpu = DeviceFlowTests.Build(kind, context: C);
        var batch = DeviceFlowTests.Data(24, 100);
        var c = Context(24, 7);
        Ops.Neg(Ops.Mean(cpu.LogProb(new Var<float>(batch), new Var<float>(c)))).Backward();
        using var dflow = DeviceFlow.Compile(gpu, _dev);
        using var db = DeviceTensor.Upload(_dev, batch);
        using var dc = DeviceTensor.Upload(_dev, c);
        dflow.TrainStep(db, 1e-3, context: dc);
        var pairs = dflow.Pairs(cpu).ToList();
        for (int i = 0; i < pairs.Count; i++)
        {
            var expected = pairs[i].Host.Weight.Grad!.ReadOnlySpan;
            double scale = 0;
            foreach (var v in expected) scale = Math.Max(scale, Math.Abs(v));
            Assert.True(scale > 0, $"{kind} layer {i}: zero gradient");
            Assert2.Close(expected, pairs[i].Device.GW.Download().ReadOnlySpan, 1e-4, 1e-4 * scale, $"{kind} layer {i} weight gradient");
        }
    }

    [Fact]
    public void AMissingOrMisshapenContextIsNamed()
    {
        using var conditional = DeviceFlow.Compile(DeviceFlowTests.Build("realnvp", context: C), _dev);
        using var plain = DeviceFlow.Compile(DeviceFlowTests.Build("realnvp"), _dev);
        using var x = DeviceTensor.Upload(_dev, DeviceFlowTests.Data(8, 1));
        using var lp = DeviceTensor.Zeros(_dev, 8);
        using var wrongCols = DeviceTensor.Zeros(_dev, 8, C + 1);
        using var wrongRows = DeviceTensor.Zeros(_dev, 7, C);
        using var good = DeviceTensor.Zeros(_dev, 8, C);
        Assert.Contains("conditional", Assert.Throws<ArgumentException>(() => conditional.LogProb(x, lp)).Message);
        Assert.Contains("context", Assert.Throws<ArgumentException>(() => conditional.LogProb(x, lp, wrongCols)).Message);
        Assert.Contains("[8, 2]", Assert.Throws<ArgumentException>(() => conditional.TrainStep(x, 1e-3, context: wrongRows)).Message);
        Assert.Contains("no context", Assert.Throws<ArgumentException>(() => plain.LogProb(x, lp, good)).Message);
        Assert.Contains("[3, 2]", Assert.Throws<ArgumentException>(() => conditional.LogProb(DeviceFlowTests.Data(3, 1), DeviceFlowTests.Data(3, 1))).Message);
        using var shortWeights = DeviceTensor.Zeros(_dev, 7);
        Assert.Contains("weights", Assert.Throws<ArgumentException>(() => plain.TrainStep(x, 1e-3, weights: shortWeights)).Message);
    }
}
