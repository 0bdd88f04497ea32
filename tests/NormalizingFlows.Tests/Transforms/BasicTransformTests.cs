using NormalizingFlows.Autograd;
using NormalizingFlows.Tensors;
using NormalizingFlows.Transforms;

namespace NormalizingFlows.Tests.Transforms;

/// <summary>Behaviour specific to the basic transforms (the shared matrix covers the generic properties).</summary>
public class BasicTransformTests
{
    private static Tensor<double> Data(int rows, int cols, int seed, double mean = 0, double std = 1)
    {
        var r = new Rng(seed);
        var t = Tensor<double>.Empty(rows, cols);
        var s = t.Span;
        for (int i = 0; i < s.Length; i++) s[i] = mean + std * r.NextNormal() * (1 + i % cols);
        return t;
    }

    private static (double[] Mean, double[] Var) ColumnStats(Tensor<double> t)
    {
        int n = t.Dim(0), d = t.Dim(1);
        var mean = new double[d]; var var = new double[d];
        for (int j = 0; j < d; j++)
        {
            for (int r = 0; r < n; r++) mean[j] += t[r, j];
            mean[j] /= n;
            for (int r = 0; r < n; r++) var[j] += (t[r, j] - mean[j]) * (t[r, j] - mean[j]);
            var[j] /= n;
        }
        return (mean, var);
    }

    // ------------------------------------------------------------------ ActNorm

    [Fact]
    public void ActNormInitialisesToZeroMeanUnitVarianceOnTheFirstBatch()
    {
        var t = new ActNorm<double>(3);
        var x = Data(200, 3, 1, mean: 4, std: 2.5);
        // Inverse before initialisation uses the current (identity) parameters and does not initialise
        var (xi, ldi) = t.Inverse(x);
        Assert.False(t.IsInitialized);
        Assert.Equal(x.ToArray(), xi.Value.ToArray());
        Assert.All(ldi.Value.ToArray(), v => Assert.Equal(0.0, v));

        var (y, ld) = t.Forward(x);
        Assert.True(t.IsInitialized);
        var (mean, var) = ColumnStats(y.Value);
        for (int j = 0; j < 3; j++)
        {
            Assert.True(Math.Abs(mean[j]) < 1e-10, $"mean[{j}] = {mean[j]}");
            Assert.True(Math.Abs(var[j] - 1) < 1e-5, $"var[{j}] = {var[j]}");
        }
        var (_, xv) = ColumnStats(x);
        double expected = xv.Sum(v => -0.5 * Math.Log(v + t.Eps));
        Assert.Equal(expected, ld.Value[0], 10);

        // a second batch does not re-initialise
        var before = t.LogScale.Value.ToArray();
        t.Forward(Data(50, 3, 2, mean: -7, std: 0.1));
        Assert.Equal(before, t.LogScale.Value.ToArray());
    }

    [Fact]
    public void ActNormDoesNotReinitialiseAfterLoading()
    {
        var t = new ActNorm<double>(3);
        t.Forward(Data(100, 3, 3, mean: 2, std: 3));
        var fresh = new ActNorm<double>(3);
        fresh.LoadStateDict(t.StateDict());
        Assert.True(fresh.IsInitialized);
        Assert.True(fresh.Training);
        var other = Data(100, 3, 4, mean: -5, std: 0.2);
        var a = fresh.Forward(other);
        Assert.Equal(t.LogScale.Value.ToArray(), fresh.LogScale.Value.ToArray());
        Assert.Equal(t.Shift.Value.ToArray(), fresh.Shift.Value.ToArray());
        Assert.Equal(t.Forward(other).Y.Value.ToArray(), a.Y.Value.ToArray());
        // an uninitialised state loads as uninitialised and initialises on its first batch
        var blank = new ActNorm<double>(3);
        var loaded = new ActNorm<double>(3);
        loaded.LoadStateDict(blank.StateDict());
        Assert.False(loaded.IsInitialized);
        loaded.Forward(other);
        Assert.True(loaded.IsInitialized);
    }

    [Fact]
    public void ActNormDoesNotInitialiseInEvalModeOrOnAnEmptyBatch()
    {
        var t = new ActNorm<double>(2);
        t.Forward(Tensor<double>.Zeros(0, 2));
        Assert.False(t.IsInitialized);
        t.Eval();
        t.Forward(Data(10, 2, 5, mean: 3));
        Assert.False(t.IsInitialized);
    }

    // ------------------------------------------------------------------ BatchNorm

    [Fact]
    public void BatchNormUsesBatchStatisticsInTrainingAndRunningStatisticsInEval()
    {
        const double momentum = 0.25, eps = 1e-5;
        var t = new BatchNormTransform<double>(3, momentum, eps);
        t.LogGamma.Value.Span[0] = 0.3; t.LogGamma.Value.Span[1] = -0.2; t.LogGamma.Value.Span[2] = 0.1;
        t.Beta.Value.Span[0] = 1.0; t.Beta.Value.Span[1] = -0.5; t.Beta.Value.Span[2] = 0.0;
        var g = t.LogGamma.Value.ToArray(); var b = t.Beta.Value.ToArray();
        var x = Data(64, 3, 6, mean: 2, std: 1.5);
        var (mean, var) = ColumnStats(x);

        // training: batch statistics, log-det Σ γ − ½ log(σ² + ε), running averages updated
        var (y, ld) = t.Forward(x);
        var (ym, yv) = ColumnStats(y.Value);
        double ldTrain = 0;
        for (int j = 0; j < 3; j++)
        {
            Assert.True(Math.Abs(ym[j] - b[j]) < 1e-10);
            Assert.True(Math.Abs(yv[j] - Math.Exp(2 * g[j]) * var[j] / (var[j] + eps)) < 1e-10);
            ldTrain += g[j] - 0.5 * Math.Log(var[j] + eps);
            Assert.Equal(momentum * mean[j], t.RunningMean[j], 12);
            Assert.Equal(1 - momentum + momentum * var[j], t.RunningVar[j], 12);
        }
        Assert.All(ld.Value.ToArray(), v => Assert.Equal(ldTrain, v, 10));

        // eval: the running statistics, and no further update
        t.Eval();
        var rm = t.RunningMean.ToArray(); var rv = t.RunningVar.ToArray();
        var (ye, lde) = t.Forward(x);
        double ldEval = 0;
        for (int j = 0; j < 3; j++) ldEval += g[j] - 0.5 * Math.Log(rv[j] + eps);
        for (int r = 0; r < 64; r++)
        {
            Assert.Equal(ldEval, lde.Value[r], 10);
            for (int j = 0; j < 3; j++)
                Assert.Equal((x[r, j] - rm[j]) / Math.Sqrt(rv[j] + eps) * Math.Exp(g[j]) + b[j], ye.Value[r, j], 10);
        }
        Assert.Equal(rm, t.RunningMean.ToArray());
        // the inverse (running statistics) undoes the eval-mode forward
        var (xr, ldr) = t.Inverse(ye);
        for (int i = 0; i < x.Length; i++) Assert.Equal(x[i], xr.Value[i], 10);
        Assert.Equal(-ldEval, ldr.Value[0], 10);
    }

    [Fact]
    public void BatchNormTrainingGradientIncludesTheBatchStatistics()
    {
        var t = new BatchNormTransform<double>(2);
        var x = new Var<double>(Data(6, 2, 7), requiresGrad: true);
        var leaves = new List<Var<double>> { x, t.LogGamma, t.Beta };
        var r = GradCheck.Check(() =>
        {
            var (y, ld) = t.Forward(x);
            // a nonlinear loss, so that the dependence of every row on the batch mean and variance matters
            return Ops.Add(Ops.SumRows(Ops.Square(y)), Ops.Square(ld));
        }, leaves);
        Assert.True(r.Passed, r.ToString());
    }

    // ------------------------------------------------------------------ LU linear

    [Fact]
    public void LuLinearLogDetIsSumOfLogAbsDiagonalAndWeightIsPLU()
    {
        var t = new LuLinear<double>(4, new Rng(11));
        var rng = new Rng(12);
        foreach (var p in t.Parameters())
        {
            var s = p.Value.Span;
            for (int i = 0; i < s.Length; i++) s[i] += 0.4 * rng.NextNormal();
        }
        int d = 4;
        var lo = t.Lower.Value.ToArray(); var up = t.Upper.Value.ToArray(); var ls = t.LogAbsDiag.Value.ToArray();
        var l = new double[d, d]; var u = new double[d, d];
        int k = 0;
        for (int i = 0; i < d; i++) { l[i, i] = 1; for (int j = 0; j < i; j++) l[i, j] = lo[k++]; }
        k = 0;
        for (int i = 0; i < d; i++) { u[i, i] = t.Sign[i] * Math.Exp(ls[i]); for (int j = i + 1; j < d; j++) u[i, j] = up[k++]; }
        var w = t.Weight();
        for (int i = 0; i < d; i++)
            for (int j = 0; j < d; j++)
            {
                double s = 0;
                for (int c = 0; c < d; c++) s += l[t.Permutation[i], c] * u[c, j];
                Assert.Equal(s, w[i, j], 12);
            }
        var x = Data(5, d, 13);
        var (y, ld) = t.Forward(x);
        var bias = t.Bias.Value.ToArray();
        for (int r = 0; r < 5; r++)
        {
            Assert.Equal(ls.Sum(), ld.Value[r], 12);
            for (int i = 0; i < d; i++)
            {
                double s = bias[i];
                for (int j = 0; j < d; j++) s += w[i, j] * x[r, j];
                Assert.Equal(s, y.Value[r, i], 10);
            }
        }
        var (_, ldi) = t.Inverse(y);
        Assert.Equal(-ls.Sum(), ldi.Value[0], 12);
    }

    [Fact]
    public void LuLinearInitialisations()
    {
        // identity without an rng
        var id = new LuLinear<double>(3);
        var w = id.Weight();
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 3; j++) Assert.Equal(i == j ? 1.0 : 0.0, w[i, j]);
        // a random orthogonal matrix with an rng: W·Wᵀ = I, |det| = 1, deterministic per seed
        var q = new LuLinear<double>(5, new Rng(3)).Weight();
        for (int i = 0; i < 5; i++)
            for (int j = 0; j < 5; j++)
            {
                double s = 0;
                for (int c = 0; c < 5; c++) s += q[i, c] * q[j, c];
                Assert.Equal(i == j ? 1.0 : 0.0, s, 12);
            }
        Assert.Equal(q, new LuLinear<double>(5, new Rng(3)).Weight());
        Assert.NotEqual(q, new LuLinear<double>(5, new Rng(4)).Weight());
    }

    // ------------------------------------------------------------------ planar

    [Theory]
    [InlineData(-10.0)]
    [InlineData(-1.0)]
    [InlineData(-1e3)]
    public void PlanarConstraintHoldsForAdversarialParametersAndStillRoundTrips(double wu)
    {
        var t = new Planar<double>(3, new Rng(1));
        // w = (2, 1, 0), u along w scaled so that wᵀu = wu (far below −1)
        double[] w = [2, 1, 0];
        double n2 = 5;
        for (int j = 0; j < 3; j++)
        {
            t.W.Value.Span[j] = w[j];
            t.U.Value.Span[j] = wu * w[j] / n2 + (j == 2 ? 0.7 : 0);
        }
        t.B.Value.Span[0] = 0.3;
        var uh = t.ConstrainedU();
        double v = w[0] * uh[0] + w[1] * uh[1] + w[2] * uh[2];
        Assert.True(v > -1, $"wᵀû = {v}");
        var z = Data(40, 3, 21, std: 3);
        for (int j = 0; j < 3; j++) z[0, j] = -0.3 * w[j] / n2; // on the hyperplane wᵀz + b = 0, where f′ is smallest
        var (y, ldInv) = t.Inverse(z);
        var (zr, ldFwd) = t.Forward(y);
        for (int i = 0; i < z.Length; i++) Assert.True(Math.Abs(z[i] - zr.Value[i]) <= 1e-8 * Math.Max(1, Math.Abs(z[i])), $"{z[i]} came back as {zr.Value[i]}");
        for (int r = 0; r < 40; r++)
        {
            Assert.True(double.IsFinite(ldInv.Value[r]));
            Assert.Equal(-ldInv.Value[r], ldFwd.Value[r], 8);
        }
    }

    [Fact]
    public void PlanarRootFindReachesFullPrecision()
    {
        foreach (var (t, v, b) in new[] { (0.3, 2.0, 0.1), (-40.0, -0.999999, 1.0), (1e-3, -0.999999999, -1e-3), (25.0, 50.0, -3.0) })
        {
            double a = Planar<double>.SolveAlpha(t, v, b);
            double residual = a + v * Math.Tanh(a + b) - t;
            Assert.True(Math.Abs(residual) <= 4e-15 * Math.Max(1, Math.Abs(t)), $"t = {t}, v = {v}: residual {residual}");
        }
    }

    // ------------------------------------------------------------------ radial

    [Fact]
    public void RadialWithBetaNearMinusAlphaStaysInvertible()
    {
        var t = new Radial<double>(3, new Rng(2));
        t.AlphaHat.Value.Span[0] = 0.5;
        t.BetaHat.Value.Span[0] = -25; // β = −α + softplus(−25) ≈ −α + 1.4e-11
        var (alpha, beta) = t.AlphaBeta();
        Assert.True(beta > -alpha && beta + alpha < 1e-10);
        var z = Data(30, 3, 31, std: 2);
        var (y, ldInv) = t.Inverse(z);
        var (zr, ldFwd) = t.Forward(y);
        for (int i = 0; i < z.Length; i++) Assert.True(Math.Abs(z[i] - zr.Value[i]) <= 1e-8 * Math.Max(1, Math.Abs(z[i])), $"{z[i]} came back as {zr.Value[i]}");
        for (int r = 0; r < 30; r++)
        {
            Assert.True(double.IsFinite(ldInv.Value[r]) && double.IsFinite(ldFwd.Value[r]));
            Assert.Equal(-ldInv.Value[r], ldFwd.Value[r], 8);
        }
        // at the centre itself both directions are finite (y = z₀ ↔ z = z₀)
        var centre = Tensor<double>.From(t.Z0.Value.ReadOnlySpan, 1, 3);
        var (zc, ldc) = t.Forward(centre);
        for (int j = 0; j < 3; j++) Assert.Equal(centre[0, j], zc.Value[0, j], 12);
        Assert.True(double.IsFinite(ldc.Value[0]));
    }

    // ------------------------------------------------------------------ logit / sigmoid / tanh / softplus

    [Fact]
    public void LogitEpsMapsTheClosedIntervalToFiniteValues()
    {
        const double eps = 1e-4;
        var t = new Logit<double>(2, eps);
        var x = Tensor<double>.From([0.0, 1.0, 1.0, 0.0, 0.5, 0.25], 3, 2);
        var (y, ld) = t.Forward(x);
        double edge = Math.Log(eps / (1 - eps));
        Assert.Equal(edge, y.Value[0, 0], 12);
        Assert.Equal(-edge, y.Value[0, 1], 12);
        Assert.Equal(0.0, y.Value[2, 0], 14);
        for (int r = 0; r < 3; r++) Assert.True(double.IsFinite(ld.Value[r]));
        // log|det| at the bounds: log(1 − 2ε) − log ε − log(1 − ε) per feature
        Assert.Equal(2 * (Math.Log(1 - 2 * eps) - Math.Log(eps) - Math.Log(1 - eps)), ld.Value[0], 10);
        var (xr, _) = t.Inverse(y);
        for (int i = 0; i < x.Length; i++) Assert.Equal(x[i], xr.Value[i], 12);
        // without eps, 0 and 1 are outside the domain
        var (yInf, _) = new Logit<double>(2).Forward(Tensor<double>.From([0.0, 1.0], 1, 2));
        Assert.Equal(double.NegativeInfinity, yInf.Value[0]);
        Assert.Equal(double.PositiveInfinity, yInf.Value[1]);
        Assert.Throws<ArgumentOutOfRangeException>(() => new Logit<double>(2, 0.5));
    }

    [Fact]
    public void LogDetsAreStableFarOut()
    {
        var x = Tensor<double>.From([30.0, -30.0, 50.0, -50.0], 1, 4);
        var (ys, lds) = new Sigmoid<double>(4).Forward(x);
        Assert.Equal(-30 - 30 - 50 - 50 - 4 * 0.0, lds.Value[0], 6);
        Assert.Equal(1.0, ys.Value[0], 12);
        var (_, ldt) = new Tanh<double>(4).Forward(x);
        Assert.Equal(4 * 2 * Math.Log(2) - 2 * (30 + 30 + 50 + 50), ldt.Value[0], 8);
        var (yp, ldp) = new Softplus<double>(4).Forward(x);
        Assert.Equal(-30 - 50, ldp.Value[0], 8);
        Assert.Equal(Math.Exp(-50), yp.Value[3], 1e-30);
        var (_, ldl) = new Logit<double>(4).Inverse(x);
        Assert.Equal(-160, ldl.Value[0], 6);
        foreach (var t in new Transform<double>[] { new Sigmoid<double>(4), new Tanh<double>(4), new Softplus<double>(4), new LeakyRelu<double>(4, 0.1) })
        {
            var xv = new Var<double>(x.Clone(), requiresGrad: true);
            var (y, ld) = t.Forward(xv);
            Ops.Add(Ops.SumRows(y), ld).Backward(Tensor<double>.Full(1.0, 1));
            Assert.All(y.Value.ToArray(), v => Assert.False(double.IsNaN(v)));
            Assert.True(double.IsFinite(ld.Value[0]), t.GetType().Name);
            Assert.All(xv.Grad!.ToArray(), v => Assert.True(double.IsFinite(v), $"{t.GetType().Name}: gradient {v}"));
        }
    }

    [Fact]
    public void SoftplusAndLeakyReluRoundTripFarOut()
    {
        var xd = Tensor<double>.From([50.0, -50.0, 5.0, -5.0, 1e-9, -1e-9, 20.0, -20.0], 2, 4);
        foreach (var t in new Transform<double>[] { new Softplus<double>(4), new LeakyRelu<double>(4, 0.05) })
        {
            var (y, ld) = t.Forward(xd);
            var (xr, ldi) = t.Inverse(y);
            for (int i = 0; i < xd.Length; i++) Assert.True(Math.Abs(xd[i] - xr.Value[i]) <= 1e-12 * Math.Max(1, Math.Abs(xd[i])), $"{t.GetType().Name}: {xd[i]} → {xr.Value[i]}");
            for (int r = 0; r < 2; r++) Assert.Equal(-ld.Value[r], ldi.Value[r], 10);
        }
        var xf = xd.Cast<float>();
        var sp = new Softplus<float>(4);
        var (yf, _) = sp.Forward(xf);
        var (xfr, _) = sp.Inverse(yf);
        for (int i = 0; i < xf.Length; i++) Assert.True(Math.Abs(xf[i] - xfr.Value[i]) <= 1e-5 * Math.Max(1, Math.Abs(xf[i])), $"float softplus: {xf[i]} → {xfr.Value[i]}");
    }

    [Fact]
    public void FixedAffineStandardisesAndHasNoParameters()
    {
        var t = FixedAffine<double>.Standardize([1.0, -2.0], [2.0, 0.5]);
        Assert.Empty(t.Parameters());
        var (y, ld) = t.Forward(Tensor<double>.From([3.0, -1.0], 1, 2));
        Assert.Equal(1.0, y.Value[0], 14);
        Assert.Equal(2.0, y.Value[1], 14);
        Assert.Equal(Math.Log(0.5) + Math.Log(2.0), ld.Value[0], 14);
        Assert.Throws<ArgumentException>(() => new FixedAffine<double>([1.0, 0.0], [0.0, 0.0]));
        Assert.Throws<ArgumentOutOfRangeException>(() => new LeakyRelu<double>(2, 0.0));
    }
}
