using NormalizingFlows.Tensors.Kernels;

namespace NormalizingFlows.Tests.Tensors;

public class SearchTests
{
    /// <summary>Reference: largest i with knots[i] ≤ x, clamped to [0, K − 2]; NaN → 0.</summary>
    private static int RefBin(double[] k, double x)
    {
        if (double.IsNaN(x)) return 0;
        int b = -1;
        for (int i = 0; i < k.Length; i++) if (k[i] <= x) b = i;
        return Math.Clamp(b, 0, k.Length - 2);
    }

    private static double[] Knots(Random r, int k)
    {
        var a = new double[k]; double v = -5;
        for (int i = 0; i < k; i++) { a[i] = v; v += i % 7 == 3 ? 0 : 0.01 + r.NextDouble(); } // includes ties
        return a;
    }

    private static double[] Probes(Random r, double[] k)
    {
        var p = new List<double>(k) { k[0] - 1, k[^1] + 1, double.NaN, double.NegativeInfinity, double.PositiveInfinity, k[^1], k[0] };
        for (int i = 0; i < 40; i++) p.Add(k[0] - 0.5 + (k[^1] - k[0] + 1) * r.NextDouble());
        return p.ToArray();
    }

    [Theory]
    [InlineData(2)] [InlineData(3)] [InlineData(9)] [InlineData(10)] [InlineData(11)] [InlineData(17)] [InlineData(34)]
    [InlineData(35)] [InlineData(66)] [InlineData(67)] [InlineData(200)]
    public void SharedKnots_MatchReference(int k)
    {
        var r = new Random(k);
        var knots = Knots(r, k);
        var xs = Probes(r, knots);
        var bins = new int[xs.Length];
        Search.SearchSorted<double>(knots, xs, bins);
        for (int i = 0; i < xs.Length; i++) Assert.Equal(RefBin(knots, xs[i]), bins[i]);
        var kf = knots.Select(v => (float)v).ToArray();
        var xf = xs.Select(v => (float)v).ToArray();
        var bf = new int[xf.Length];
        Search.SearchSorted<float>(kf, xf, bf);
        var kfd = kf.Select(v => (double)v).ToArray();
        for (int i = 0; i < xf.Length; i++) Assert.Equal(RefBin(kfd, xf[i]), bf[i]);
    }

    [Theory]
    [InlineData(2)] [InlineData(5)] [InlineData(10)] [InlineData(11)] [InlineData(33)] [InlineData(65)] [InlineData(66)] [InlineData(67)] [InlineData(150)]
    public void PerRowKnots_MatchReference(int k)
    {
        var r = new Random(k + 100);
        int rows = 120;
        var knots = new double[rows * k]; var xs = new double[rows];
        for (int i = 0; i < rows; i++)
        {
            var row = Knots(r, k);
            row.CopyTo(knots, i * k);
            var p = Probes(r, row);
            xs[i] = p[i % p.Length];
        }
        var bins = new int[rows];
        Search.SearchSorted<double>(knots, rows, k, xs, bins);
        var bf = new int[rows];
        Search.SearchSorted<float>(knots.Select(v => (float)v).ToArray(), rows, k, xs.Select(v => (float)v).ToArray(), bf);
        for (int i = 0; i < rows; i++)
        {
            var row = knots.Skip(i * k).Take(k).ToArray();
            Assert.Equal(RefBin(row, xs[i]), bins[i]);
            Assert.Equal(RefBin(row.Select(v => (double)(float)v).ToArray(), (float)xs[i]), bf[i]);
        }
    }

    [Fact]
    public void EdgeCases()
    {
        float[] k = [0f, 1f, 2f, 3f];
        float[] x = [-1f, 0f, 0.5f, 1f, 2.999f, 3f, 4f, float.NaN, float.NegativeInfinity, float.PositiveInfinity];
        var b = new int[x.Length];
        Search.SearchSorted<float>(k, x, b);
        Assert.Equal([0, 0, 0, 1, 2, 2, 2, 0, 0, 2], b);
        Assert.Throws<ArgumentException>(() => Search.SearchSorted<float>([1f], x, b));
        Assert.Throws<ArgumentException>(() => Search.SearchSorted<float>(k, 2, 2, [1f], new int[2]));
        Search.SearchSorted<float>(k, [], []);
    }
}
