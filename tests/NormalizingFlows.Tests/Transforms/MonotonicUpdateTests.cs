using NormalizingFlows.Autograd;
using NormalizingFlows.Data;
using NormalizingFlows.Flows;
using NormalizingFlows.Nn;
using NormalizingFlows.Tensors;
using NormalizingFlows.Training;
using NormalizingFlows.Transforms;
using NormalizingFlows.Transforms.Autoregressive;
using NormalizingFlows.Transforms.Monotonic;

namespace NormalizingFlows.Tests.Transforms;

/// <summary>
/// The neural autoregressive updates beyond the catalog matrix: the deep sigmoidal map far out (|x| up to 1e3) in float
/// and double, Clenshaw–Curtis exactness, UMNN's quadrature converging with the number of points, the solver's error
/// when a map's range ends, and trained 2-D NAF/UMNN densities that integrate to 1.
/// </summary>
public class MonotonicUpdateTests
{
    private static Tensor<T> Parameters<T>(int rows, int perRow, int seed, double scale) where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        var r = new Rng(seed);
        var t = Tensor<T>.Empty(rows, perRow);
        var s = t.Span;
        for (int i = 0; i < s.Length; i++) s[i] = T.CreateTruncating(scale * r.NextNormal());
        return t;
    }

    [Fact]
    public void SigmoidalMapIsFiniteAndInvertibleFarOutInFloatAndDouble()
    {
        Check<double>(1e-9);
        Check<float>(1e-5);

        static void Check<T>(double tolerance) where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
        {
            var update = new SigmoidalUpdate(4);
            double[] xs = [-1e3, -300, -20, -1, 0, 0.5, 20, 300, 1e3];
            var x = Tensor<T>.Empty(xs.Length, 1);
            for (int i = 0; i < xs.Length; i++) x[i, 0] = T.CreateTruncating(xs[i]);
            // one map (the same parameters on every row), spread by a scale of 2 around zero
            var one = Parameters<T>(1, update.ParametersPerFeature, 5, 2.0);
            var p = Tensor<T>.Empty(xs.Length, update.ParametersPerFeature);
            for (int r = 0; r < xs.Length; r++) one.ReadOnlySpan.CopyTo(p.Span.Slice(r * update.ParametersPerFeature, update.ParametersPerFeature));
            var (y, ld) = update.Apply(new Var<T>(x), new Var<T>(p), inverse: false);
            var (xr, ldi) = update.Apply(y, new Var<T>(p), inverse: true);
            for (int i = 0; i < xs.Length; i++)
            {
                double yi = double.CreateTruncating(y.Value[i, 0]), li = double.CreateTruncating(ld.Value[i]);
                Assert.True(double.IsFinite(yi) && double.IsFinite(li), $"{typeof(T).Name}: x = {xs[i]} gave y = {yi}, log|dy/dx| = {li}");
                Assert.True(li >= Math.Log(SigmoidalMap.MinSlope) - 1e-6, $"{typeof(T).Name}: x = {xs[i]}: log-slope {li} below the floor");
                double back = double.CreateTruncating(xr.Value[i, 0]);
                Assert.True(Math.Abs(back - xs[i]) <= tolerance * Math.Max(1, Math.Abs(xs[i])), $"{typeof(T).Name}: x = {xs[i]} came back as {back}");
                Assert.True(Math.Abs(li + double.CreateTruncating(ldi.Value[i])) <= 1e-4 * Math.Max(1, Math.Abs(li)));
            }
            // strictly increasing along the inputs
            for (int i = 1; i < xs.Length; i++)
                Assert.True(y.Value[i, 0] > y.Value[i - 1, 0], $"{typeof(T).Name}: not increasing at x = {xs[i]}");
        }
    }

    [Fact]
    public void SigmoidalMapStartsAtTheIdentity()
    {
        var update = new SigmoidalUpdate(5);
        var x = Tensor<double>.FromDoubles([-40, -2, 0, 0.3, 7, 200], 6, 1);
        var p = Tensor<double>.Empty(6, update.ParametersPerFeature);
        var id = update.IdentityParameters();
        for (int r = 0; r < 6; r++) for (int j = 0; j < id.Length; j++) p[r, j] = id[j];
        var (y, ld) = update.Apply(new Var<double>(x), new Var<double>(p), inverse: false);
        for (int i = 0; i < 6; i++)
        {
            Assert.Equal(x[i, 0], y.Value[i, 0], 1e-9 * Math.Max(1, Math.Abs(x[i, 0])));
            Assert.Equal(0, ld.Value[i], 1e-9);
        }
    }

    [Theory]
    [InlineData(2)]
    [InlineData(5)]
    [InlineData(9)]
    [InlineData(17)]
    public void ClenshawCurtisIsExactForPolynomialsUpToItsDegree(int points)
    {
        var (t, w) = ClenshawCurtis.Rule(points);
        Assert.Equal(1.0, t[0]);
        Assert.Equal(-1.0, t[^1], 1e-15);
        Assert.All(w, v => Assert.True(v > 0));
        for (int degree = 0; degree < points; degree++)
        {
            double sum = 0;
            for (int j = 0; j < points; j++) sum += w[j] * Math.Pow(t[j], degree);
            double exact = degree % 2 == 1 ? 0 : 2.0 / (degree + 1);
            Assert.True(Math.Abs(sum - exact) < 1e-13, $"{points} points, x^{degree}: {sum} vs {exact}");
        }
        Assert.Throws<ArgumentOutOfRangeException>(() => ClenshawCurtis.Rule(1));
    }

    [Fact]
    public void UmnnQuadratureConvergesWithThePoints()
    {
        // the same layer (same seed, same weights) with 9, 17, 33 and 65 points: the default 17 agrees with 65 to 1e-4
        // of max(1, |y|) on standard-normal inputs, 33 to 1e-7, and every doubling shrinks the difference
        var x = new Rng(3).Normal<double>(64, 3);
        double[] Difference(int points)
        {
            var coarse = Layer(points);
            var fine = Layer(65);
            using var _ = GradMode.Disable();
            var a = coarse.Forward(new Var<double>(x)).Y.Value;
            var b = fine.Forward(new Var<double>(x)).Y.Value;
            return [.. Enumerable.Range(0, a.Length).Select(i => Math.Abs(a[i] - b[i]) / Math.Max(1, Math.Abs(b[i])))];
        }
        double d9 = Difference(9).Max(), d17 = Difference(17).Max(), d33 = Difference(33).Max();
        Assert.True(d17 < 1e-4, $"17 points: {d17}");
        Assert.True(d33 < 1e-7, $"33 points: {d33}");
        Assert.True(d9 > d17 && d17 > d33, $"no convergence: 9 → {d9}, 17 → {d17}, 33 → {d33}");

        static AutoregressiveTransform<double> Layer(int points)
        {
            var t = new AutoregressiveTransform<double>(3, new UmnnUpdate(embedding: 4, hidden: 16, nodes: points), new Rng(7), 0, new MadeConditioner { HiddenFeatures = 16 });
            var r = new Rng(8);
            foreach (var p in t.Parameters())
            {
                var s = p.Value.Span;
                for (int i = 0; i < s.Length; i++) s[i] += 0.3 * r.NextNormal();
            }
            return t;
        }
    }

    [Fact]
    public void SolverNamesAMapWhoseRangeEndsBeforeTheTarget()
    {
        // tanh is increasing but bounded: y = 2 has no preimage
        var e = Assert.Throws<ArgumentException>(() => MonotonicSolver.Solve([0.5, 2.0], new double[2], (x, f, df) =>
        {
            for (int i = 0; i < x.Length; i++) { f[i] = Math.Tanh(x[i]); df[i] = 1 - f[i] * f[i]; }
        }, 1e-12, "test map"));
        Assert.Contains("test map", e.Message);
        Assert.Contains("cannot bracket", e.Message);
        Assert.Contains("y = 2", e.Message);
        var solved = new double[3];
        MonotonicSolver.Solve([0.5, -0.999, double.NaN], solved, (x, f, df) =>
        {
            for (int i = 0; i < x.Length; i++) { f[i] = Math.Tanh(x[i]); df[i] = 1 - f[i] * f[i]; }
        }, 1e-12, "tanh");
        Assert.Equal(Math.Atanh(0.5), solved[0], 1e-12);
        Assert.Equal(Math.Atanh(-0.999), solved[1], 1e-10);
        Assert.True(double.IsNaN(solved[2]));
    }

    [Theory]
    [InlineData("smooth")]
    [InlineData("steep")]
    [InlineData("cubic")]
    public void SolverConvergesInAFewNewtonStepsWhenTheDerivativeIsExact(string map)
    {
        // each element its own target; Newton converges quadratically, so a 1e-12 solve takes a handful of calls of
        // the map (bracketing included): a solver that falls back to bisection once Newton nears the root from one
        // side (the bracket's far end never moves) needs about 40
        Func<double, double> f, df;
        double[] y;
        switch (map)
        {
            case "smooth":
                (f, df) = (x => x + 0.8 * Math.Tanh(2 * x), x => 1 + 1.6 * (1 - Math.Tanh(2 * x) * Math.Tanh(2 * x)));
                y = Enumerable.Range(0, 801).Select(i => -20 + 0.05 * i).ToArray();
                break;
            case "steep":
                (f, df) = (x => 0.01 * x + Math.Tanh(5 * (x - 1)), x => 0.01 + 5 * (1 - Math.Tanh(5 * (x - 1)) * Math.Tanh(5 * (x - 1))));
                y = Enumerable.Range(0, 301).Select(i => -1.5 + 0.01 * i).ToArray();
                break;
            default:
                (f, df) = (x => x * x * x + 1e-3 * x, x => 3 * x * x + 1e-3);
                y = Enumerable.Range(0, 300).Select(i => -50 + 0.37 * i).ToArray();
                break;
        }
        int calls = 0;
        var solved = new double[y.Length];
        MonotonicSolver.Solve(y, solved, (x, v, d) =>
        {
            calls++;
            for (int i = 0; i < x.Length; i++) { v[i] = f(x[i]); d[i] = df(x[i]); }
        }, 1e-12, map);
        for (int i = 0; i < y.Length; i++)
        {
            double tol = 4e-12 * Math.Max(1, Math.Abs(solved[i]));
            Assert.True(f(solved[i] - tol) < y[i] && f(solved[i] + tol) > y[i], $"{map}: x = {solved[i]:R} is not within {tol:G2} of the root of f(x) = {y[i]}");
        }
        Assert.True(calls <= 16, $"{map}: {calls} evaluations of the map for a 1e-12 solve with its exact derivative");
    }

    [Fact]
    public void UnboundUmnnUpdateExplainsItNeedsALayer()
    {
        var u = new UmnnUpdate();
        var e = Assert.Throws<InvalidOperationException>(() => u.Apply(new Var<double>(Tensor<double>.Zeros(2, 1)), new Var<double>(Tensor<double>.Zeros(2, u.ParametersPerFeature)), false));
        Assert.Contains("Bind", e.Message);
        var layer = new AutoregressiveTransform<float>(2, u, new Rng(1));
        Assert.Contains(layer.NamedParameters(), p => p.Key.StartsWith("update.", StringComparison.Ordinal));
    }

    public static TheoryData<string> Builders => new() { "naf", "umnn" };

    [Theory]
    [MemberData(nameof(Builders))]
    public void TrainedFlowIntegratesToOne(string name)
    {
        var data = ToyDatasets.Generate("moons", 4000, seed: 5).ToTensor<double>();
        var flow = name == "naf"
            ? FlowBuilders.Naf<double>(2, layers: 3, hidden: 32, components: 4, rng: new Rng(3))
            : FlowBuilders.Umnn<double>(2, layers: 2, hidden: 32, rng: new Rng(3), update: new UmnnUpdate(embedding: 4, hidden: 16, nodes: 17));
        var history = new MaximumLikelihoodTrainer<double>(flow, new TrainingOptions { Steps = 150, BatchSize = 256, LearningRate = 3e-3 })
            .Fit(new TrainingData<double>(data));
        Assert.True(-history.Epochs[^1].TrainLoss > -1.9, $"{name} did not learn (train log-lik {-history.Epochs[^1].TrainLoss})");

        flow.Eval();
        double integral = NormalizingFlows.Tests.Flows.TrainedDensityNormalizationTests.GridIntegral(flow, 300, -6, 7, -6, 6);
        Assert.True(Math.Abs(integral - 1) < 0.01, $"{name}: ∫p = {integral}");
    }

    [Fact]
    public void AMaskedUpdateRefusesAnUpdateWithItsOwnWeights()
    {
        var e = Assert.Throws<NotSupportedException>(() => new MaskedUpdate([true, false], new UmnnUpdate(embedding: 4, hidden: 8, nodes: 9), new AffineUpdate()));
        Assert.Contains("UmnnUpdate", e.Message);
        _ = new MaskedUpdate([true, false], new SigmoidalUpdate(), new SigmoidalUpdate());   // no weights of their own: fine
    }
}
