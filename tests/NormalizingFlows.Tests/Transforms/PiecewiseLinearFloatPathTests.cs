using NormalizingFlows.Tensors;
using NormalizingFlows.Transforms.Splines;

namespace NormalizingFlows.Tests.Transforms;

/// <summary>The vectorised float path of <see cref="PiecewiseLinearSpline"/> against the double reference on the same float data.</summary>
public class PiecewiseLinearFloatPathTests
{
    public static TheoryData<int> BinCounts => new() { 1, 3, 8, 10, 16, 32 };

    private static double[] D(float[] v) => v.Select(f => (double)f).ToArray();

    private static (float[] X, float[] P) Data(PiecewiseLinearSpline s, int n, int seed, double scale)
    {
        var r = new Rng(seed);
        var p = new float[n * s.ParametersPerElement];
        for (int i = 0; i < p.Length; i++) p[i] = (float)(r.NextNormal() * scale);
        float[] extra = [0f, 1f, 1e-7f, 1 - 1e-7f, -1e-7f, 1 + 1e-7f, -3f, 5f, -1e6f, 1e6f, float.NaN, 0.5f, 0.25f];
        var x = new float[n];
        for (int i = 0; i < n; i++) x[i] = i % 4 == 1 ? extra[(i / 4) % extra.Length] : (float)r.NextDouble();
        return (x, p);
    }

    /// <summary>Whether u is within tol of a bin edge (x-space: j/K; y-space: the cumulative masses) of element i.</summary>
    private static bool NearEdge(PiecewiseLinearSpline s, float[] p, int i, double u, bool ySpace, double tol)
    {
        int k = s.Bins;
        var e = Enumerable.Range(0, k).Select(j => Math.Exp(p[i * k + j])).ToArray();
        double sum = e.Sum(), c = 0;
        for (int j = 0; j <= k; j++)
        {
            double edge = ySpace ? c : (double)j / k;
            if (Math.Abs(u - edge) <= tol) return true;
            if (j < k) c += 1e-4 + (1 - k * 1e-4) * e[j] / sum;
        }
        return false;
    }

    [Theory]
    [MemberData(nameof(BinCounts))]
    public void ValuesAndGradientsMatchTheDoubleReference(int bins)
    {
        var s = new PiecewiseLinearSpline(bins);
        int n = 1000, m = s.ParametersPerElement;
        foreach (double scale in new[] { 0.5, 2.0 })
        {
            var (x, p) = Data(s, n, 7 + bins, scale);
            var y = new float[n]; var ld = new float[n]; var yd = new double[n]; var ldd = new double[n];
            s.Forward<float>(x, p, y, ld);
            s.Forward<double>(D(x), D(p), yd, ldd);
            var xr = new float[n]; var lr = new float[n]; var xrd = new double[n]; var lrd = new double[n];
            s.Inverse<float>(y, p, xr, lr);
            s.Inverse<double>(D(y), D(p), xrd, lrd);
            var r = new Rng(3);
            var go = Enumerable.Range(0, n).Select(_ => (float)r.NextNormal()).ToArray();
            var gl = Enumerable.Range(0, n).Select(_ => (float)r.NextNormal()).ToArray();
            var gx = new float[n]; var gp = new float[n * m]; var gxd = new double[n]; var gpd = new double[n * m];
            s.ForwardBackward<float>(x, p, go, gl, gx, gp);
            s.ForwardBackward<double>(D(x), D(p), D(go), D(gl), gxd, gpd);
            var gy = new float[n]; var gpi = new float[n * m]; var gyd = new double[n]; var gpid = new double[n * m];
            s.InverseBackward<float>(y, p, go, gl, gy, gpi);
            s.InverseBackward<double>(D(y), D(p), D(go), D(gl), gyd, gpid);
            for (int i = 0; i < n; i++)
            {
                string at = $"K = {bins}, scale {scale}, x = {x[i]}";
                if (float.IsNaN(x[i]))
                {
                    Assert.True(float.IsNaN(y[i]) && float.IsNaN(ld[i]) && float.IsNaN(xr[i]) && float.IsNaN(lr[i]), at);
                    continue;
                }
                double tolV = 2e-6 * (1 + Math.Abs(yd[i]));
                Assert.True(Math.Abs(y[i] - yd[i]) <= tolV, $"{at}: y {y[i]} vs {yd[i]}");
                Assert.True(Math.Abs(ld[i] - ldd[i]) <= 2e-6 * (1 + Math.Abs(ldd[i])), $"{at}: logdet {ld[i]} vs {ldd[i]}");
                double slopeInv = Math.Exp(lrd[i]);
                Assert.True(Math.Abs(xr[i] - xrd[i]) <= 2e-6 * (1 + Math.Abs(xrd[i])) * (1 + slopeInv), $"{at}: inverse {xr[i]} vs {xrd[i]}");
                Assert.True(Math.Abs(x[i] - xr[i]) <= 1e-4 * Math.Max(1, Math.Abs(x[i])) + 2e-7 * slopeInv, $"{at}: round trip {xr[i]}");
                // gradients jump at bin edges (one-sided derivatives): compare away from them
                if (!NearEdge(s, p, i, x[i], false, 1e-5))
                {
                    double sc = 1 + Math.Abs(gxd[i]); for (int j = 0; j < m; j++) sc = Math.Max(sc, Math.Abs(gpd[i * m + j]));
                    Assert.True(Math.Abs(gx[i] - gxd[i]) <= 1e-4 * sc, $"{at}: gx {gx[i]} vs {gxd[i]}");
                    for (int j = 0; j < m; j++) Assert.True(Math.Abs(gp[i * m + j] - gpd[i * m + j]) <= 1e-4 * sc, $"{at}: gp[{j}] {gp[i * m + j]} vs {gpd[i * m + j]}");
                }
                if (!NearEdge(s, p, i, y[i], true, 1e-5))
                {
                    double sc = 1 + Math.Abs(gyd[i]); for (int j = 0; j < m; j++) sc = Math.Max(sc, Math.Abs(gpid[i * m + j]));
                    Assert.True(Math.Abs(gy[i] - gyd[i]) <= 1e-4 * sc, $"{at}: gy {gy[i]} vs {gyd[i]}");
                    for (int j = 0; j < m; j++) Assert.True(Math.Abs(gpi[i * m + j] - gpid[i * m + j]) <= 1e-4 * sc, $"{at}: inverse gp[{j}] {gpi[i * m + j]} vs {gpid[i * m + j]}");
                }
            }
        }
    }

    [Theory]
    [MemberData(nameof(BinCounts))]
    public void LaneTailsAgreeWithFullBlocks(int bins)
    {
        var s = new PiecewiseLinearSpline(bins);
        int m = s.ParametersPerElement, nAll = 200;
        var (x, p) = Data(s, nAll, 11, 1.0);
        var yAll = new float[nAll]; var lAll = new float[nAll]; var gAll = new float[nAll]; var gpAll = new float[nAll * m];
        var ones = Enumerable.Repeat(1f, nAll).ToArray();
        s.Forward<float>(x, p, yAll, lAll);
        s.ForwardBackward<float>(x, p, ones, ones, gAll, gpAll);
        foreach (int n in new[] { 1, 7, 8, 9, 17, 200 })
            foreach (int off in new[] { 0, 3 })
            {
                if (off + n > nAll) continue;
                var y = new float[n]; var l = new float[n];
                s.Forward<float>(x.AsSpan(off, n), p.AsSpan(off * m, n * m), y, l);
                Assert.Equal(yAll.AsSpan(off, n).ToArray(), y);
                Assert.Equal(lAll.AsSpan(off, n).ToArray(), l);
                var g = Enumerable.Repeat(1f, n).ToArray(); var gp = Enumerable.Repeat(1f, n * m).ToArray();
                s.ForwardBackward<float>(x.AsSpan(off, n), p.AsSpan(off * m, n * m), ones.AsSpan(0, n), ones.AsSpan(0, n), g, gp);
                for (int i = 0; i < n; i++) Assert.Equal(gAll[off + i] + 1f, g[i]);
                for (int j = 0; j < n * m; j++) Assert.Equal(gpAll[off * m + j] + 1f, gp[j]);
            }
    }
}
