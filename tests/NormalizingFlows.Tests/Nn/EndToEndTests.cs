using NormalizingFlows.Autograd;
using NormalizingFlows.Nn;
using NormalizingFlows.Optim;
using NormalizingFlows.Tensors;

namespace NormalizingFlows.Tests.Nn;

/// <summary>Training through the public API only, one <see cref="TensorScope"/> per step (the intended usage).</summary>
public class EndToEndTests
{
    [Fact]
    public void Mlp_RegressesANoisySine_WithAdam()
    {
        var rng = new Rng(2024);
        int nTrain = 512;
        var xs = Tensor<float>.Empty(nTrain, 1); var ys = Tensor<float>.Empty(nTrain, 1);
        for (int i = 0; i < nTrain; i++) { double x = 2 * rng.NextDouble() - 1; xs[i] = (float)x; ys[i] = (float)(Math.Sin(3 * x) + 0.1 * rng.NextNormal()); }
        var net = new Mlp<float>(1, [32, 32], 1, rng.Split(), Activation.Tanh);
        var opt = new Adam<float>(net.Parameters(), 1e-2);
        var schedule = new LinearWarmupSchedule(new CosineDecaySchedule(1e-2, 1500, 1e-4), 50);
        int batch = 64;
        var idx = new int[batch];
        for (int step = 0; step < 1500; step++)
        {
            using var scope = TensorScope.Begin();
            for (int b = 0; b < batch; b++) idx[b] = rng.NextInt(nTrain);
            var xb = Tensor<float>.Empty(batch, 1); var yb = Tensor<float>.Empty(batch, 1);
            for (int b = 0; b < batch; b++) { xb[b] = xs[idx[b]]; yb[b] = ys[idx[b]]; }
            opt.LearningRate = schedule.LearningRate(step);
            opt.ZeroGrad();
            var loss = Ops.MseLoss(net.Forward(xb), yb);
            loss.Backward();
            double norm = GradientClipping.ClipGlobalNorm(net.Parameters(), 10.0);
            Assert.True(double.IsFinite(norm));
            opt.Step();
        }
        // test MSE against the noise-free function on a grid
        int nTest = 200;
        var xt = Tensor<float>.Empty(nTest, 1);
        for (int i = 0; i < nTest; i++) xt[i] = (float)(-1 + 2.0 * i / (nTest - 1));
        net.Eval();
        using var _ = GradMode.Disable();
        var pred = net.Forward(xt).Value;
        double mse = Enumerable.Range(0, nTest).Average(i => Math.Pow(pred[i] - Math.Sin(3 * xt[i]), 2));
        Assert.True(mse < 3e-3, $"test MSE {mse}");
    }

    [Fact]
    public void Mlp_ClassifiesTwoSpirals_WithCrossEntropy()
    {
        var rng = new Rng(7);
        (Tensor<float> x, int[] y) Spirals(int n, Rng r)
        {
            var x = Tensor<float>.Empty(n, 2); var y = new int[n];
            for (int i = 0; i < n; i++)
            {
                int c = i % 2;
                double t = 0.25 + 2.5 * r.NextDouble(); // a bit over one turn and a quarter
                double a = 2 * Math.PI * t * 0.6 + c * Math.PI;
                x[i, 0] = (float)(t * Math.Cos(a) / 2.75 + 0.03 * r.NextNormal());
                x[i, 1] = (float)(t * Math.Sin(a) / 2.75 + 0.03 * r.NextNormal());
                y[i] = c;
            }
            return (x, y);
        }
        var (xTrain, yTrain) = Spirals(1000, rng);
        var (xTest, yTest) = Spirals(1000, rng);
        xTrain.Untrack(); xTest.Untrack();
        var net = new Mlp<float>(2, [48, 48], 2, rng.Split(), Activation.Silu);
        var opt = new AdamW<float>(net.Parameters(), 1e-2, weightDecay: 1e-4);
        var schedule = new CosineDecaySchedule(1e-2, 1500, 1e-4);
        int batch = 128;
        var labels = new int[batch];
        for (int step = 0; step < 1500; step++)
        {
            using var scope = TensorScope.Begin();
            var xb = Tensor<float>.Empty(batch, 2);
            for (int b = 0; b < batch; b++)
            {
                int k = rng.NextInt(1000);
                xb[b, 0] = xTrain[k, 0]; xb[b, 1] = xTrain[k, 1]; labels[b] = yTrain[k];
            }
            opt.LearningRate = schedule.LearningRate(step);
            opt.ZeroGrad();
            Ops.CrossEntropy(net.Forward(xb), labels).Backward();
            opt.Step();
        }
        using var _ = GradMode.Disable();
        var logits = net.Forward(xTest).Value;
        int correct = 0;
        for (int i = 0; i < 1000; i++) if ((logits[i, 1] > logits[i, 0] ? 1 : 0) == yTest[i]) correct++;
        Assert.True(correct >= 950, $"test accuracy {correct / 10.0}%");
    }

    [Fact]
    public void TensorScope_ReturnsStepBuffers_ParametersAndOptimizerStateSurvive()
    {
        var rng = new Rng(3);
        var net = new Made<float>(3, 16, rng, outputMultiplier: 2, contextFeatures: 1);
        var bn = new BatchNorm1d<float>(6);
        var opt = new Adam<float>(net.Parameters().Concat(bn.Parameters()), 1e-3);
        Var<float> loss;
        Tensor<float> hidden;
        int tracked;
        using (var scope = TensorScope.Begin())
        {
            var x = rng.Normal<float>(32, 3);
            var c = rng.Normal<float>(32, 1);
            var h = net.Forward(x, c);
            hidden = h.Value;
            loss = Ops.Mean(Ops.Square(bn.Forward(h)));
            opt.ZeroGrad();
            loss.Backward();
            opt.Step();
            tracked = scope.Count;
        }
        Assert.True(tracked > 10, $"only {tracked} tensors tracked");
        Assert.True(loss.Value.IsDisposed);
        Assert.True(hidden.IsDisposed);
        Assert.True(loss.Grad!.IsDisposed);             // gradients of intermediate nodes go back too
        foreach (var p in net.Parameters().Concat(bn.Parameters()))
        {
            Assert.False(p.Value.IsDisposed);
            Assert.False(p.Grad!.IsDisposed);           // leaf gradients live on until zeroed
        }
        Assert.All(net.NamedBuffers().Concat(bn.NamedBuffers()), b => Assert.False(b.Value.IsDisposed));
        Assert.All(opt.ExportState().Values, t => Assert.False(t.IsDisposed));
        // the next step works on the surviving state
        using (TensorScope.Begin())
        {
            opt.ZeroGrad();
            Ops.Mean(Ops.Square(net.Forward(rng.Normal<float>(8, 3), rng.Normal<float>(8, 1)))).Backward();
            opt.Step();
        }
        Assert.Equal(2, opt.StepCount);
    }
}
