using NormalizingFlows.Autograd;
using NormalizingFlows.Distributions;
using NormalizingFlows.Flows;
using NormalizingFlows.Optim;
using NormalizingFlows.Tensors;
using NormalizingFlows.Transforms;

namespace NormalizingFlows.Cuda.Tests;

// A loss computed on the host from the device flow's log q (IAcceleratedFlow.ForwardLogProb, BackwardLogProb,
// ApplyGradients; the multichannel integrator's channel-weight network and mixture loss), in this class for its
// accelerator's compiled kernels: for a conditional unit-cube flow and the same transform over a standard normal, log q
// and the parameter gradients of Σ g_r log q_r against autograd, Σ g² against the host gradients' squares; three steps
// with a clip factor computed from that Σ g² against the library's clip and Adam (log q at every step, final weights);
// calls out of order are refused.
public sealed partial class DeviceUnitCubeTests
{
    private const int N = 12, D = 3, K = 2;

    private static Flow<float> HostLossFlow(bool unitCube)
    {
        var flow = UnitFlow(7, D, context: K);
        return unitCube ? flow : new Flow<float>(flow.Transform, new StandardNormal<float>(D));
    }

    /// <summary>The host's log q with gradients: log|det| for the unit cube (its base density is 1 there), log p otherwise.</summary>
    private static Var<float> HostLogQ(Flow<float> flow, Tensor<float> x, Tensor<float> context, bool unitCube) =>
        unitCube ? flow.Transform.Forward(new Var<float>(x), new Var<float>(context)).LogAbsDet : flow.LogProb(new Var<float>(x), new Var<float>(context));

    private static (Tensor<float> X, Tensor<float> Context, Tensor<float> G) HostLossInputs()
    {
        var rng = new Rng(41);
        var x = rng.Uniform<float>([N, D]).Untrack();
        var context = Tensor<float>.Zeros(N, K).Untrack();
        for (int i = 0; i < N; i++) context.Span[i * K + i % K] = 1;
        var g = rng.Normal<float>(N).Untrack();
        return (x, context, g);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void LogQAndTheGradientsOfAnUpstreamGradientAreAutogradsWithTheirSumOfSquares(bool unitCube)
    {
        var host = HostLossFlow(unitCube);
        var (x, context, g) = HostLossInputs();
        using var dflow = DeviceFlow.Compile(host, _dev);
        using var dx = DeviceTensor.Upload(_dev, x); using var dc = DeviceTensor.Upload(_dev, context); using var dg = DeviceTensor.Upload(_dev, g);
        using var dlq = DeviceTensor.Zeros(_dev, N);
        dflow.ForwardLogProb(dx, dc, dlq);
        double squares = dflow.BackwardLogProb(dx, dc, dg);

        var logq = HostLogQ(host, x, context, unitCube);
        Assert2.Close(logq.Value, dlq.Download(), 1e-4, 1e-5, "log q");
        foreach (var p in host.Parameters()) p.ZeroGrad();
        Ops.Sum(Ops.Mul(new Var<float>(g), logq)).Backward();
        double expected = 0;
        foreach (var (h, dev) in dflow.Pairs(host))
        {
            Assert2.Close(h.Weight.Grad!, dev.GW.Download(), 1e-3, 1e-4 * h.Weight.Grad!.ToArray().Max(Math.Abs) + 1e-7, "weight gradient");
            Assert2.Close(h.Bias!.Grad!, dev.GB.Download(), 1e-3, 1e-4 * h.Bias!.Grad!.ToArray().Max(Math.Abs) + 1e-7, "bias gradient");
            expected += h.Weight.Grad!.ToArray().Sum(v => (double)v * v) + h.Bias!.Grad!.ToArray().Sum(v => (double)v * v);
        }
        Assert.True(expected > 1e-2, $"Σ g² {expected}: the gradients are too small to test");
        Assert.True(Math.Abs(squares - expected) <= 1e-4 * expected, $"Σ g²: host {expected}, device {squares}");
    }

    [Fact]
    public void StepsWithAClipFactorFromTheSumOfSquaresAreTheLibrarysClipAndAdam()
    {
        const bool unitCube = true; // the normal base's gradient is the previous test's
        const int steps = 3;
        const double lr = 1e-2;
        var cpu = HostLossFlow(unitCube);
        var deviceFlow = HostLossFlow(unitCube);
        var (x, context, g) = HostLossInputs();
        var adam = new Adam<float>(cpu.Parameters().Where(p => p.Trainable), lr);
        using var accelerated = _dev.Compile(deviceFlow, new Adam<float>(deviceFlow.Parameters().Where(p => p.Trainable), lr));
        for (int s = 0; s < steps; s++)
        {
            // the points go down once: later steps evaluate them again at the new weights
            var lq = s == 0 ? accelerated.ForwardLogProb(x, context) : accelerated.ForwardLogProb(null);
            adam.ZeroGrad();
            var logq = HostLogQ(cpu, x, context, unitCube);
            Assert2.Close(logq.Value.ReadOnlySpan, lq, 1e-4, 1e-4, $"log q at step {s}");
            Ops.Sum(Ops.Mul(new Var<float>(g), logq)).Backward();
            double squares = accelerated.BackwardLogProb(g);
            // a clip norm below the gradients' norm, so that the factor is < 1 (the CPU's: GradientClipping)
            double clip = 0.5 * Math.Sqrt(squares);
            double norm = GradientClipping.ClipGlobalNorm(adam.Parameters, clip);
            Assert.True(Math.Abs(norm - Math.Sqrt(squares)) <= 1e-4 * norm, $"step {s}: norm {norm} on the host, {Math.Sqrt(squares)} on the device");
            accelerated.ApplyGradients(lr, clip / (Math.Sqrt(squares) + 1e-6));
            adam.Step();
        }
        accelerated.CopyTo(deviceFlow);
        var expected = cpu.Parameters().ToList(); var actual = deviceFlow.Parameters().ToList();
        var start = HostLossFlow(unitCube).Parameters().ToList();
        double moved = 0;
        for (int i = 0; i < expected.Count; i++)
        {
            Assert2.Close(expected[i].Value, actual[i].Value, 0, 2e-3, $"parameter {i}");
            moved = Math.Max(moved, expected[i].Value.ToArray().Zip(start[i].Value.ToArray()).Max(p => Math.Abs(p.First - p.Second)));
        }
        Assert.True(moved > 1e-2, $"the steps moved the weights by at most {moved}");
    }

    [Fact]
    public void CallsOutOfOrderAreRefused()
    {
        var flow = HostLossFlow(unitCube: true);
        var (x, context, g) = HostLossInputs();
        using var accelerated = _dev.Compile(flow, new Adam<float>(flow.Parameters().Where(p => p.Trainable), 1e-2));
        Assert.Throws<InvalidOperationException>(() => accelerated.ForwardLogProb(null));
        Assert.Throws<InvalidOperationException>(() => accelerated.BackwardLogProb(g));
        Assert.Throws<InvalidOperationException>(() => accelerated.ApplyGradients(1e-2));
        Assert.Throws<ArgumentException>(() => accelerated.ForwardLogProb(x)); // a conditional flow needs the context
        accelerated.ForwardLogProb(x, context);
        Assert.Throws<ArgumentException>(() => accelerated.BackwardLogProb(Tensor<float>.Zeros(N - 1))); // one entry per point
        accelerated.Sample(4, 1, context.CopyRows(0, 4)); // another pass in between: its forward is gone
        Assert.Throws<InvalidOperationException>(() => accelerated.BackwardLogProb(g));
        accelerated.ForwardLogProb(null);
        accelerated.BackwardLogProb(g);
        accelerated.ApplyGradients(1e-2);
        Assert.Throws<InvalidOperationException>(() => accelerated.ApplyGradients(1e-2)); // the gradients were used
    }
}
