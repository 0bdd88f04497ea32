using NormalizingFlows.Tensors;
using NormalizingFlows.Transforms.Splines;

namespace NormalizingFlows.Tests.Transforms;

/// <summary>
/// The vectorised float path of <see cref="RationalQuadraticSpline"/> against the double reference on the same
/// (float) inputs and parameters: values, log-dets, both backwards, special inputs, lane tails, NaN.
/// </summary>
public class SplineFloatPathTests
{
    public static TheoryData<string> Families => new() { "sym3-k8", "unit-k8", "sym5-k3", "sym3-k1", "unit-k3", "sym2-k16" };

    private static RationalQuadraticSpline Make(string family) => family switch
    {
        "sym3-k8" => new(8, SplineDomain.Symmetric(3)),
        "unit-k8" => new(8, SplineDomain.UnitInterval),
        "sym5-k3" => new(3, SplineDomain.Symmetric(5)),
        "sym3-k1" => new(1, SplineDomain.Symmetric(3)),
        "unit-k3" => new(3, SplineDomain.UnitInterval),
        _ => new(16, SplineDomain.Symmetric(2)),
    };

    private static float[] Params(RationalQuadraticSpline s, int n, int seed, double scale)
    {
        var p = new float[n * s.ParametersPerElement];
        var r = new Rng(seed);
        for (int i = 0; i < p.Length; i++) p[i] = (float)(r.NextNormal() * scale);
        return p;
    }

    /// <summary>The knots of element i in double (as the reference computes them), for inputs placed exactly on knots.</summary>
    private static double[] XKnots(RationalQuadraticSpline s, float[] p, int i) => Knots(s, p, i, heights: false);

    private static double[] Knots(RationalQuadraticSpline s, float[] p, int i, bool heights)
    {
        int k = s.Bins, m = s.ParametersPerElement;
        var dom = s.Domain;
        var d = heights ? new SplineDomain(dom.Bottom, dom.Top, dom.Bottom, dom.Top, dom.IdentityTails) : dom;
        int off = heights ? k : 0;
        var u = Enumerable.Range(0, k).Select(j => (double)p[i * m + off + j]).ToArray();
        double mx = u.Max();
        var e = u.Select(v => Math.Exp(v - mx)).ToArray();
        double sum = e.Sum();
        var knots = new double[k + 1];
        knots[0] = d.Left;
        for (int j = 0; j < k; j++) knots[j + 1] = knots[j] + (d.Right - d.Left) * 1e-3 + (d.Right - d.Left) * (1 - 1e-3 * k) * e[j] / sum;
        knots[k] = d.Right;
        return knots;
    }

    /// <summary>Inputs: N(μ, σ²) over the domain, then knots, the bounds, just inside/outside, far out and NaN.</summary>
    private static float[] Inputs(RationalQuadraticSpline s, float[] p, int n, int seed, bool special)
    {
        var d = s.Domain;
        var r = new Rng(seed);
        var x = new float[n];
        double mid = (d.Left + d.Right) / 2, half = (d.Right - d.Left) / 2;
        for (int i = 0; i < n; i++) x[i] = (float)(mid + half * 0.6 * r.NextNormal());
        if (!special) return x;
        float[] extra = [(float)d.Left, (float)d.Right, (float)d.Left + 1e-6f, (float)d.Right - 1e-6f, (float)d.Left - 1e-6f, (float)d.Right + 1e-6f,
            (float)(d.Left - 5), (float)(d.Right + 7), -50f, 50f, -1e6f, 1e6f, float.NaN];
        for (int i = 0; i < n; i++)
        {
            if (i % 5 == 1) x[i] = extra[(i / 5) % extra.Length];
            else if (i % 5 == 3) { var kn = XKnots(s, p, i); x[i] = (float)kn[(i / 5) % kn.Length]; }
        }
        return x;
    }

    private static double[] D(float[] v) => v.Select(f => (double)f).ToArray();

    /// <summary>
    /// How far the float path's knots may sit from the reference's: a cumulative sum of K float terms on a domain
    /// of magnitude B rounds by ≈ (K + 8) ulp(B) in the worst case.
    /// </summary>
    private static double KnotRounding(RationalQuadraticSpline s)
    {
        var d = s.Domain;
        double b = new[] { Math.Abs(d.Left), Math.Abs(d.Right), Math.Abs(d.Bottom), Math.Abs(d.Top), 1.0 }.Max();
        return (s.Bins + 8) * b * 1.2e-7;
    }

    /// <summary>
    /// Relative error of f' from the float knots' rounding in the bin of x: the width and the height, differences of
    /// knots, are each off by up to half the knots' rounding, and f' goes with their ratio squared (measured: up to
    /// 0.4–0.6 of this bound at scale-2 parameters).
    /// </summary>
    private static double BinSizeRounding(RationalQuadraticSpline s, float[] p, int i, double x)
    {
        var xk = Knots(s, p, i, heights: false); var yk = Knots(s, p, i, heights: true);
        int b = 0;
        for (int j = 1; j < s.Bins; j++) if (x >= xk[j]) b = j;
        return KnotRounding(s) * (1 / (xk[b + 1] - xk[b]) + 1 / (yk[b + 1] - yk[b]));
    }

    /// <summary>|d logdet/du| of element i by the double reference over ± h (the local sensitivity to moved knots).</summary>
    private static double LogDetSensitivity(RationalQuadraticSpline s, float[] u, float[] p, int i, bool forward, double h)
    {
        int m = s.ParametersPerElement;
        var pi = D(p.AsSpan(i * m, m).ToArray());
        double[] us = [u[i] - h, u[i] + h, u[i]];
        var o = new double[3]; var l = new double[3];
        var pp = pi.Concat(pi).Concat(pi).ToArray();
        if (forward) s.Forward<double>(us, pp, o, l); else s.Inverse<double>(us, pp, o, l);
        return Math.Max(Math.Abs(l[1] - l[2]), Math.Abs(l[2] - l[0])) / h;
    }

    /// <summary>The reference forward of element i at x.</summary>
    private static (double Y, double LogDet) ForwardD(RationalQuadraticSpline s, float[] p, int i, double x)
    {
        int m = s.ParametersPerElement;
        var o = new double[1]; var l = new double[1];
        s.Forward<double>([x], D(p.AsSpan(i * m, m).ToArray()), o, l);
        return (o[0], l[0]);
    }

    /// <summary>The reference backward of element i at u and u ± h: (input gradient, parameter gradients) for each.</summary>
    private static (double Gu, double[] Gp)[] BackwardD(RationalQuadraticSpline s, float[] p, int i, double u, double gOut, double gLd, bool forward, double h)
    {
        int m = s.ParametersPerElement;
        var pi = D(p.AsSpan(i * m, m).ToArray());
        var res = new (double, double[])[3];
        double[] us = [u, u - h, u + h];
        for (int k = 0; k < 3; k++)
        {
            var gu = new double[1]; var gp = new double[m];
            if (forward) s.ForwardBackward<double>([us[k]], pi, [gOut], [gLd], gu, gp);
            else s.InverseBackward<double>([us[k]], pi, [gOut], [gLd], gu, gp);
            res[k] = (gu[0], gp);
        }
        return res;
    }

    /// <summary>Whether u lies within tol of one of element i's x-knots (where the map is only C¹: one-sided second derivatives).</summary>
    private static bool NearKnot(RationalQuadraticSpline s, float[] p, int i, double u, double tol)
        => XKnots(s, p, i).Any(k => Math.Abs(k - u) <= tol);

    [Theory]
    [MemberData(nameof(Families))]
    public void ForwardAndInverseMatchTheDoubleReference(string family)
    {
        var s = Make(family);
        int m = s.ParametersPerElement;
        foreach (double scale in new[] { 0.5, 2.0, 50.0 })
        {
            int n = 1000;
            var p = Params(s, n, 11, scale);
            var x = Inputs(s, p, n, 12, special: true);
            var y = new float[n]; var ld = new float[n]; var yd = new double[n]; var ldd = new double[n];
            s.Forward<float>(x, p, y, ld);
            s.Forward<double>(D(x), D(p), yd, ldd);
            // inverse on the float outputs, reference in double on the same floats
            var xr = new float[n]; var lr = new float[n]; var xrd = new double[n]; var lrd = new double[n];
            s.Inverse<float>(y, p, xr, lr);
            s.Inverse<double>(D(y), D(p), xrd, lrd);
            for (int i = 0; i < n; i++)
            {
                if (float.IsNaN(x[i]))
                {
                    Assert.True(float.IsNaN(y[i]) && float.IsNaN(ld[i]) && float.IsNaN(xr[i]) && float.IsNaN(lr[i]), $"{family}: NaN in, {y[i]} {ld[i]} out");
                    continue;
                }
                Assert.True(float.IsFinite(y[i]) && float.IsFinite(ld[i]) && float.IsFinite(xr[i]) && float.IsFinite(lr[i]), $"{family} scale {scale}: x = {x[i]}");
                // knots are float: their rounding δ moves y by up to (1 + f')·δ and ln f' by δ·|d ln f'/dx|
                double delta = KnotRounding(s);
                double slope = Math.Exp(ldd[i]);
                double tolY = delta * (1 + slope) + 2.4e-7 * Math.Abs(yd[i]);
                Assert.True(Math.Abs(y[i] - yd[i]) <= tolY, $"{family} scale {scale}: x = {x[i]}: y {y[i]} vs {yd[i]}");
                double tolL = 1e-5 + 2 * delta * LogDetSensitivity(s, x, p, i, forward: true, 2 * delta) + BinSizeRounding(s, p, i, x[i]);
                Assert.True(Math.Abs(ld[i] - ldd[i]) <= tolL, $"{family} scale {scale}: x = {x[i]}: logdet {ld[i]} vs {ldd[i]}");
                // the inverse, which amplifies all that by 1/f' (unbounded in flat parts): by its residual, the reference
                // forward of the float x must give back y, and its logdet must be minus the reference's at that x
                var (yBack, ldBack) = ForwardD(s, p, i, xr[i]);
                double slopeBack = Math.Exp(ldBack);
                double tolR = delta * (1 + slopeBack) + 2.4e-7 * (Math.Abs(y[i]) + slopeBack * Math.Abs(xr[i]));
                Assert.True(Math.Abs(yBack - y[i]) <= tolR, $"{family} scale {scale}: y = {y[i]}: x {xr[i]} maps back to {yBack} (reference inverse {xrd[i]})");
                double tolLi = 1e-5 + 2 * delta * LogDetSensitivity(s, [xr[i]], p.AsSpan(i * m, m).ToArray(), 0, forward: true, 2 * delta)
                    + BinSizeRounding(s, p, i, xr[i]);
                // (with scale-50 parameters f' can swing by 10³ within the knots' rounding next to a minimum-size bin)
                if (scale < 10) Assert.True(Math.Abs(lr[i] + ldBack) <= tolLi, $"{family} scale {scale}: y = {y[i]}: logdet {lr[i]} vs {-ldBack} at x {xr[i]}");
            }
        }
    }

    [Theory]
    [MemberData(nameof(Families))]
    public void RoundTripWithinFloatAccuracy(string family)
    {
        var s = Make(family);
        var d = s.Domain;
        int n = 4000;
        var p = Params(s, n, 21, 1.0);
        var r = new Rng(22);
        var x = new float[n];
        double mid = (d.Left + d.Right) / 2, half = (d.Right - d.Left) / 2;
        for (int i = 0; i < n; i++)
            x[i] = i % 4 == 0 ? (float)((r.NextDouble() < 0.5 ? -1 : 1) * (5 + 45 * r.NextDouble()) * half + mid) // ±5…±50 bounds
                : (float)(mid + half / 3 * r.NextNormal());
        var y = new float[n]; var ld = new float[n]; var xr = new float[n]; var lr = new float[n];
        s.Forward<float>(x, p, y, ld);
        s.Inverse<float>(y, p, xr, lr);
        for (int i = 0; i < n; i++)
        {
            // y is rounded to float; the inverse amplifies that by 1/f'(x) (the conditioning), which in the flat parts
            // of a spline with N(0, 1) parameters can exceed the 1e-4 criterion
            double slope = Math.Exp(ld[i]);
            double conditioning = 1e-6 + 2.4e-7 * Math.Max(1, Math.Abs(y[i])) / slope;
            double err = Math.Abs(x[i] - xr[i]);
            Assert.True(err <= Math.Max(1e-4 * Math.Max(1, Math.Abs(x[i])), conditioning), $"{family}: x = {x[i]}, round trip {xr[i]}, slope {slope}");
            double tolL = 1e-5 + 2 * (err + 1.2e-7 * Math.Max(1, Math.Abs(x[i]))) * LogDetSensitivity(s, x, p, i, forward: true, Math.Max(err, 1e-6));
            Assert.True(Math.Abs(ld[i] + lr[i]) <= tolL, $"{family}: x = {x[i]}, logdets {ld[i]} and {lr[i]}");
        }
        // with moderate parameters (as in a trained flow) the plain criterion holds everywhere
        var pm = Params(s, n, 23, 0.5);
        s.Forward<float>(x, pm, y, ld);
        s.Inverse<float>(y, pm, xr, lr);
        for (int i = 0; i < n; i++)
        {
            Assert.True(Math.Abs(x[i] - xr[i]) <= 1e-4 * Math.Max(1, Math.Abs(x[i])), $"{family}: x = {x[i]}, round trip {xr[i]}");
            Assert.True(Math.Abs(ld[i] + lr[i]) <= 1e-4, $"{family}: x = {x[i]}, logdets {ld[i]} and {lr[i]}");
        }
    }

    [Theory]
    [MemberData(nameof(Families))]
    public void BackwardsMatchTheDoubleReference(string family)
    {
        var s = Make(family);
        int m = s.ParametersPerElement;
        foreach (bool forward in new[] { true, false })
            foreach (double scale in new[] { 0.5, 1.0 })
            {
                int n = 1000;
                var p = Params(s, n, 31, scale);
                var x = Inputs(s, p, n, 32, special: true);
                var u = x;
                if (!forward) { u = new float[n]; s.Forward<float>(x, p, u, new float[n]); }
                var r = new Rng(33);
                var gOut = new float[n]; var gLd = new float[n];
                for (int i = 0; i < n; i++) { gOut[i] = (float)r.NextNormal(); gLd[i] = (float)r.NextNormal(); }
                var gu = new float[n]; var gp = new float[n * m]; var gud = new double[n]; var gpd = new double[n * m];
                if (forward)
                {
                    s.ForwardBackward<float>(u, p, gOut, gLd, gu, gp);
                    s.ForwardBackward<double>(D(u), D(p), D(gOut), D(gLd), gud, gpd);
                }
                else
                {
                    s.InverseBackward<float>(u, p, gOut, gLd, gu, gp);
                    s.InverseBackward<double>(D(u), D(p), D(gOut), D(gLd), gud, gpd);
                }
                for (int i = 0; i < n; i++)
                {
                    if (float.IsNaN(u[i]))
                    {
                        Assert.True(float.IsNaN(gu[i]), $"{family}: NaN input must give a NaN input gradient");
                        for (int j = 0; j < m; j++) Assert.Equal(0f, gp[i * m + j]);
                        continue;
                    }
                    // at knots (and the bounds) the map is only C¹: the two paths may take different one-sided derivatives
                    if (NearKnot(s, p, i, x[i], 1e-4)) continue;
                    // relative to the element's gradient scale (a float path cannot resolve finer), plus the reference's
                    // own variation when the input moves as much as the float knots may (its conditioning)
                    double sc = 1 + Math.Abs(gud[i]);
                    for (int j = 0; j < m; j++) sc = Math.Max(sc, Math.Abs(gpd[i * m + j]));
                    const double tol = 2e-4;
                    double h = KnotRounding(s);
                    if (!forward) h *= 1 + Math.Exp(ForwardD(s, p, i, x[i]).LogDet); // y-space
                    var spread = BackwardD(s, p, i, u[i], gOut[i], gLd[i], forward, h);
                    double Var(Func<(double Gu, double[] Gp), double> f) => Math.Max(Math.Abs(f(spread[1]) - f(spread[0])), Math.Abs(f(spread[2]) - f(spread[0])));
                    string what = $"{family} {(forward ? "forward" : "inverse")} scale {scale}: u = {u[i]}";
                    Assert.True(Math.Abs(gu[i] - gud[i]) <= tol * sc + 2 * Var(g => g.Gu), $"{what}: input gradient {gu[i]} vs {gud[i]}");
                    for (int j = 0; j < m; j++)
                        Assert.True(Math.Abs(gp[i * m + j] - gpd[i * m + j]) <= tol * sc + 2 * Var(g => g.Gp[j]),
                            $"{what}: parameter {j} gradient {gp[i * m + j]} vs {gpd[i * m + j]}");
                }
            }
    }

    [Theory]
    [MemberData(nameof(Families))]
    public void ExtremeParametersGiveFiniteGradients(string family)
    {
        var s = Make(family);
        int n = 300, m = s.ParametersPerElement;
        var p = Params(s, n, 41, 50);
        var x = Inputs(s, p, n, 42, special: true).Select(v => float.IsNaN(v) ? 0f : v).ToArray();
        var y = new float[n];
        s.Forward<float>(x, p, y, new float[n]);
        var ones = Enumerable.Repeat(1f, n).ToArray();
        var gx = new float[n]; var gp = new float[n * m];
        s.ForwardBackward<float>(x, p, ones, ones, gx, gp);
        Assert.All(gx, g => Assert.True(float.IsFinite(g)));
        Assert.All(gp, g => Assert.True(float.IsFinite(g)));
        var gy = new float[n]; var gp2 = new float[n * m];
        s.InverseBackward<float>(y, p, ones, ones, gy, gp2);
        Assert.All(gy, g => Assert.False(float.IsNaN(g)));
        Assert.All(gp2, g => Assert.False(float.IsNaN(g)));
    }

    /// <summary>Every length (full blocks, in-place overhang, padded tails) gives the same per-element results, and backwards add.</summary>
    [Theory]
    [MemberData(nameof(Families))]
    public void LaneTailsAgreeWithFullBlocks(string family)
    {
        var s = Make(family);
        int m = s.ParametersPerElement, nAll = 1000;
        var p = Params(s, nAll, 51, 1.0);
        var x = Inputs(s, p, nAll, 52, special: true);
        var r = new Rng(53);
        var gOut = new float[nAll]; var gLd = new float[nAll];
        for (int i = 0; i < nAll; i++) { gOut[i] = (float)r.NextNormal(); gLd[i] = (float)r.NextNormal(); }
        var yAll = new float[nAll]; var lAll = new float[nAll]; var xiAll = new float[nAll]; var liAll = new float[nAll];
        var gAll = new float[nAll]; var gpAll = new float[nAll * m]; var giAll = new float[nAll]; var gpiAll = new float[nAll * m];
        s.Forward<float>(x, p, yAll, lAll);
        s.Inverse<float>(x, p, xiAll, liAll);
        s.ForwardBackward<float>(x, p, gOut, gLd, gAll, gpAll);
        s.InverseBackward<float>(x, p, gOut, gLd, giAll, gpiAll);
        foreach (int n in new[] { 1, 2, 7, 8, 9, 15, 16, 17, 31, 1000 })
            foreach (int offset in new[] { 0, 3 })
            {
                if (offset + n > nAll) continue;
                var xs = x.AsSpan(offset, n); var ps = p.AsSpan(offset * m, n * m);
                var y = new float[n]; var l = new float[n];
                s.Forward<float>(xs, ps, y, l);
                Assert.Equal(yAll.AsSpan(offset, n).ToArray(), y);
                Assert.Equal(lAll.AsSpan(offset, n).ToArray(), l);
                s.Inverse<float>(xs, ps, y, l);
                Assert.Equal(xiAll.AsSpan(offset, n).ToArray(), y);
                Assert.Equal(liAll.AsSpan(offset, n).ToArray(), l);
                // backwards ADD: start from 1 everywhere
                var g = Enumerable.Repeat(1f, n).ToArray(); var gp = Enumerable.Repeat(1f, n * m).ToArray();
                s.ForwardBackward<float>(xs, ps, gOut.AsSpan(offset, n), gLd.AsSpan(offset, n), g, gp);
                for (int i = 0; i < n; i++) Assert.Equal(gAll[offset + i] + 1f, g[i]);
                for (int j = 0; j < n * m; j++) Assert.Equal(gpAll[offset * m + j] + 1f, gp[j]);
                g = Enumerable.Repeat(1f, n).ToArray(); gp = Enumerable.Repeat(1f, n * m).ToArray();
                s.InverseBackward<float>(xs, ps, gOut.AsSpan(offset, n), gLd.AsSpan(offset, n), g, gp);
                for (int i = 0; i < n; i++) Assert.Equal(giAll[offset + i] + 1f, g[i]);
                for (int j = 0; j < n * m; j++) Assert.Equal(gpiAll[offset * m + j] + 1f, gp[j]);
            }
    }

    [Fact]
    public void IdentityTailsAreExactOutsideTheBound()
    {
        var s = Make("sym3-k8");
        int n = 64, m = s.ParametersPerElement;
        var x = Enumerable.Range(0, n).Select(i => (i % 2 == 0 ? -1f : 1f) * (3.0001f + i)).ToArray();
        var p = Params(s, n, 61, 2.0);
        var y = new float[n]; var ld = new float[n];
        s.Forward<float>(x, p, y, ld);
        Assert.Equal(x, y);
        Assert.All(ld, v => Assert.Equal(0f, v));
        s.Inverse<float>(x, p, y, ld);
        Assert.Equal(x, y);
        var g = new float[n]; var gp = new float[n * m];
        var gOut = Enumerable.Range(0, n).Select(i => (float)i).ToArray();
        s.ForwardBackward<float>(x, p, gOut, gOut, g, gp);
        Assert.Equal(gOut, g);
        Assert.All(gp, v => Assert.Equal(0f, v));
    }
}
