using NormalizingFlows.Tensors;

namespace NormalizingFlows.Hep.AnomalyDetection;

/// <summary>
/// The standard dijet fit function f(m) ∝ (1 − x)^p₁ / x^(p₂ + p₃ ln x), x = m/√s, normalised on [m_min, m_max]:
/// density, cumulative distribution (tabulated on a fine grid, trapezoid rule) and inverse-CDF sampling.
/// </summary>
public sealed class DijetSpectrum
{
    private const int Grid = 20_000;
    private readonly double[] _m, _cdf;
    private readonly double _norm;

    /// <summary>The spectrum of <paramref name="options"/> (its √s, p₁, p₂, p₃ and m_jj range).</summary>
    public DijetSpectrum(BumpHuntOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        Options = options;
        _m = new double[Grid + 1];
        _cdf = new double[Grid + 1];
        double h = (options.MjjMax - options.MjjMin) / Grid;
        double prev = Unnormalised(options.MjjMin);
        _m[0] = options.MjjMin;
        for (int k = 1; k <= Grid; k++)
        {
            _m[k] = options.MjjMin + k * h;
            double cur = Unnormalised(_m[k]);
            _cdf[k] = _cdf[k - 1] + 0.5 * h * (prev + cur);
            prev = cur;
        }
        _norm = _cdf[Grid];
        for (int k = 0; k <= Grid; k++) _cdf[k] /= _norm;
    }

    /// <summary>The settings the spectrum was built from.</summary>
    public BumpHuntOptions Options { get; }

    /// <summary>The normalised density at <paramref name="m"/> (TeV⁻¹; 0 outside the range).</summary>
    public double Density(double m) => m < Options.MjjMin || m > Options.MjjMax ? 0 : Unnormalised(m) / _norm;

    /// <summary>P(m_jj &lt; <paramref name="m"/>).</summary>
    public double Cdf(double m)
    {
        if (m <= Options.MjjMin) return 0;
        if (m >= Options.MjjMax) return 1;
        double h = (Options.MjjMax - Options.MjjMin) / Grid;
        int k = Math.Min((int)((m - Options.MjjMin) / h), Grid - 1);
        // exact trapezoid integral of the linear interpolant of f on cell k
        double f0 = Unnormalised(_m[k]) / _norm, f1 = Unnormalised(_m[k + 1]) / _norm, t = m - _m[k];
        return _cdf[k] + t * f0 + 0.5 * t * t * (f1 - f0) / h;
    }

    /// <summary>Fraction of the background in [<paramref name="low"/>, <paramref name="high"/>).</summary>
    public double Fraction(double low, double high) => Cdf(high) - Cdf(low);

    /// <summary>One m_jj drawn from the spectrum restricted to [<paramref name="low"/>, <paramref name="high"/>] (the whole range by default).</summary>
    public double Sample(Rng rng, double? low = null, double? high = null)
    {
        double a = Cdf(low ?? Options.MjjMin), b = Cdf(high ?? Options.MjjMax);
        return Quantile(a + (b - a) * rng.NextDouble());
    }

    /// <summary>The m with P(m_jj &lt; m) = <paramref name="u"/> (inverting the piecewise-quadratic CDF of the tabulated density).</summary>
    public double Quantile(double u)
    {
        u = Math.Clamp(u, 0, 1);
        int k = Array.BinarySearch(_cdf, u);
        if (k >= 0) return _m[k];
        k = Math.Clamp(~k - 1, 0, Grid - 1);
        double h = _m[k + 1] - _m[k];
        double f0 = Unnormalised(_m[k]) / _norm, f1 = Unnormalised(_m[k + 1]) / _norm;
        double r = u - _cdf[k], a = 0.5 * (f1 - f0) / h;
        double t = Math.Abs(a) < 1e-300 ? r / f0 : (-f0 + Math.Sqrt(Math.Max(f0 * f0 + 4 * a * r, 0))) / (2 * a);
        return _m[k] + Math.Clamp(t, 0, h);
    }

    private double Unnormalised(double m)
    {
        double x = m / Options.SqrtS;
        double lx = Math.Log(x);
        return Math.Exp(Options.P1 * Math.Log(1 - x) - (Options.P2 + Options.P3 * lx) * lx);
    }
}
