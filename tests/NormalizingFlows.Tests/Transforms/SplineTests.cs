using NormalizingFlows.Tensors;
using NormalizingFlows.Transforms.Splines;

namespace NormalizingFlows.Tests.Transforms;

/// <summary>Every spline family: invertibility, log-det, monotonicity, gradients, robustness.</summary>
public class SplineTests
{
    public static TheoryData<string> Domains => new() { "symmetric", "unit", "linear", "quadratic" };

    private static IElementwiseSpline Make(string kind, int bins = 5) => kind switch
    {
        "symmetric" => new RationalQuadraticSpline(bins, SplineDomain.Symmetric(3)),
        "unit" => new RationalQuadraticSpline(bins, SplineDomain.UnitInterval),
        "linear" => new PiecewiseLinearSpline(bins),
        _ => new PiecewiseQuadraticSpline(bins),
    };

    private static RationalQuadraticSpline MakeRq(int bins) => new(bins, SplineDomain.Symmetric(3));

    /// <summary>Inputs covering inside, knots' neighbourhoods, the bounds exactly, just inside/outside and far out.</summary>
    private static double[] Inputs(IElementwiseSpline s)
    {
        var d = s.Domain;
        var list = new List<double> { d.Left, d.Right, d.Left + 1e-9, d.Right - 1e-9, d.Left - 1e-9, d.Right + 1e-9, d.Left - 5, d.Right + 7, -1e6, 1e6 };
        var r = new Rng(5);
        for (int i = 0; i < 40; i++) list.Add(d.Left + (d.Right - d.Left) * r.NextDouble());
        return list.ToArray();
    }

    private static double[] Params(IElementwiseSpline s, int n, int seed, double scale = 2.0)
    {
        var p = new double[n * s.ParametersPerElement];
        new Rng(seed).Normal<double>(p, 0, scale);
        return p;
    }

    [Theory]
    [MemberData(nameof(Domains))]
    public void InverseUndoesForwardEverywhere(string domain)
    {
        var s = Make(domain);
        var x = Inputs(s);
        var p = Params(s, x.Length, 1);
        var y = new double[x.Length]; var ld = new double[x.Length];
        var xr = new double[x.Length]; var ldi = new double[x.Length];
        s.Forward<double>(x, p, y, ld);
        s.Inverse<double>(y, p, xr, ldi);
        for (int i = 0; i < x.Length; i++)
        {
            Assert.True(double.IsFinite(y[i]) && double.IsFinite(ld[i]), $"x = {x[i]}: y = {y[i]}, logdet = {ld[i]}");
            Assert.Equal(x[i], xr[i], 1e-9 * Math.Max(1, Math.Abs(x[i])));
            Assert.Equal(-ld[i], ldi[i], 1e-9);
        }
    }

    [Theory]
    [MemberData(nameof(Domains))]
    public void FloatInverseWithinTolerance(string domain)
    {
        var s = Make(domain, 8);
        var r = new Rng(3);
        int n = 2000;
        var x = new float[n];
        for (int i = 0; i < n; i++) x[i] = (float)(r.NextNormal() * 2.5);
        var p = Params(s, n, 2).Select(v => (float)v).ToArray();
        var y = new float[n]; var ld = new float[n]; var xr = new float[n]; var ldi = new float[n];
        s.Forward<float>(x, p, y, ld);
        s.Inverse<float>(y, p, xr, ldi);
        for (int i = 0; i < n; i++)
        {
            // y is rounded to float (half an ulp); the inverse amplifies that by 1/f'(x): the conditioning bound
            double slope = Math.Exp(ld[i]);
            double bound = 1e-6 + 2 * Math.Abs(x[i]) * 6e-8 + Math.Abs(y[i]) * 6e-8 / slope;
            Assert.True(Math.Abs(x[i] - xr[i]) <= bound, $"x = {x[i]}, round trip {xr[i]}, slope {slope}");
        }
        // with moderate parameters (as in a trained flow) the plain 1e-4 criterion holds
        var pm = Params(s, n, 2, scale: 0.5).Select(v => (float)v).ToArray();
        s.Forward<float>(x, pm, y, ld);
        s.Inverse<float>(y, pm, xr, ldi);
        for (int i = 0; i < n; i++) Assert.True(Math.Abs(x[i] - xr[i]) <= 1e-4, $"x = {x[i]}, round trip {xr[i]}");
    }

    [Theory]
    [MemberData(nameof(Domains))]
    public void LogDetMatchesFiniteDifferenceAndMapIsMonotone(string domain)
    {
        var s = Make(domain);
        var x = Inputs(s).Where(v => Math.Abs(v) < 1e5).ToArray();
        var p = Params(s, x.Length, 4);
        var y = new double[x.Length]; var ld = new double[x.Length];
        s.Forward<double>(x, p, y, ld);
        var m = s.ParametersPerElement;
        for (int i = 0; i < x.Length; i++)
        {
            // the spline is C¹ but not C² at the bounds: a central difference straddling them errs by O(h·|f''|)
            bool nearBound = Math.Abs(x[i] - s.Domain.Left) < 1e-5 || Math.Abs(x[i] - s.Domain.Right) < 1e-5;
            double h = nearBound ? 1e-9 : 1e-6;
            double[] xp = [x[i] + h], xm = [x[i] - h];
            double[] yp = new double[1], ym = new double[1], t = new double[1];
            s.Forward<double>(xp, p.AsSpan(i * m, m), yp, t);
            s.Forward<double>(xm, p.AsSpan(i * m, m), ym, t);
            double fd = (yp[0] - ym[0]) / (2 * h);
            Assert.True(fd > 0, $"not increasing at {x[i]}");
            // compare slopes: tolerance = relative accuracy + rounding noise of the difference (~1e-16·|y|/h)
            // + the O(h·|f''|) error of a difference straddling the C¹ junction at a bound
            double slope = Math.Exp(ld[i]);
            double tol = 1e-6 * slope + 1e-15 * (1 + Math.Abs(y[i])) / h + (nearBound ? 1e-6 : 0);
            Assert.True(Math.Abs(fd - slope) <= tol, $"x = {x[i]}: exp(logdet) = {slope}, finite difference {fd}");
        }
    }

    [Fact]
    public void MapsBoundsOntoBoundsAndIsIdentityOutside()
    {
        var s = MakeRq(5);
        var p = Params(s, 4, 6);
        double[] x = [-3, 3, -10, 12];
        var y = new double[4]; var ld = new double[4];
        s.Forward<double>(x, p, y, ld);
        Assert.Equal(-3, y[0], 12);
        Assert.Equal(3, y[1], 12);
        Assert.Equal(-10, y[2]);
        Assert.Equal(12, y[3]);
        Assert.Equal(0, ld[2]);
    }

    [Fact]
    public void IdentityParametersGiveTheIdentity()
    {
        var s = MakeRq(8);
        int n = 50;
        var p = new double[n * s.ParametersPerElement];
        for (int i = 0; i < n; i++)
            for (int j = 2 * s.Bins; j < s.ParametersPerElement; j++) p[i * s.ParametersPerElement + j] = s.IdentityDerivativeParameter;
        var x = Enumerable.Range(0, n).Select(i => -4 + 8.0 * i / (n - 1)).ToArray();
        var y = new double[n]; var ld = new double[n];
        s.Forward<double>(x, p, y, ld);
        for (int i = 0; i < n; i++)
        {
            Assert.Equal(x[i], y[i], 1e-12);
            Assert.Equal(0, ld[i], 1e-12);
        }
    }

    public static TheoryData<string, double> ExtremeCases => new()
    {
        { "symmetric", 50.0 }, { "symmetric", 1e4 }, { "unit", 1e4 }, { "linear", 50.0 }, { "linear", 1e4 }, { "quadratic", 50.0 }, { "quadratic", 300.0 },
    };

    [Theory]
    [MemberData(nameof(ExtremeCases))]
    public void ExtremeParametersStayFiniteAndInvertible(string kind, double scale)
    {
        var s = Make(kind, 8);
        var x = Inputs(s);
        var p = Params(s, x.Length, 7, scale);
        var y = new double[x.Length]; var ld = new double[x.Length]; var xr = new double[x.Length]; var ldi = new double[x.Length];
        s.Forward<double>(x, p, y, ld);
        s.Inverse<double>(y, p, xr, ldi);
        var gx = new double[x.Length]; var gp = new double[p.Length];
        var ones = Enumerable.Repeat(1.0, x.Length).ToArray();
        s.ForwardBackward<double>(x, p, ones, ones, gx, gp);
        for (int i = 0; i < x.Length; i++)
        {
            Assert.True(double.IsFinite(y[i]) && double.IsFinite(ld[i]) && double.IsFinite(xr[i]) && double.IsFinite(gx[i]), $"x = {x[i]}");
            Assert.Equal(x[i], xr[i], 1e-6 * Math.Max(1, Math.Abs(x[i])));
        }
        Assert.All(gp, g => Assert.True(double.IsFinite(g)));
    }

    [Fact]
    public void NaNInputGivesNaNNotAnException()
    {
        var s = MakeRq(5);
        var p = Params(s, 1, 8);
        double[] x = [double.NaN];
        var y = new double[1]; var ld = new double[1];
        s.Forward<double>(x, p, y, ld);
        Assert.True(double.IsNaN(y[0]));
    }

    [Fact]
    public void WrongParameterCountIsExplained()
    {
        var s = MakeRq(4);
        var ex = Assert.Throws<ArgumentException>(() => s.Forward<double>(new double[2], new double[20], new double[2], new double[2]));
        Assert.Contains("expected 11 per element", ex.Message);
    }

    /// <summary>Loss L = Σ a·y + b·logdet; checks dL/dx and dL/dθ against central differences.</summary>
    [Theory]
    [MemberData(nameof(Domains))]
    public void ForwardGradientsMatchFiniteDifferences(string domain)
    {
        var s = Make(domain, 4);
        var x = Inputs(s).Where(v => Math.Abs(v) < 100).ToArray();
        // keep away from the bounds, where the map is only C¹ and a difference straddles the kink of the logdet
        var d = s.Domain;
        x = x.Where(v => Math.Abs(v - d.Left) > 1e-4 && Math.Abs(v - d.Right) > 1e-4).ToArray();
        var p = Params(s, x.Length, 9);
        CheckGradients(s, x, p, forward: true);
    }

    [Theory]
    [MemberData(nameof(Domains))]
    public void InverseGradientsMatchFiniteDifferences(string domain)
    {
        var s = Make(domain, 4);
        var d = s.Domain;
        var y = Inputs(s).Where(v => Math.Abs(v) < 100 && Math.Abs(v - d.Bottom) > 1e-4 && Math.Abs(v - d.Top) > 1e-4).ToArray();
        var p = Params(s, y.Length, 10);
        CheckGradients(s, y, p, forward: false);
    }

    private static void CheckGradients(IElementwiseSpline s, double[] u, double[] p, bool forward)
    {
        int n = u.Length, m = s.ParametersPerElement;
        var r = new Rng(12);
        var a = Enumerable.Range(0, n).Select(_ => 0.5 + r.NextDouble()).ToArray();
        var b = Enumerable.Range(0, n).Select(_ => 0.5 + r.NextDouble()).ToArray();
        double Loss(double[] uu, double[] pp)
        {
            var o = new double[n]; var l = new double[n];
            if (forward) s.Forward<double>(uu, pp, o, l); else s.Inverse<double>(uu, pp, o, l);
            double sum = 0;
            for (int i = 0; i < n; i++) sum += a[i] * o[i] + b[i] * l[i];
            return sum;
        }
        var gu = new double[n]; var gp = new double[p.Length];
        if (forward) s.ForwardBackward<double>(u, p, a, b, gu, gp); else s.InverseBackward<double>(u, p, a, b, gu, gp);
        const double h = 1e-6;
        for (int i = 0; i < n; i++)
        {
            var up = (double[])u.Clone(); up[i] += h;
            var um = (double[])u.Clone(); um[i] -= h;
            double fd = (Loss(up, p) - Loss(um, p)) / (2 * h);
            Assert.True(Math.Abs(fd - gu[i]) <= 1e-5 * (1 + Math.Abs(fd)), $"d/du at u = {u[i]}: analytic {gu[i]}, numeric {fd}");
            for (int j = 0; j < m; j++)
            {
                int idx = i * m + j;
                var pp = (double[])p.Clone(); pp[idx] += h;
                var pm = (double[])p.Clone(); pm[idx] -= h;
                double fdp = (Loss(u, pp) - Loss(u, pm)) / (2 * h);
                Assert.True(Math.Abs(fdp - gp[idx]) <= 1e-5 * (1 + Math.Abs(fdp)), $"d/dθ[{j}] at u = {u[i]}: analytic {gp[idx]}, numeric {fdp}");
            }
        }
    }
}
