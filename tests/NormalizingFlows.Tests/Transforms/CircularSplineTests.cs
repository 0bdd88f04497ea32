using NormalizingFlows.Tensors;
using NormalizingFlows.Transforms.Splines;

namespace NormalizingFlows.Tests.Transforms;

/// <summary>The circular rational-quadratic spline's pure functions: wrapping, the seam, range, float against double.</summary>
public class CircularSplineTests
{
    private static readonly CircularRationalQuadraticSpline Spline = new(5);

    private static double[] Params(int n, int seed, double scale = 1.5)
    {
        var r = new Rng(seed);
        return Enumerable.Range(0, n * Spline.ParametersPerElement).Select(_ => scale * r.NextNormal()).ToArray();
    }

    private static double[] Repeat(double[] one, int n) => Enumerable.Range(0, n).SelectMany(_ => one).ToArray();

    /// <summary>Distance on the circle of circumference 2π.</summary>
    private static double Arc(double a, double b)
    {
        double d = Math.Abs(a - b) % (2 * Math.PI);
        return Math.Min(d, 2 * Math.PI - d);
    }

    private static readonly double[] Edges =
    [
        -Math.PI, Math.PI, Math.BitDecrement(Math.PI), Math.BitIncrement(-Math.PI), Math.PI - 1e-9, -Math.PI + 1e-9, Math.PI + 1e-9, -Math.PI - 1e-9,
        0, 1, -2.5, 7, -7, 100, -1e3, 1e6, 2 * Math.PI, -2 * Math.PI, 3 * Math.PI,
    ];

    [Fact]
    public void EdgesAndFarValuesGiveFiniteResultsInsideTheCircle()
    {
        var p = Repeat(Params(1, 1), Edges.Length);
        var y = new double[Edges.Length]; var ld = new double[Edges.Length];
        Spline.Forward<double>(Edges, p, y, ld);
        var x = new double[Edges.Length]; var ldi = new double[Edges.Length];
        Spline.Inverse<double>(Edges, p, x, ldi);
        var xf = Edges.Select(v => (float)v).ToArray(); var pf = p.Select(v => (float)v).ToArray();
        var yf = new float[xf.Length]; var ldf = new float[xf.Length]; var xif = new float[xf.Length]; var ldif = new float[xf.Length];
        Spline.Forward<float>(xf, pf, yf, ldf);
        Spline.Inverse<float>(xf, pf, xif, ldif);
        for (int i = 0; i < Edges.Length; i++)
        {
            foreach (var (v, what) in new[] { (y[i], "y"), (x[i], "x⁻¹") })
                Assert.True(v >= -Math.PI && v < Math.PI, $"{what} = {v} for input {Edges[i]} is outside [−π, π)");
            foreach (var (v, what) in new[] { (yf[i], "float y"), (xif[i], "float x⁻¹") })
                Assert.True(v >= -(float)Math.PI && v < (float)Math.PI, $"{what} = {v} for input {Edges[i]} is outside [−π, π) in float");
            Assert.True(double.IsFinite(ld[i]) && double.IsFinite(ldi[i]) && float.IsFinite(ldf[i]) && float.IsFinite(ldif[i]), $"log|det| not finite at {Edges[i]}");
        }
    }

    [Fact]
    public void IsPeriodicAndInvertsModuloTheCircle()
    {
        int n = 400;
        var r = new Rng(4);
        var x = Enumerable.Range(0, n).Select(_ => Math.PI * (2 * r.NextDouble() - 1)).ToArray();
        x[0] = -Math.PI; x[1] = Math.BitDecrement(Math.PI);
        var p = Params(n, 2);
        var y = new double[n]; var ld = new double[n];
        Spline.Forward<double>(x, p, y, ld);
        foreach (int turns in new[] { -3, 1, 5 })
        {
            var y2 = new double[n]; var ld2 = new double[n];
            Spline.Forward<double>(x.Select(v => v + turns * 2 * Math.PI).ToArray(), p, y2, ld2);
            for (int i = 0; i < n; i++)
            {
                Assert.True(Arc(y[i], y2[i]) < 1e-9, $"f({x[i]} + {turns}·2π) = {y2[i]} but f({x[i]}) = {y[i]}");
                Assert.True(Math.Abs(ld[i] - ld2[i]) < 1e-8, $"log|det| differs after {turns} turns at {x[i]}");
            }
        }
        var xr = new double[n]; var ldi = new double[n];
        Spline.Inverse<double>(y, p, xr, ldi);
        for (int i = 0; i < n; i++)
        {
            Assert.True(Arc(x[i], xr[i]) < 1e-9, $"x = {x[i]} came back as {xr[i]}");
            Assert.True(Math.Abs(ld[i] + ldi[i]) < 1e-8, $"forward log|det| {ld[i]}, inverse {ldi[i]}");
        }
    }

    [Fact]
    public void DensityIsContinuousAcrossTheSeam()
    {
        // same derivative at −π and at +π: the log-derivative just inside either end agrees (K free derivatives, not K + 1)
        for (int seed = 0; seed < 20; seed++)
        {
            var p = Repeat(Params(1, 10 + seed, scale: 2.5), 2);
            var y = new double[2]; var ld = new double[2];
            Spline.Forward<double>([-Math.PI, Math.BitDecrement(Math.PI)], p, y, ld);
            Assert.True(Math.Abs(ld[0] - ld[1]) < 1e-6, $"seed {seed}: log f' = {ld[0]} at −π, {ld[1]} just below π");
            Assert.True(Arc(y[0], y[1]) < 1e-6, $"seed {seed}: f jumps across the seam ({y[0]} vs {y[1]})");
        }
    }

    [Fact]
    public void FloatAgreesWithDouble()
    {
        int n = 3000;
        var r = new Rng(8);
        var x = Enumerable.Range(0, n).Select(_ => 4 * Math.PI * (2 * r.NextDouble() - 1)).ToArray();
        var p = Params(n, 9);
        var y = new double[n]; var ld = new double[n]; var xi = new double[n]; var ldi = new double[n];
        Spline.Forward<double>(x, p, y, ld);
        Spline.Inverse<double>(x, p, xi, ldi);
        var xf = x.Select(v => (float)v).ToArray(); var pf = p.Select(v => (float)v).ToArray();
        var yf = new float[n]; var ldf = new float[n]; var xif = new float[n]; var ldif = new float[n];
        Spline.Forward<float>(xf, pf, yf, ldf);
        Spline.Inverse<float>(xf, pf, xif, ldif);
        for (int i = 0; i < n; i++)
        {
            // the float input itself is x rounded to 7 digits (up to 4π·6e-8); the spline's slope is at most ~K·(1/minWidth)
            double slope = Math.Exp(Math.Max(ld[i], 0));
            Assert.True(Arc(y[i], yf[i]) <= 2e-5 * Math.Max(1, slope), $"forward at {x[i]}: double {y[i]}, float {yf[i]} (slope {slope})");
            Assert.True(Math.Abs(ld[i] - ldf[i]) <= 1e-3 * Math.Max(1, slope), $"forward log|det| at {x[i]}: double {ld[i]}, float {ldf[i]}");
            double slopeInverse = Math.Exp(Math.Max(ldi[i], 0));
            Assert.True(Arc(xi[i], xif[i]) <= 2e-5 * Math.Max(1, slopeInverse), $"inverse at {x[i]}: double {xi[i]}, float {xif[i]} (slope {slopeInverse})");
        }
    }

    [Fact]
    public void IdentityParametersGiveTheIdentity()
    {
        var update = NormalizingFlows.Transforms.SplineUpdate.Circular(5);
        var p = Repeat(update.IdentityParameters(), 5);
        double[] x = [-Math.PI, -1, 0, 2, 10];
        var y = new double[5]; var ld = new double[5];
        Spline.Forward<double>(x, p, y, ld);
        for (int i = 0; i < 5; i++)
        {
            Assert.True(Arc(x[i], y[i]) < 1e-12, $"identity maps {x[i]} to {y[i]}");
            Assert.True(Math.Abs(ld[i]) < 1e-12, $"identity log|det| {ld[i]}");
        }
    }

    [Fact]
    public void BadParameterCountsAreExplained()
    {
        var ex = Assert.Throws<ArgumentException>(() => Spline.Forward<double>(new double[2], new double[2 * 15], new double[2], new double[2]));
        Assert.Contains("3K+1", ex.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => new CircularRationalQuadraticSpline(4, bound: 0));
    }
}
