using NormalizingFlows.Tensors.Kernels;

namespace NormalizingFlows.Tests.Tensors;

[Collection("Kernels")] // sets WorkerPool.MaxThreads, a process-wide setting: never beside another test that sets it
public class ReductionsTests
{
    public static readonly int[] Lengths = [0, 1, 7, 8, 9, 31, 33, 1000, 100003, 300001];

    /// <summary>Double-double (TwoSum) reference sum: exact to ~1e-30 relative for these inputs.</summary>
    private static double ExactSum(IEnumerable<double> xs)
    {
        double s = 0, c = 0;
        foreach (var v in xs) { double t = s + v, bb = t - s; c += (s - (t - bb)) + (v - bb); s = t; }
        return s + c;
    }

    private static T WithThreads<T>(int threads, Func<T> f)
    {
        int saved = WorkerPool.MaxThreads;
        try { WorkerPool.MaxThreads = threads; return f(); } finally { WorkerPool.MaxThreads = saved; }
    }

    [Fact]
    public void SumAndDot_MatchExactReference_AndAreThreadIndependent()
    {
        foreach (int n in Lengths)
        {
            var r = new Random(n + 11);
            // ill-conditioned: large cancelling values plus small ones
            var d = Enumerable.Range(0, n).Select(i => (i % 2 == 0 ? 1e6 : -1e6) * (1 + r.NextDouble() * 1e-3) + r.NextDouble()).ToArray();
            var f = d.Select(v => (float)(v * 1e-3)).ToArray();
            double exactD = ExactSum(d), absD = d.Sum(Math.Abs);
            double sd = Reductions.Sum<double>(d);
            Assert.True(Math.Abs(sd - exactD) <= 1e-15 * absD + 1e-300, $"double n={n}: {sd} vs {exactD}");
            if (Math.Abs(exactD) > 1e-3 * absD / Math.Max(1, n)) Assert.True(Math.Abs(sd - exactD) <= 1e-12 * Math.Abs(exactD));
            double exactF = ExactSum(f.Select(v => (double)v)), absF = f.Sum(v => Math.Abs((double)v));
            double naive = 0; foreach (var v in f) naive += v;
            double sf = Reductions.Sum<float>(f);
            Assert.True(Math.Abs(sf - exactF) <= Math.Max(Math.Abs(naive - exactF), 1e-15 * absF), $"float n={n}: {sf} vs {exactF} (naive {naive})");
            Assert.Equal(WithThreads(1, () => Reductions.Sum<float>(f)), WithThreads(2, () => Reductions.Sum<float>(f)));
            Assert.Equal(WithThreads(1, () => Reductions.Sum<double>(d)), WithThreads(2, () => Reductions.Sum<double>(d)));

            var g = Enumerable.Range(0, n).Select(_ => (float)(r.NextDouble() * 2 - 1)).ToArray();
            double exactDot = ExactSum(f.Zip(g, (a, b) => (double)a * b)), absDot = f.Zip(g, (a, b) => Math.Abs((double)a * b)).Sum();
            Assert.True(Math.Abs(Reductions.Dot<float>(f, g) - exactDot) <= 1e-14 * absDot + 1e-300, $"dot float n={n}");
            var gd = g.Select(v => (double)v).ToArray();
            Assert.True(Math.Abs(Reductions.Dot<double>(d, gd) - ExactSum(d.Zip(gd, (a, b) => a * b))) <= 1e-14 * d.Zip(gd, (a, b) => Math.Abs(a * b)).Sum() + 1e-300);
            Assert.Equal(WithThreads(1, () => Reductions.Dot<float>(f, g)), WithThreads(2, () => Reductions.Dot<float>(f, g)));
        }
        Assert.Throws<ArgumentException>(() => Reductions.Dot<float>(new float[2], new float[3]));
    }

    [Fact]
    public void Max_NaN_Empty()
    {
        foreach (int n in Lengths)
        {
            var r = new Random(n);
            var x = Enumerable.Range(0, n).Select(_ => (float)(r.NextDouble() * 100 - 50)).ToArray();
            Assert.Equal(n == 0 ? float.NegativeInfinity : x.Max(), Reductions.Max<float>(x));
            var xd = x.Select(v => (double)v).ToArray();
            Assert.Equal(n == 0 ? double.NegativeInfinity : xd.Max(), Reductions.Max<double>(xd));
            if (n > 0)
            {
                x[n - 1] = float.NaN; Assert.True(float.IsNaN(Reductions.Max<float>(x)));
                x[n - 1] = 0; x[0] = float.NaN; Assert.True(float.IsNaN(Reductions.Max<float>(x)));
            }
        }
        Assert.Equal(-1f, Reductions.Max<float>([float.NegativeInfinity, -1f, -3f]));
    }

    private static readonly (int Rows, int Cols)[] Shapes = [(0, 5), (5, 0), (1, 1), (3, 7), (4, 8), (5, 9), (100, 2), (1000, 33), (64, 64), (600, 300), (3, 50001), (70000, 3)];

    [Fact]
    public void RowAndColumnReductions_MatchReference_ThreadIndependent()
    {
        foreach (var (rows, cols) in Shapes)
        {
            var r = new Random(rows * 31 + cols);
            var xd = Enumerable.Range(0, rows * cols).Select(_ => r.NextDouble() * 20 - 10).ToArray();
            var xf = xd.Select(v => (float)v).ToArray();

            var sr = new float[rows];
            Reductions.SumRows<float>(xf, rows, cols, sr);
            var mr = new float[rows];
            Reductions.MaxRows<float>(xf, rows, cols, mr);
            var lse = new float[rows];
            Reductions.LogSumExpRows<float>(xf, rows, cols, lse);
            var lsed = new double[rows];
            Reductions.LogSumExpRows<double>(xd, rows, cols, lsed);
            for (int i = 0; i < rows; i++)
            {
                var row = Enumerable.Range(0, cols).Select(c => (double)xf[i * cols + c]).ToArray();
                Assert.Equal((float)ExactSum(row), sr[i]);
                Assert.Equal(cols == 0 ? float.NegativeInfinity : (float)row.Max(), mr[i]);
                double m = cols == 0 ? double.NegativeInfinity : row.Max();
                double reference = cols == 0 ? double.NegativeInfinity : m + Math.Log(row.Sum(v => Math.Exp(v - m)));
                Assert.True(cols == 0 ? lse[i] == float.NegativeInfinity : Math.Abs(lse[i] - reference) <= 2e-7 * Math.Max(1, Math.Abs(reference)), $"lse {rows}x{cols} row {i}: {lse[i]} vs {reference}");
                var rowd = Enumerable.Range(0, cols).Select(c => xd[i * cols + c]).ToArray();
                double md = cols == 0 ? double.NegativeInfinity : rowd.Max();
                if (cols > 0) Assert.Equal(md + Math.Log(rowd.Sum(v => Math.Exp(v - md))), lsed[i], 1e-12 * Math.Max(1, Math.Abs(lsed[i])));
            }

            var sc = new float[cols];
            Reductions.SumCols<float>(xf, rows, cols, sc);
            var scd = new double[cols];
            Reductions.SumCols<double>(xd, rows, cols, scd);
            var acc = Enumerable.Range(0, cols).Select(c => (float)c).ToArray();
            Reductions.SumCols<float>(xf, rows, cols, acc, accumulate: true);
            for (int c = 0; c < cols; c++)
            {
                var col = Enumerable.Range(0, rows).Select(i => (double)xf[i * cols + c]);
                double e = ExactSum(col), abs = col.Sum(Math.Abs);
                Assert.True(Math.Abs(sc[c] - e) <= 6e-8 * Math.Abs(e) + 1e-13 * abs, $"sumcols {rows}x{cols} c={c}");
                Assert.True(Math.Abs(acc[c] - (c + (float)e)) <= 1.2e-7 * Math.Abs(c + e) + 1e-13 * abs);
                var cold = Enumerable.Range(0, rows).Select(i => xd[i * cols + c]);
                Assert.Equal(ExactSum(cold), scd[c], 1e-13 * cold.Sum(Math.Abs) + 1e-300);
            }

            // the thread count never changes a result
            float[] Run(int t, Action<float[]> k, int len) => WithThreads(t, () => { var o = new float[len]; k(o); return o; });
            Assert.Equal(Run(1, o => Reductions.SumCols<float>(xf, rows, cols, o), cols), Run(2, o => Reductions.SumCols<float>(xf, rows, cols, o), cols));
            Assert.Equal(Run(1, o => Reductions.SumRows<float>(xf, rows, cols, o), rows), Run(2, o => Reductions.SumRows<float>(xf, rows, cols, o), rows));
            Assert.Equal(Run(1, o => Reductions.LogSumExpRows<float>(xf, rows, cols, o), rows), Run(2, o => Reductions.LogSumExpRows<float>(xf, rows, cols, o), rows));
            Assert.Equal(Run(1, o => Reductions.MaxRows<float>(xf, rows, cols, o), rows), Run(2, o => Reductions.MaxRows<float>(xf, rows, cols, o), rows));
        }
    }

    [Fact]
    public void LogSumExp_ShortRows_SpecialRows_LargeValues()
    {
        for (int k = 1; k <= 64; k++)
        {
            int rows = 37;
            var r = new Random(k);
            var x = Enumerable.Range(0, rows * k).Select(_ => (float)(r.NextDouble() * 200 - 100)).ToArray();
            var y = new float[rows];
            Reductions.LogSumExpRows<float>(x, rows, k, y);
            for (int i = 0; i < rows; i++)
            {
                var row = x.Skip(i * k).Take(k).Select(v => (double)v).ToArray();
                double m = row.Max(), e = m + Math.Log(row.Sum(v => Math.Exp(v - m)));
                Assert.True(Math.Abs(y[i] - e) <= 2e-7 * Math.Max(1, Math.Abs(e)), $"k={k} row {i}: {y[i]} vs {e}");
            }
        }
        float ninf = float.NegativeInfinity, inf = float.PositiveInfinity;
        var s = new float[] { ninf, ninf, ninf, 1000f, 1000f, ninf, 1f, inf, 2f, 1f, float.NaN, 2f, 3e38f, 3e38f, 0f, -1e30f, 5f, -1e30f };
        var o = new float[6];
        Reductions.LogSumExpRows<float>(s, 6, 3, o);
        Assert.Equal(ninf, o[0]);
        Assert.Equal(1000f + MathF.Log(2f), o[1], 1e-4f);
        Assert.Equal(inf, o[2]);
        Assert.True(float.IsNaN(o[3]));
        Assert.Equal((float)(3e38 + Math.Log(2)), o[4]);
        Assert.Equal(5f, o[5]);
        var sd = s.Select(v => (double)v).ToArray(); var od = new double[6];
        Reductions.LogSumExpRows<double>(sd, 6, 3, od);
        Assert.Equal(double.NegativeInfinity, od[0]); Assert.Equal(double.PositiveInfinity, od[2]); Assert.True(double.IsNaN(od[3]));
        Assert.Throws<ArgumentException>(() => Reductions.SumRows<float>(new float[6], 2, 2, new float[2]));
        Assert.Throws<ArgumentException>(() => Reductions.SumCols<float>(new float[6], 2, 3, new float[2]));
    }
}
