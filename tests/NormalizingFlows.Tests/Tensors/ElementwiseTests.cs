using NormalizingFlows.Tensors.Kernels;
using Xunit.Abstractions;

namespace NormalizingFlows.Tests.Tensors;

[Collection("Kernels")] // sets WorkerPool.MaxThreads, a process-wide setting: never beside another test that sets it
public class ElementwiseTests(ITestOutputHelper output)
{
    public delegate void Fwd(ReadOnlySpan<float> x, Span<float> y);

    // Float forward kernels with their double references, the error bound (max ulp of the float result) and an
    // absolute floor below which the error is judged in absolute terms (near a zero of the function, denormals).
    public static readonly (string Name, Fwd F, Func<double, double> Ref, double MaxUlp, double AbsFloor, Func<double, bool> Domain)[] Cases =
    [
        ("exp", (x, y) => Elementwise.Exp(x, y), Math.Exp, 2, 0, _ => true),
        ("log", (x, y) => Elementwise.Log(x, y), Math.Log, 2, 0, _ => true),
        ("log1p", (x, y) => Elementwise.Log1p(x, y), VectorMath.Log1p, 3, 0, _ => true),
        ("tanh", (x, y) => Elementwise.Tanh(x, y), Math.Tanh, 3, 0, _ => true),
        ("sigmoid", (x, y) => Elementwise.Sigmoid(x, y), VectorMath.Sigmoid, 3, 0, _ => true),
        ("softplus", (x, y) => Elementwise.Softplus(x, y), VectorMath.Softplus, 3, 0, _ => true),
        ("silu", (x, y) => Elementwise.Silu(x, y), VectorMath.Silu, 3, 1e-40, _ => true),
        ("elu", (x, y) => Elementwise.Elu(x, 1f, y), v => v > 0 ? v : VectorMath.Expm1(v), 2, 0, _ => true),
        ("elu0.5", (x, y) => Elementwise.Elu(x, 0.5f, y), v => v > 0 ? v : 0.5 * VectorMath.Expm1(v), 3, 0, _ => true),
        ("relu", (x, y) => Elementwise.Relu(x, y), v => double.IsNaN(v) ? v : Math.Max(v, 0), 0, 0, _ => true),
        ("sqrt", (x, y) => Elementwise.Sqrt(x, y), Math.Sqrt, 0.5, 0, _ => true),
        ("abs", (x, y) => Elementwise.Abs(x, y), Math.Abs, 0, 0, _ => true),
        ("square", (x, y) => Elementwise.Square(x, y), v => v * v, 0.5, 0, _ => true),
    ];

    /// <summary>1e5 points over [−100, 100], log-spaced magnitudes 1e−45..3e38 of both signs, and special values.</summary>
    internal static float[] Sweep()
    {
        var l = new List<float>();
        for (int i = 0; i <= 100000; i++) l.Add(-100f + 200f * i / 100000f);
        for (int i = 0; i <= 20000; i++)
        {
            float m = (float)Math.Pow(10, -45 + 83.5 * i / 20000.0);
            l.Add(m); l.Add(-m);
        }
        for (float v = -1.5f; v <= 1.5f; v += 1e-4f) l.Add(v);
        l.AddRange([0f, -0f, float.PositiveInfinity, float.NegativeInfinity, float.NaN, float.Epsilon, -float.Epsilon,
            1e-40f, -1e-40f, float.MaxValue, float.MinValue, 88.72f, 88.73f, 88.7228f, 88.7229f, -87.33f, -87.34f,
            -103.97f, -103.98f, -104f, -150f, 0.625f, -0.625f, 0.62499f, 9f, 9.1f, -9.1f, 15f, -15f, 16.7f, -17.4f,
            BitConverter.Int32BitsToSingle(0x00800000), BitConverter.Int32BitsToSingle(0x007FFFFF), -1f, -0.99999994f, 1f, 2f, 0.5f,
            1.4142135f, 0.70710677f, 1e-8f, -1e-8f, 1e7f, 1e30f, -1e30f]);
        return l.ToArray();
    }

    internal static double UlpError(float y, double r, double absFloor)
    {
        if (double.IsNaN(r)) return float.IsNaN(y) ? 0 : double.PositiveInfinity;
        if (float.IsNaN(y)) return double.PositiveInfinity;
        float rf = (float)r;
        if (float.IsInfinity(rf) || float.IsInfinity(y)) return y == rf ? 0 : double.PositiveInfinity;
        double err = Math.Abs(y - r);
        if (err <= absFloor) return 0;
        double ar = Math.Max(Math.Abs(r), 1.1754943508222875e-38);
        double ulp = Math.Pow(2, Math.ILogB(ar) - 23);
        return err / ulp;
    }

    [Fact]
    public void ForwardFloat_AccuracyOverDenseSweep()
    {
        var x = Sweep();
        var y = new float[x.Length];
        var failures = new List<string>();
        foreach (var c in Cases)
        {
            c.F(x, y);
            double worst = 0; float at = 0;
            for (int i = 0; i < x.Length; i++)
            {
                double e = UlpError(y[i], c.Ref(x[i]), c.AbsFloor);
                if (e > worst) { worst = e; at = x[i]; }
            }
            output.WriteLine($"{c.Name}: max {worst:F2} ulp at x = {at:R}");
            if (!(worst <= c.MaxUlp)) failures.Add($"{c.Name}: {worst} ulp at {at:R} (y = {Run(c.F, at):R}, ref = {c.Ref(at):R})");
        }
        Assert.True(failures.Count == 0, string.Join("\n", failures));
    }

    private static float Run(Fwd f, float v) { var y = new float[1]; f([v], y); return y[0]; }

    [Fact]
    public void ForwardFloat_SpecialValues()
    {
        Assert.Equal(0f, Run(Elementwise.Exp, float.NegativeInfinity));
        Assert.Equal(float.PositiveInfinity, Run(Elementwise.Exp, float.PositiveInfinity));
        Assert.Equal(float.PositiveInfinity, Run(Elementwise.Exp, 89f));
        Assert.Equal(0f, Run(Elementwise.Exp, -200f));
        Assert.True(float.IsNaN(Run(Elementwise.Exp, float.NaN)));
        Assert.Equal(1f, Run(Elementwise.Exp, 0f));
        Assert.Equal(float.NegativeInfinity, Run(Elementwise.Log, 0f));
        Assert.Equal(float.NegativeInfinity, Run(Elementwise.Log, -0f));
        Assert.True(float.IsNaN(Run(Elementwise.Log, -1f)));
        Assert.True(float.IsNaN(Run(Elementwise.Log, float.NegativeInfinity)));
        Assert.Equal(float.PositiveInfinity, Run(Elementwise.Log, float.PositiveInfinity));
        Assert.Equal(0f, Run(Elementwise.Log, 1f));
        Assert.Equal(float.NegativeInfinity, Run(Elementwise.Log1p, -1f));
        Assert.True(float.IsNaN(Run(Elementwise.Log1p, -2f)));
        Assert.Equal(float.PositiveInfinity, Run(Elementwise.Log1p, float.PositiveInfinity));
        Assert.Equal(1e-30f, Run(Elementwise.Log1p, 1e-30f));
        Assert.True(float.IsNegative(Run(Elementwise.Log1p, -0f)));
        foreach (var v in new[] { 9.1f, 20f, 1e30f, float.PositiveInfinity })
        {
            Assert.Equal(1f, Run(Elementwise.Tanh, v)); Assert.Equal(-1f, Run(Elementwise.Tanh, -v));
        }
        foreach (var v in new[] { 20f, 1e30f, float.PositiveInfinity })
        {
            Assert.Equal(1f, Run(Elementwise.Sigmoid, v)); Assert.Equal(v, Run(Elementwise.Softplus, v));
            Assert.Equal(v, Run(Elementwise.Silu, v));
        }
        Assert.Equal(0f, Run(Elementwise.Sigmoid, float.NegativeInfinity));
        Assert.Equal(0f, Run(Elementwise.Sigmoid, -200f));
        Assert.Equal(0f, Run(Elementwise.Softplus, float.NegativeInfinity));
        Assert.Equal(0f, Run(Elementwise.Silu, float.NegativeInfinity));
        Assert.Equal(MathF.Exp(-50f), Run(Elementwise.Softplus, -50f), 1e-27f);
        Assert.Equal(-1f, Run((x, y) => Elementwise.Elu(x, 1f, y), float.NegativeInfinity));
        Assert.Equal(-2f, Run((x, y) => Elementwise.Elu(x, 2f, y), -1000f));
        Assert.True(float.IsNegative(Run(Elementwise.Tanh, -0f)));
        foreach (var c in Cases) Assert.True(float.IsNaN(Run(c.F, float.NaN)), c.Name + "(NaN)");
    }

    public static readonly int[] Lengths = [0, 1, 7, 8, 9, 31, 33, 1000, 100003];

    private static float[] Rand(int n, int seed, float lo, float hi)
    {
        var r = new Random(seed); var a = new float[n];
        for (int i = 0; i < n; i++) a[i] = lo + (hi - lo) * (float)r.NextDouble();
        return a;
    }

    [Fact]
    public void ForwardFloat_AllLengths_Aliasing_ThreadIndependence()
    {
        foreach (var c in Cases)
            foreach (int n in Lengths)
            {
                var x = Rand(n, n + 1, c.Name.StartsWith("log") || c.Name == "sqrt" ? 0.001f : -30f, 30f);
                var y = new float[n];
                c.F(x, y);
                for (int i = 0; i < n; i++)
                    Assert.True(UlpError(y[i], c.Ref(x[i]), c.AbsFloor) <= c.MaxUlp, $"{c.Name} n={n} i={i} x={x[i]:R} y={y[i]:R}");
                var alias = (float[])x.Clone();
                c.F(alias, alias);
                Assert.Equal(y, alias);
                int saved = WorkerPool.MaxThreads;
                try
                {
                    WorkerPool.MaxThreads = 1; var y1 = new float[n]; c.F(x, y1);
                    WorkerPool.MaxThreads = 2; var y2 = new float[n]; c.F(x, y2);
                    Assert.Equal(y1, y2); Assert.Equal(y, y1);
                }
                finally { WorkerPool.MaxThreads = saved; }
            }
    }

    [Fact]
    public void ForwardDouble_MatchesMathWithinUlps()
    {
        var xs = Sweep().Select(v => (double)v).Concat([1e-300, -1e-300, 1e-17, -1e-17, 0.3, -0.3, 700, -700, 710, -745]).ToArray();
        var y = new double[xs.Length];
        Elementwise.Exp<double>(xs, y); for (int i = 0; i < xs.Length; i++) Assert.Equal(Math.Exp(xs[i]), y[i]);
        Elementwise.Log<double>(xs, y); for (int i = 0; i < xs.Length; i++) Assert.Equal(Math.Log(xs[i]), y[i]);
        Elementwise.Tanh<double>(xs, y); for (int i = 0; i < xs.Length; i++) Assert.Equal(Math.Tanh(xs[i]), y[i]);
        // log1p / expm1 near zero against their series; elsewhere against the textbook formulas.
        foreach (double v in new[] { 1e-10, -1e-10, 3e-6, -3e-6, 1e-300 })
        {
            double[] o = new double[1];
            Elementwise.Log1p<double>([v], o); Assert.Equal(v - v * v / 2 + v * v * v / 3, o[0], Math.Abs(v) * 1e-15);
            Elementwise.Expm1<double>([v], o); Assert.Equal(v + v * v / 2 + v * v * v / 6, o[0], Math.Abs(v) * 1e-15);
            Elementwise.Elu<double>([-v], 1.0, o); Assert.Equal(v <= 0 ? -v : -v + v * v / 2 - v * v * v / 6, o[0], Math.Abs(v) * 1e-15);
        }
        foreach (double v in new[] { 0.5, 3.0, 40.0, -0.5, -3.0, -40.0, -800.0, 800.0 })
        {
            double[] o = new double[1];
            Elementwise.Sigmoid<double>([v], o); Assert.Equal(1 / (1 + Math.Exp(-v)), o[0], 1e-15 * o[0] + 1e-300);
            Elementwise.Softplus<double>([v], o); Assert.Equal(v > 30 ? v : v < -30 ? Math.Exp(v) : Math.Log(1 + Math.Exp(v)), o[0], 2e-15 * Math.Abs(o[0]));
            Elementwise.Silu<double>([v], o); Assert.Equal(v / (1 + Math.Exp(-v)), o[0], 2e-15 * Math.Abs(o[0]) + 1e-300);
        }
        var big = new double[] { double.PositiveInfinity, double.NegativeInfinity, double.NaN };
        var ob = new double[3];
        Elementwise.Sigmoid<double>(big, ob); Assert.Equal([1.0, 0.0], ob[..2]); Assert.True(double.IsNaN(ob[2]));
        Elementwise.Softplus<double>(big, ob); Assert.Equal([double.PositiveInfinity, 0.0], ob[..2]); Assert.True(double.IsNaN(ob[2]));
        Elementwise.Silu<double>(big, ob); Assert.Equal([double.PositiveInfinity, 0.0], ob[..2]); Assert.True(double.IsNaN(ob[2]));
    }

    [Fact]
    public void Arithmetic_FloatAndDouble_AllLengths()
    {
        foreach (int n in Lengths)
        {
            var a = Rand(n, 3 * n + 1, -5, 5); var b = Rand(n, 3 * n + 2, 0.5f, 5); var y0 = Rand(n, 3 * n + 3, -1, 1);
            if (n > 3) { a[0] = float.NaN; a[1] = -0f; a[2] = 7f; }
            Check(n, (x, y) => Elementwise.Add<float>(x.a, x.b, y), (p, q, _) => p + q);
            Check(n, (x, y) => Elementwise.Subtract<float>(x.a, x.b, y), (p, q, _) => p - q);
            Check(n, (x, y) => Elementwise.Multiply<float>(x.a, x.b, y), (p, q, _) => p * q);
            Check(n, (x, y) => Elementwise.Divide<float>(x.a, x.b, y), (p, q, _) => p / q);
            Check(n, (x, y) => Elementwise.ScaleShift<float>(x.a, 1.5f, -0.25f, y), (p, _, _) => 1.5f * p + -0.25f);
            Check(n, (x, y) => Elementwise.Clamp<float>(x.a, -1f, 2f, y), (p, _, _) => Math.Min(Math.Max(p, -1f), 2f));
            Check(n, (x, y) => Elementwise.LeakyRelu<float>(x.a, 0.1f, y), (p, _, _) => p > 0 ? p : 0.1f * p);
            Check(n, (x, y) => Elementwise.Axpy<float>(0.3f, x.a, y), (p, _, g) => g + 0.3f * p, acc: true);
            Check(n, (x, y) => Elementwise.MultiplyAdd<float>(x.a, x.b, y), (p, q, g) => g + p * q, acc: true);
            Check(n, (x, y) => Elementwise.LogBackward<float>(x.b, x.a, y), (p, q, g) => g + p / q, acc: true);
            Check(n, (x, y) => Elementwise.Log1pBackward<float>(x.b, x.a, y), (p, q, g) => g + p / (1 + q), acc: true);
            Check(n, (x, y) => Elementwise.TanhBackward<float>(x.b, x.a, y), (p, q, g) => g + p * (1 - q * q), acc: true);
            Check(n, (x, y) => Elementwise.SigmoidBackward<float>(x.b, x.a, y), (p, q, g) => g + p * q * (1 - q), acc: true);
            Check(n, (x, y) => Elementwise.ExpBackward<float>(x.b, x.a, y), (p, q, g) => g + p * q, acc: true);
            Check(n, (x, y) => Elementwise.ReluBackward<float>(x.a, x.b, y), (p, q, g) => p > 0 ? g + q : g, acc: true);
            Check(n, (x, y) => Elementwise.LeakyReluBackward<float>(x.a, 0.2f, x.b, y), (p, q, g) => g + (p > 0 ? q : 0.2f * q), acc: true);

            void Check(int n, Action<(float[] a, float[] b), float[]> k, Func<float, float, float, float> r, bool acc = false)
            {
                var y = acc ? (float[])y0.Clone() : new float[n];
                k((a, b), y);
                for (int i = 0; i < n; i++)
                {
                    float e = r(a[i], b[i], y0[i]);
                    Assert.True(e.Equals(y[i]) || Math.Abs(e - y[i]) <= 1e-6f * Math.Abs(e), $"n={n} i={i}: {y[i]} vs {e}");
                }
            }
        }
        // double arithmetic is exact IEEE and must match scalar evaluation bit for bit
        foreach (int n in Lengths)
        {
            var r = new Random(n);
            var a = Enumerable.Range(0, n).Select(_ => r.NextDouble() * 10 - 5).ToArray();
            var b = Enumerable.Range(0, n).Select(_ => r.NextDouble() * 4 + 0.5).ToArray();
            var y = new double[n];
            Elementwise.Divide<double>(a, b, y); for (int i = 0; i < n; i++) Assert.Equal(a[i] / b[i], y[i]);
            Elementwise.Add<double>(a, b, y); for (int i = 0; i < n; i++) Assert.Equal(a[i] + b[i], y[i]);
            var g = (double[])b.Clone();
            Elementwise.MultiplyAdd<double>(a, a, g); for (int i = 0; i < n; i++) Assert.Equal(b[i] + a[i] * a[i], g[i]);
            Elementwise.Relu<double>(a, y); for (int i = 0; i < n; i++) Assert.Equal(Math.Max(a[i], 0), y[i]);
            Elementwise.Sqrt<double>(b, y); for (int i = 0; i < n; i++) Assert.Equal(Math.Sqrt(b[i]), y[i]);
        }
        var nanIn = new[] { float.NaN, -3f, 5f, -0f, 1f, 2f, 3f, 4f, float.NaN };
        var o = new float[9];
        Elementwise.Relu<float>(nanIn, o); Assert.True(float.IsNaN(o[0]) && float.IsNaN(o[8])); Assert.Equal(0f, o[1]); Assert.False(float.IsNegative(o[3]));
        Elementwise.Clamp<float>(nanIn, 0f, 1f, o); Assert.True(float.IsNaN(o[0]) && float.IsNaN(o[8])); Assert.Equal(0f, o[1]); Assert.Equal(1f, o[2]);
    }

    public delegate void Bwd(ReadOnlySpan<float> x, ReadOnlySpan<float> gy, Span<float> gx);

    [Fact]
    public void BackwardFloat_MatchAnalyticDerivative_AccumulateAllLengths()
    {
        var cases = new (string Name, Bwd F, Func<double, double> Fwd, Func<double, double> D)[]
        {
            ("softplus", (x, g, o) => Elementwise.SoftplusBackward(x, g, o), VectorMath.Softplus, VectorMath.Sigmoid),
            ("silu", (x, g, o) => Elementwise.SiluBackward(x, g, o), VectorMath.Silu, VectorMath.SiluDerivative),
            ("elu", (x, g, o) => { var y = new float[x.Length]; Elementwise.Elu(x, 0.7f, y); Elementwise.EluBackward(x, y, 0.7f, g, o); },
                v => v > 0 ? v : 0.7 * VectorMath.Expm1(v), v => v > 0 ? 1 : 0.7 * Math.Exp(v)),
            ("tanh", (x, g, o) => { var y = new float[x.Length]; Elementwise.Tanh(x, y); Elementwise.TanhBackward(y, g, o); },
                Math.Tanh, v => 1 - Math.Tanh(v) * Math.Tanh(v)),
            ("sigmoid", (x, g, o) => { var y = new float[x.Length]; Elementwise.Sigmoid(x, y); Elementwise.SigmoidBackward(y, g, o); },
                VectorMath.Sigmoid, v => VectorMath.Sigmoid(v) * VectorMath.Sigmoid(-v)),
            ("exp", (x, g, o) => { var y = new float[x.Length]; Elementwise.Exp(x, y); Elementwise.ExpBackward(y, g, o); }, Math.Exp, Math.Exp),
            ("log", (x, g, o) => Elementwise.LogBackward(x, g, o), Math.Log, v => 1 / v),
            ("log1p", (x, g, o) => Elementwise.Log1pBackward(x, g, o), VectorMath.Log1p, v => 1 / (1 + v)),
        };
        foreach (var c in cases)
        {
            // the analytic derivative agrees with central differences of the double reference
            foreach (double v in new[] { -3.0, -0.7, 0.2, 0.9, 4.0 })
            {
                double x0 = c.Name.StartsWith("log") ? Math.Abs(v) : v, h = 1e-6;
                Assert.Equal((c.Fwd(x0 + h) - c.Fwd(x0 - h)) / (2 * h), c.D(x0), 1e-7);
            }
            foreach (int n in Lengths)
            {
                var x = Rand(n, 7 * n + 1, c.Name.StartsWith("log") ? 0.01f : -20f, 20f);
                var gy = Rand(n, 7 * n + 2, -2, 2); var gx0 = Rand(n, 7 * n + 3, -1, 1);
                var gx = (float[])gx0.Clone();
                c.F(x, gy, gx);
                for (int i = 0; i < n; i++)
                {
                    double term = gy[i] * c.D(x[i]), e = gx0[i] + term;
                    // tanh/sigmoid/exp go through the float forward value: allow its few-ulp error times the slope
                    double tol = 4e-7 * (Math.Abs(gx0[i]) + Math.Abs(term)) + (c.Name is "tanh" or "sigmoid" ? 1e-6 * Math.Abs(gy[i]) : 0)
                        + (c.Name == "elu" ? 1.2e-7 * Math.Abs(gy[i]) : 0) // contract uses y + alpha: cancels for x ≪ 0
                        + (c.Name == "silu" ? 4e-7 * Math.Abs(gy[i]) * (1 + Math.Abs(x[i])) : 0); // s + x·s·(1−s) cancels near −1.28
                    Assert.True(Math.Abs(gx[i] - e) <= tol, $"{c.Name} n={n} i={i} x={x[i]:R}: {gx[i]:R} vs {e:R}");
                }
            }
        }
        // infinities: derivatives stay finite
        var xi = new[] { float.PositiveInfinity, float.NegativeInfinity, 100f, -100f, 0f, 1e-30f, -1e-30f, 50f, -50f };
        var gyi = Enumerable.Repeat(1f, xi.Length).ToArray();
        var s = new float[xi.Length]; Elementwise.SiluBackward(xi, gyi, s);
        Assert.Equal([1f, 0f, 1f], [s[0], s[1], s[2]]); Assert.All(s, v => Assert.True(float.IsFinite(v)));
        var sp = new float[xi.Length]; Elementwise.SoftplusBackward(xi, gyi, sp);
        Assert.Equal([1f, 0f, 1f], sp[..3]); Assert.InRange(sp[3], 3.7e-44f, 3.9e-44f); Assert.Equal(0.5f, sp[4]);
    }

    [Fact]
    public void BackwardDouble_Accumulates()
    {
        var x = new[] { -2.0, -0.1, 0.0, 0.3, 5.0 };
        var gy = new[] { 1.0, 2.0, 3.0, 4.0, 5.0 };
        var gx = new[] { 1.0, 1.0, 1.0, 1.0, 1.0 };
        Elementwise.SoftplusBackward<double>(x, gy, gx);
        for (int i = 0; i < x.Length; i++) Assert.Equal(1 + gy[i] * VectorMath.Sigmoid(x[i]), gx[i], 1e-15);
        Array.Fill(gx, 1.0);
        Elementwise.SiluBackward<double>(x, gy, gx);
        for (int i = 0; i < x.Length; i++)
        {
            double s = 1 / (1 + Math.Exp(-x[i]));
            Assert.Equal(1 + gy[i] * (s + x[i] * s * (1 - s)), gx[i], 1e-14);
        }
    }

    [Fact]
    public void LengthMismatch_Throws()
    {
        Assert.Throws<ArgumentException>(() => Elementwise.Exp<float>(new float[3], new float[4]));
        Assert.Throws<ArgumentException>(() => Elementwise.Add<float>(new float[3], new float[3], new float[4]));
    }
}
