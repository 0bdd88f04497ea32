using NormalizingFlows.Autograd;
using NormalizingFlows.Nn;
using NormalizingFlows.Tensors;
using static NormalizingFlows.Tests.Nn.NnTestUtil;

namespace NormalizingFlows.Tests.Nn;

public class LayerTests
{
    [Fact]
    public void MaskedLinearOp_GradCheck_AndMaskedWeightsGetNoGradient()
    {
        var rng = new Rng(1);
        var mask = Tensor<double>.Empty(3, 4);
        for (int i = 0; i < mask.Length; i++) mask[i] = (i % 3 == 0) ? 0 : 1;
        var x = RandomD(rng, 5, 4); var w = RandomD(rng, 3, 4); var b = RandomD(rng, 3);
        var r = GradCheck.Check(v => MaskedLinearOp.Apply(v[0], v[1], mask, v[2]), x, w, b);
        Assert.True(r.Passed, r.ToString());

        var wv = new Var<double>(w, requiresGrad: true);
        var y = MaskedLinearOp.Apply(new Var<double>(x), wv, mask);
        Ops.Sum(Ops.Square(y)).Backward();
        for (int i = 0; i < mask.Length; i++)
            if (mask[i] == 0) Assert.Equal(0.0, wv.Grad![i]);
            else Assert.NotEqual(0.0, wv.Grad![i]);
        // value equals an unfused x·(W∘M)ᵀ
        var wm = Tensor<double>.EmptyLike(w);
        for (int i = 0; i < w.Length; i++) wm[i] = w[i] * mask[i];
        var reference = Ops.Linear(new Var<double>(x), new Var<double>(wm));
        for (int i = 0; i < y.Value.Length; i++) Assert.Equal(reference.Value[i], y.Value[i], 12);
    }

    [Fact]
    public void MaskedLinear_Module_GradCheck()
    {
        var rng = new Rng(2);
        var m = new bool[4, 3];
        for (int o = 0; o < 4; o++) for (int i = 0; i < 3; i++) m[o, i] = (o + i) % 2 == 0;
        var layer = new MaskedLinear<double>(m, rng);
        Assert.Equal(["weight", "bias"], layer.NamedParameters().Select(p => p.Key));
        Assert.Equal(["mask"], layer.NamedBuffers().Select(p => p.Key));
        var r = CheckModule(layer.Forward, layer, RandomD(rng, 6, 3));
        Assert.True(r.Passed, r.ToString());
    }

    [Fact]
    public void Linear_DefaultInit_MatchesPyTorchBounds_AndZeroInit()
    {
        var rng = new Rng(3);
        var l = new Linear<float>(100, 50, rng);
        double bound = 1.0 / Math.Sqrt(100);
        Assert.True(l.Weight.Value.ToArray().All(v => Math.Abs(v) <= bound));
        Assert.True(l.Bias!.Value.ToArray().All(v => Math.Abs(v) <= bound));
        double var = l.Weight.Value.ToArray().Select(v => (double)v * v).Average();
        Assert.InRange(var, bound * bound / 3 * 0.9, bound * bound / 3 * 1.1); // U(−b, b) has variance b²/3
        Assert.Equal([50, 100], l.Weight.Value.Shape.ToArray());

        var z = new Linear<float>(4, 2, rng, init: LinearInit.Zeros);
        Assert.True(z.Weight.Value.ToArray().All(v => v == 0) && z.Bias!.Value.ToArray().All(v => v == 0));
        var x = new Rng(4).Normal<float>(3, 4);
        Assert.True(z.Forward(x).Value.ToArray().All(v => v == 0));

        var xav = new Linear<double>(30, 20, rng, init: LinearInit.XavierUniform);
        double xb = Math.Sqrt(6.0 / 50);
        Assert.True(xav.Weight.Value.ToArray().All(v => Math.Abs(v) <= xb));
        Assert.True(xav.Bias!.Value.ToArray().All(v => v == 0));
    }

    [Fact]
    public void Init_KaimingAndXavierNormal_HaveTheirStandardDeviations()
    {
        var rng = new Rng(5);
        var w = Tensor<double>.Empty(400, 200);
        Init.KaimingNormal(w, rng);
        Assert.InRange(Math.Sqrt(w.ToArray().Select(v => v * v).Average()), 0.97 * Math.Sqrt(2.0 / 200), 1.03 * Math.Sqrt(2.0 / 200));
        Init.XavierNormal(w, rng);
        Assert.InRange(Math.Sqrt(w.ToArray().Select(v => v * v).Average()), 0.97 * Math.Sqrt(2.0 / 600), 1.03 * Math.Sqrt(2.0 / 600));
        Init.KaimingUniform(w, rng);
        Assert.True(w.ToArray().All(v => Math.Abs(v) <= Math.Sqrt(2.0) * Math.Sqrt(3.0 / 200)));
        Init.Constant(w, 0.25);
        Assert.True(w.ToArray().All(v => v == 0.25));
        Assert.Equal((200, 400), Init.Fans(w));
    }

    [Fact]
    public void Dropout_FixedMask_GradCheck()
    {
        var rng = new Rng(6);
        var mask = Tensor<double>.Empty(4, 5);
        for (int i = 0; i < mask.Length; i++) mask[i] = i % 4 == 1 ? 0 : 1 / 0.75;
        var r = GradCheck.Check(v => Ops.Sum(Ops.Square(Dropout<double>.ApplyMask(v[0], mask))), RandomD(rng, 4, 5));
        Assert.True(r.Passed, r.ToString());
    }

    [Fact]
    public void Dropout_TrainDropsAndRescales_EvalIsIdentity_SeedIsReproducible()
    {
        var x = Tensor<double>.Full(1.0, 200, 100);
        var d = new Dropout<double>(0.3, new Rng(7));
        var y = d.Forward(x).Value.ToArray();
        double zeros = y.Count(v => v == 0) / (double)y.Length;
        Assert.InRange(zeros, 0.28, 0.32);
        Assert.True(y.All(v => v == 0 || Math.Abs(v - 1 / 0.7) < 1e-12));
        Assert.InRange(y.Average(), 0.97, 1.03);
        var again = new Dropout<double>(0.3, new Rng(7)).Forward(x).Value.ToArray();
        Assert.Equal(y, again);
        d.Eval();
        var xv = new Var<double>(x);
        Assert.Same(xv, d.Forward(xv));
    }

    [Fact]
    public void BatchNorm_TrainMode_GradCheck()
    {
        var rng = new Rng(8);
        var bn = new BatchNorm1d<double>(3);
        rng.Normal(bn.Weight!.Value.Span, 1, 0.3);
        rng.Normal(bn.Bias!.Value.Span);
        var x = RandomD(rng, 7, 3);
        // a nonlinear read-out so that the gradient does not vanish by the normalisation's invariances
        var r = CheckModule(v => Ops.Tanh(bn.Forward(v)), bn, x);
        Assert.True(r.Passed, r.ToString());
    }

    [Fact]
    public void BatchNorm_EvalMode_GradCheck()
    {
        var rng = new Rng(9);
        var bn = new BatchNorm1d<double>(3);
        rng.Normal(bn.Weight!.Value.Span, 1, 0.3);
        rng.Uniform(bn.RunningVar.Span, 0.5, 2);
        rng.Normal(bn.RunningMean.Span);
        bn.Eval();
        var r = CheckModule(v => Ops.Tanh(bn.Forward(v)), bn, RandomD(rng, 5, 3));
        Assert.True(r.Passed, r.ToString());
    }

    [Fact]
    public void BatchNorm_TrainNormalises_UpdatesRunningStats_EvalUsesThem()
    {
        var rng = new Rng(10);
        int n = 64, c = 2;
        var x = Tensor<double>.Empty(n, c);
        for (int r = 0; r < n; r++) { x[r, 0] = 3 + 2 * rng.NextNormal(); x[r, 1] = -1 + 0.5 * rng.NextNormal(); }
        var bn = new BatchNorm1d<double>(c, momentum: 0.1, eps: 1e-5);
        var y = bn.Forward(x).Value;
        for (int j = 0; j < c; j++)
        {
            var col = Enumerable.Range(0, n).Select(r => y[r, j]).ToArray();
            Assert.Equal(0, col.Average(), 10);
            Assert.Equal(1, col.Select(v => v * v).Average(), 3);
            var xc = Enumerable.Range(0, n).Select(r => x[r, j]).ToArray();
            double mean = xc.Average(), unbiased = xc.Select(v => (v - mean) * (v - mean)).Sum() / (n - 1);
            Assert.Equal(0.1 * mean, bn.RunningMean[j], 12);
            Assert.Equal(0.9 + 0.1 * unbiased, bn.RunningVar[j], 12);
        }
        Assert.Equal(1.0, bn.BatchesTracked[0]);

        for (int i = 0; i < 200; i++) bn.Forward(x);          // running stats converge to the batch statistics
        bn.Eval();
        var before = bn.RunningMean.ToArray();
        var ye = bn.Forward(x).Value;
        Assert.Equal(before, bn.RunningMean.ToArray());        // eval leaves the statistics alone
        Assert.Equal(201.0, bn.BatchesTracked[0]);
        for (int i = 0; i < y.Length; i++) Assert.True(Math.Abs(y[i] - ye[i]) < 0.05); // ≈ train output (unbiased vs biased variance)
        // exact eval formula
        for (int r = 0; r < n; r++)
            for (int j = 0; j < c; j++)
                Assert.Equal((x[r, j] - bn.RunningMean[j]) / Math.Sqrt(bn.RunningVar[j] + 1e-5), ye[r, j], 12);
        // a single row is fine in eval, an error in training
        bn.Forward(Tensor<double>.Zeros(1, c));
        bn.Train();
        Assert.Throws<ArgumentException>(() => bn.Forward(Tensor<double>.Zeros(1, c)));
    }

    [Fact]
    public void Mlp_GradCheck_AllActivations()
    {
        foreach (var act in new[] { Activation.Tanh, Activation.Elu, Activation.Silu, Activation.Sigmoid, Activation.Softplus })
        {
            var rng = new Rng(11);
            var mlp = new Mlp<double>(3, [5, 4], 2, rng, act);
            var r = CheckModule(mlp.Forward, mlp, RandomD(rng, 4, 3));
            Assert.True(r.Passed, $"{act}: {r}");
        }
    }

    [Fact]
    public void Mlp_NamesLayersAndZeroInitsLast()
    {
        var mlp = new Mlp<float>(2, [8, 8], 3, new Rng(12), Activation.Relu, zeroInitLast: true);
        Assert.Equal(["layers.0.weight", "layers.0.bias", "layers.1.weight", "layers.1.bias", "layers.2.weight", "layers.2.bias"],
            mlp.NamedParameters().Select(p => p.Key));
        Assert.Equal(2 * 8 + 8 + 8 * 8 + 8 + 8 * 3 + 3, mlp.ParameterCount());
        var y = mlp.Forward(new Rng(1).Normal<float>(5, 2));
        Assert.True(y.Value.ToArray().All(v => v == 0));
        Assert.Equal([5, 3], y.Value.Shape.ToArray());
    }

    [Fact]
    public void ResidualNet_GradCheck_WithContextAndBatchNorm()
    {
        var rng = new Rng(13);
        var net = new ResidualNet<double>(3, 2, 6, rng, contextFeatures: 2, numBlocks: 2, activation: Activation.Tanh, useBatchNorm: true);
        var ctx = RandomD(rng, 5, 2);
        var r = CheckModule(v => net.Forward(v, ctx), net, RandomD(rng, 5, 3));
        Assert.True(r.Passed, r.ToString());
        var plain = new ResidualNet<double>(3, 2, 6, rng, activation: Activation.Elu);
        r = CheckModule(plain.Forward, plain, RandomD(rng, 4, 3));
        Assert.True(r.Passed, r.ToString());
    }

    [Fact]
    public void ResidualNet_BlocksStartNearIdentity_ZeroInitLastOutputsZero()
    {
        var net = new ResidualNet<float>(2, 3, 16, new Rng(14), zeroInitLast: true);
        Assert.Contains("blocks.0.linear1.weight", net.NamedParameters().Select(p => p.Key));
        var last = (Linear<float>)net.NamedModules().First(m => m.Key == "blocks.1.linear1").Value;
        Assert.True(last.Weight.Value.ToArray().All(v => Math.Abs(v) <= 1e-3f));
        Assert.True(net.Forward(new Rng(2).Normal<float>(4, 2)).Value.ToArray().All(v => v == 0));
        Assert.Throws<ArgumentException>(() => net.Forward(new Rng(2).Normal<float>(4, 2), new Rng(2).Normal<float>(4, 1)));
    }
}
