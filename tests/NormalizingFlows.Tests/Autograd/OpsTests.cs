using NormalizingFlows.Autograd;
using NormalizingFlows.Tensors;

namespace NormalizingFlows.Tests.Autograd;

/// <summary>Every op: forward against a direct double reference, backward by central differences.</summary>
public class OpsTests
{
    private static Tensor<double> Rand(int seed, double lo, double hi, params int[] shape)
        => new Rng(seed).Uniform<double>(shape, lo, hi);

    /// <summary>Random values kept at least 0.05 away from 0 (for ops with a kink there).</summary>
    private static Tensor<double> AwayFromZero(int seed, params int[] shape)
    {
        var t = Rand(seed, -2, 2, shape);
        var s = t.Span;
        for (int i = 0; i < s.Length; i++) if (Math.Abs(s[i]) < 0.05) s[i] = 0.3;
        return t;
    }

    private static void AssertGrad(GradCheckResult r) => Assert.True(r.Passed, r.ToString());

    public static TheoryData<string> UnaryNames => new() { "exp", "log", "log1p", "tanh", "sigmoid", "softplus", "relu", "leaky_relu", "elu", "silu", "square", "sqrt", "abs", "neg", "scale_shift", "clamp" };

    private static (Func<Var<double>, Var<double>> op, Func<double, double> reference, bool positive) Unary(string name) => name switch
    {
        "exp" => (Ops.Exp, Math.Exp, false),
        "log" => (Ops.Log, Math.Log, true),
        "log1p" => (Ops.Log1p, x => Math.Log(1 + x), true),
        "tanh" => (Ops.Tanh, Math.Tanh, false),
        "sigmoid" => (Ops.Sigmoid, x => 1 / (1 + Math.Exp(-x)), false),
        "softplus" => (Ops.Softplus, x => Math.Log(1 + Math.Exp(x)), false),
        "relu" => (Ops.Relu, x => Math.Max(x, 0), false),
        "leaky_relu" => (x => Ops.LeakyRelu(x, 0.1), x => x > 0 ? x : 0.1 * x, false),
        "elu" => (x => Ops.Elu(x, 1.5), x => x > 0 ? x : 1.5 * (Math.Exp(x) - 1), false),
        "silu" => (Ops.Silu, x => x / (1 + Math.Exp(-x)), false),
        "square" => (Ops.Square, x => x * x, false),
        "sqrt" => (Ops.Sqrt, Math.Sqrt, true),
        "abs" => (Ops.Abs, Math.Abs, false),
        "neg" => (Ops.Neg, x => -x, false),
        "scale_shift" => (x => Ops.ScaleShift(x, -2.5, 0.75), x => -2.5 * x + 0.75, false),
        "clamp" => (x => Ops.Clamp(x, -1.0, 0.5), x => Math.Min(Math.Max(x, -1.0), 0.5), false),
        _ => throw new ArgumentException(name),
    };

    [Theory]
    [MemberData(nameof(UnaryNames))]
    public void UnaryForwardMatchesReference(string name)
    {
        var (op, reference, positive) = Unary(name);
        var x = positive ? Rand(1, 0.1, 5, 7, 5) : AwayFromZero(1, 7, 5);
        var y = op(new Var<double>(x)).Value;
        Assert.True(y.SameShape(x));
        for (int i = 0; i < x.Length; i++) Assert.Equal(reference(x[i]), y[i], 12);
    }

    [Theory]
    [MemberData(nameof(UnaryNames))]
    public void UnaryBackwardPassesGradCheck(string name)
    {
        var (op, _, positive) = Unary(name);
        var x = positive ? Rand(2, 0.1, 5, 6, 4) : AwayFromZero(2, 6, 4);
        if (name == "clamp") // keep away from the clamp edges
            for (int i = 0; i < x.Length; i++) if (Math.Abs(x[i] + 1) < 0.05 || Math.Abs(x[i] - 0.5) < 0.05) x[i] = 0.1;
        AssertGrad(GradCheck.Check(v => op(v[0]), x));
    }

    public static TheoryData<string, int[], int[]> BinaryCases => new()
    {
        { "add", [5, 3], [5, 3] }, { "sub", [5, 3], [3] }, { "mul", [5, 3], [1, 3] }, { "div", [5, 3], [5, 1] },
        { "add", [1], [4, 2] }, { "mul", [4, 2], [] }, { "sub", [3], [4, 3] }, { "div", [4, 3], [4, 3] },
        { "mul", [5, 1], [5, 4] }, { "add", [6], [6] },
    };

    private static double Get(Tensor<double> t, int r, int c)
    {
        if (t.Length == 1) return t[0];
        if (t.Rank == 1) return t[c];
        if (t.Dim(0) == 1) return t[0, c];
        if (t.Dim(1) == 1) return t[r, 0];
        return t[r, c];
    }

    [Theory]
    [MemberData(nameof(BinaryCases))]
    public void BinaryBroadcastForwardAndBackward(string op, int[] sa, int[] sb)
    {
        var a = Rand(3, 0.5, 2, sa);
        var b = Rand(4, 0.5, 2, sb);
        Func<Var<double>, Var<double>, Var<double>> f = op switch
        {
            "add" => Ops.Add, "sub" => Ops.Sub, "mul" => Ops.Mul, _ => Ops.Div,
        };
        Func<double, double, double> g = op switch
        {
            "add" => (x, y) => x + y, "sub" => (x, y) => x - y, "mul" => (x, y) => x * y, _ => (x, y) => x / y,
        };
        var y = f(new Var<double>(a), new Var<double>(b)).Value;
        var full = a.Length >= b.Length ? a : b;
        Assert.True(y.SameShape(full));
        int rows = full.Rank == 2 ? full.Dim(0) : 1, cols = full.Rank == 2 ? full.Dim(1) : full.Length;
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < cols; c++)
                Assert.Equal(g(Get(a, r, c), Get(b, r, c)), y.Span[r * cols + c], 12);
        AssertGrad(GradCheck.Check(v => f(v[0], v[1]), a, b));
    }

    [Fact]
    public void IncompatibleShapesNameBoth()
    {
        var ex = Assert.Throws<ArgumentException>(() => Ops.Add<double>(Tensor<double>.Zeros(3, 4), Tensor<double>.Zeros(3, 2)));
        Assert.Contains("[3, 4]", ex.Message);
        Assert.Contains("[3, 2]", ex.Message);
    }

    [Theory]
    [InlineData(false, false)]
    [InlineData(false, true)]
    [InlineData(true, false)]
    [InlineData(true, true)]
    public void MatMulAllTransposes(bool ta, bool tb)
    {
        int m = 4, k = 5, n = 3;
        var a = Rand(5, -1, 1, ta ? [k, m] : [m, k]);
        var b = Rand(6, -1, 1, tb ? [n, k] : [k, n]);
        var y = Ops.MatMul<double>(a, b, ta, tb).Value;
        Assert.True(y.HasShape(m, n));
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                double s = 0;
                for (int p = 0; p < k; p++) s += (ta ? a[p, i] : a[i, p]) * (tb ? b[j, p] : b[p, j]);
                Assert.Equal(s, y[i, j], 12);
            }
        AssertGrad(GradCheck.Check(v => Ops.MatMul(v[0], v[1], ta, tb), a, b));
    }

    [Fact]
    public void LinearForwardAndBackward()
    {
        var x = Rand(7, -1, 1, 6, 4);
        var w = Rand(8, -1, 1, 3, 4);
        var b = Rand(9, -1, 1, 3);
        var y = Ops.Linear<double>(x, w, b).Value;
        for (int i = 0; i < 6; i++)
            for (int o = 0; o < 3; o++)
            {
                double s = b[o];
                for (int p = 0; p < 4; p++) s += x[i, p] * w[o, p];
                Assert.Equal(s, y[i, o], 12);
            }
        AssertGrad(GradCheck.Check(v => Ops.Linear(v[0], v[1], v[2]), x, w, b));
        AssertGrad(GradCheck.Check(v => Ops.Linear(v[0], v[1]), x, w));
        Assert.Contains("expects 4", Assert.Throws<ArgumentException>(() => Ops.Linear<double>(Tensor<double>.Zeros(2, 5), w)).Message);
    }

    [Fact]
    public void ReductionsForwardAndBackward()
    {
        var x = Rand(10, -3, 3, 5, 4);
        double total = x.ToArray().Sum();
        Assert.Equal(total, Ops.Sum<double>(x).Value[0], 12);
        Assert.Equal(total / 20, Ops.Mean<double>(x).Value[0], 12);
        var rows = Ops.SumRows<double>(x).Value;
        var cols = Ops.SumCols<double>(x).Value;
        var lse = Ops.LogSumExpRows<double>(x).Value;
        for (int r = 0; r < 5; r++)
        {
            double s = 0, e = 0;
            for (int c = 0; c < 4; c++) { s += x[r, c]; e += Math.Exp(x[r, c]); }
            Assert.Equal(s, rows[r], 12);
            Assert.Equal(Math.Log(e), lse[r], 12);
        }
        for (int c = 0; c < 4; c++)
        {
            double s = 0;
            for (int r = 0; r < 5; r++) s += x[r, c];
            Assert.Equal(s, cols[c], 12);
        }
        AssertGrad(GradCheck.Check(v => Ops.Sum(v[0]), x));
        AssertGrad(GradCheck.Check(v => Ops.Mean(v[0]), x));
        AssertGrad(GradCheck.Check(v => Ops.SumRows(v[0]), x));
        AssertGrad(GradCheck.Check(v => Ops.SumCols(v[0]), x));
        AssertGrad(GradCheck.Check(v => Ops.LogSumExpRows(v[0]), x));
    }

    [Fact]
    public void LogSumExpIsStableForHugeValues()
    {
        var x = Tensor<float>.From(new float[] { 1000, 1000, -1e30f, -1e30f, float.NegativeInfinity, float.NegativeInfinity }, 3, 2);
        var y = Ops.LogSumExpRows<float>(x).Value;
        Assert.Equal(1000 + MathF.Log(2), y[0], 3);
        Assert.Equal(-1e30f + MathF.Log(2), y[1]);
        Assert.Equal(float.NegativeInfinity, y[2]);
    }

    [Fact]
    public void ShapeOpsForwardAndBackward()
    {
        var x = Rand(11, -1, 1, 4, 5);
        var s = Ops.SliceColumns<double>(x, 1, 3).Value;
        Assert.True(s.HasShape(4, 3));
        Assert.Equal(x[2, 3], s[2, 2]);
        AssertGrad(GradCheck.Check(v => Ops.SliceColumns(v[0], 1, 3), x));
        var y = Rand(12, -1, 1, 4, 2);
        var cat = Ops.ConcatColumns<double>(x, y).Value;
        Assert.True(cat.HasShape(4, 7));
        Assert.Equal(y[3, 1], cat[3, 6]);
        Assert.Equal(x[3, 4], cat[3, 4]);
        AssertGrad(GradCheck.Check(v => Ops.ConcatColumns(v[0], v[1]), x, y));
        var parts = Ops.SplitColumns<double>(x, 2, 3);
        Assert.Equal(x[1, 2], parts[1].Value[1, 0]);
        AssertGrad(GradCheck.Check(v => Ops.Mul(Ops.SplitColumns(v[0], 2, 3)[1], Ops.SliceColumns(v[0], 0, 3)), x));
        AssertGrad(GradCheck.Check(v => Ops.Reshape(v[0], 10, 2), x));
        int[] idx = [0, 4, 4, 1, 2, 3, 0, 0];
        var g = Ops.GatherColumns<double>(x, idx, 2).Value;
        Assert.Equal(x[1, 1], g[1, 1]);
        AssertGrad(GradCheck.Check(v => Ops.GatherColumns(v[0], idx, 2), x));
        Assert.Throws<ArgumentOutOfRangeException>(() => Ops.SliceColumns<double>(x, 3, 3));
        Assert.Throws<ArgumentException>(() => Ops.ConcatColumns<double>(x, Tensor<double>.Zeros(3, 2)));
    }

    [Fact]
    public void WhereDoesNotLeakNaNGradientFromUntakenSide()
    {
        var x = Tensor<double>.From(new[] { -1.0, 2.0, 3.0 }, 3);
        var xv = new Var<double>(x, requiresGrad: true);
        var logx = Ops.Log(xv); // NaN at -1
        var y = Ops.Where([false, true, true], logx, xv);
        Ops.Sum(y).Backward();
        Assert.False(double.IsNaN(xv.Grad![0]));
        Assert.Equal(1.0, xv.Grad![0]);
        Assert.Equal(0.5, xv.Grad![1], 12);
    }

    [Fact]
    public void LossesForwardAndBackward()
    {
        var p = Rand(13, -2, 2, 6, 3);
        var t = Rand(14, -2, 2, 6, 3);
        double mse = 0;
        for (int i = 0; i < p.Length; i++) mse += (p[i] - t[i]) * (p[i] - t[i]);
        Assert.Equal(mse / p.Length, Ops.MseLoss<double>(p, t).Value[0], 12);
        AssertGrad(GradCheck.Check(v => Ops.MseLoss(v[0], new Var<double>(t)), p));

        var z = Rand(15, -30, 30, 8, 1);
        var labels01 = Rand(16, 0, 1, 8, 1);
        for (int i = 0; i < 8; i++) labels01[i] = labels01[i] > 0.5 ? 1 : 0;
        double bce = 0;
        for (int i = 0; i < 8; i++)
        {
            // −log σ(z) = softplus(−z), −log(1 − σ(z)) = softplus(z), written stably
            double softplus(double v) => Math.Max(v, 0) + Math.Log(1 + Math.Exp(-Math.Abs(v)));
            bce += labels01[i] == 1 ? softplus(-z[i]) : softplus(z[i]);
        }
        Assert.Equal(bce / 8, Ops.BinaryCrossEntropyWithLogits<double>(z, labels01).Value[0], 12);
        AssertGrad(GradCheck.Check(v => Ops.BinaryCrossEntropyWithLogits(v[0], labels01), z));

        var logits = Rand(17, -3, 3, 5, 4);
        int[] labels = [0, 3, 2, 1, 3];
        double ce = 0;
        for (int r = 0; r < 5; r++)
        {
            double e = 0;
            for (int c = 0; c < 4; c++) e += Math.Exp(logits[r, c]);
            ce += Math.Log(e) - logits[r, labels[r]];
        }
        Assert.Equal(ce / 5, Ops.CrossEntropy<double>(logits, labels).Value[0], 12);
        AssertGrad(GradCheck.Check(v => Ops.CrossEntropy(v[0], labels), logits));
    }

    [Fact]
    public void OperatorsComposeAndGradientsAccumulate()
    {
        var a = new Var<double>(Rand(18, 0.5, 1.5, 3, 2), requiresGrad: true);
        var b = new Var<double>(Rand(19, 0.5, 1.5, 3, 2), requiresGrad: true);
        AssertGrad(GradCheck.Check(() => (a * b - a / b + 2.0 * a - 1.0) * (-b) + (b + 0.5), [a, b]));
        a.ZeroGrad();
        var loss = Ops.Sum(a * 3.0);
        loss.Backward();
        loss.Backward();
        Assert.All(a.Grad!.ToArray(), g => Assert.Equal(6.0, g, 12)); // accumulated twice
    }

    [Fact]
    public void SharedSubexpressionGetsGradientFromAllPaths()
    {
        var x = new Var<double>(Tensor<double>.From(new[] { 2.0 }, 1), requiresGrad: true);
        var y = Ops.Exp(x);
        var z = Ops.Sum(y * y + y); // d/dx = 2 e^{2x} + e^x
        z.Backward();
        Assert.Equal(2 * Math.Exp(4) + Math.Exp(2), x.Grad![0], 9);
    }

    [Fact]
    public void NoGradRecordsNothingAndBackwardExplains()
    {
        var x = new Var<double>(Tensor<double>.From(new[] { 1.0, 2.0 }, 2), requiresGrad: true);
        Var<double> y;
        using (GradMode.Disable()) y = Ops.Sum(Ops.Exp(x));
        Assert.False(y.RequiresGrad);
        Assert.True(y.IsLeaf);
        Assert.Contains("does not require gradients", Assert.Throws<InvalidOperationException>(() => y.Backward()).Message);
        Assert.Contains("scalar", Assert.Throws<InvalidOperationException>(() => Ops.Exp(x).Backward()).Message);
    }

    [Fact]
    public void DeepChainBackwardDoesNotOverflowTheStack()
    {
        var x = new Var<double>(Tensor<double>.From(new[] { 0.5 }, 1), requiresGrad: true);
        Var<double> y = x;
        for (int i = 0; i < 20_000; i++) y = y * 1.0;
        Ops.Sum(y).Backward();
        Assert.Equal(1.0, x.Grad![0]);
    }

    [Fact]
    public void TrainingStepInScopeReleasesIntermediatesButKeepsParameterGradients()
    {
        var w = new Parameter<float>(Tensor<float>.Full(0.5f, 3, 2), "w");
        Tensor<float> intermediate;
        using (TensorScope.Begin())
        {
            var x = Tensor<float>.Full(1f, 4, 2);
            var y = Ops.Linear<float>(x, w);
            intermediate = y.Value;
            Ops.Mean(Ops.Square(y)).Backward();
        }
        Assert.True(intermediate.IsDisposed);
        Assert.False(w.Grad!.IsDisposed);
        Assert.False(w.Value.IsDisposed);
        // d/dw mean((x·wᵀ)²) with x = 1, w = 0.5: y = 1 everywhere; dL/dy = 2/12; dL/dw[o,i] = Σ_n (2/12)·1 = 4·2/12
        Assert.All(w.Grad!.ToArray(), g => Assert.Equal(8f / 12f, g, 5));
    }
}

public class FusedReluTests
{
    [Fact]
    public void LinearWithFusedReluMatchesReluOfLinearAndPassesGradCheck()
    {
        var x = new Rng(21).Uniform<double>([6, 4], -1, 1);
        var w = new Rng(22).Uniform<double>([5, 4], -1, 1);
        var b = new Rng(23).Uniform<double>([5], -0.5, 0.5);
        var fused = Ops.Linear<double>(x, w, b, relu: true).Value.ToArray();
        var plain = Ops.Relu(Ops.Linear<double>(x, w, b)).Value.ToArray();
        Assert.Equal(plain, fused);
        var r = GradCheck.Check(v => Ops.Linear(v[0], v[1], v[2], relu: true), x, w, b);
        Assert.True(r.Passed, r.ToString());
    }

    [Fact]
    public void MaskedLinearWithFusedReluMatchesAndPassesGradCheck()
    {
        var x = new Rng(24).Uniform<double>([6, 4], -1, 1);
        var w = new Rng(25).Uniform<double>([5, 4], -1, 1);
        var b = new Rng(26).Uniform<double>([5], -0.5, 0.5);
        var mask = Tensor<double>.Zeros(5, 4);
        for (int o = 0; o < 5; o++) for (int i = 0; i < 4; i++) mask[o, i] = (o + i) % 3 == 0 ? 0 : 1;
        var fused = NormalizingFlows.Nn.MaskedLinearOp.Apply<double>(x, w, mask, b, relu: true).Value.ToArray();
        var plain = Ops.Relu(NormalizingFlows.Nn.MaskedLinearOp.Apply<double>(x, w, mask, b)).Value.ToArray();
        Assert.Equal(plain, fused);
        var r = GradCheck.Check(v => NormalizingFlows.Nn.MaskedLinearOp.Apply(v[0], v[1], mask, v[2], relu: true), x, w, b);
        Assert.True(r.Passed, r.ToString());
    }
}
