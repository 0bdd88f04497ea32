namespace NormalizingFlows.Hep;

/// <summary>Special functions shared by the physics applications: erf, ln Γ, the regularised incomplete gamma functions and the χ² tail.</summary>
public static class SpecialFunctions
{
    /// <summary>The error function erf(x), to about 1e−15 relative (Taylor series for |x| &lt; 2.5, continued fraction of erfc beyond).</summary>
    public static double Erf(double x)
    {
        if (double.IsNaN(x)) return double.NaN;
        double ax = Math.Abs(x);
        double r;
        if (ax < 2.5)
        {
            // erf x = 2/√π Σ (−1)^k x^(2k+1) / (k! (2k+1))
            double term = ax, sum = ax, x2 = ax * ax;
            for (int k = 1; k < 200; k++)
            {
                term *= -x2 / k;
                double add = term / (2 * k + 1);
                sum += add;
                if (Math.Abs(add) < 1e-17 * Math.Abs(sum)) break;
            }
            r = 2 / Math.Sqrt(Math.PI) * sum;
        }
        else if (ax > 6) r = 1;
        else
        {
            // erfc x = exp(−x²)/√π · 1/(x + 1/2/(x + 1/(x + 3/2/(x + …)))) (Lentz)
            double f = ax, c = ax, d = 0, tiny = 1e-300;
            for (int k = 1; k < 300; k++)
            {
                double a = k * 0.5;
                d = ax + a * d; d = Math.Abs(d) < tiny ? tiny : d; d = 1 / d;
                c = ax + a / c; c = Math.Abs(c) < tiny ? tiny : c;
                double delta = c * d;
                f *= delta;
                if (Math.Abs(delta - 1) < 1e-16) break;
            }
            r = 1 - Math.Exp(-ax * ax) / Math.Sqrt(Math.PI) / f;
        }
        return x < 0 ? -r : r;
    }

    /// <summary>P(a, x) = γ(a, x)/Γ(a), the regularised lower incomplete gamma function (0 for x ≤ 0).</summary>
    public static double RegularizedGammaP(double a, double x) => x <= 0 ? 0 : IncompleteGamma(a, x).P;

    /// <summary>P(χ²_k ≥ x) = Q(k/2, x/2), the χ² survival function (1 for x ≤ 0, NaN for NaN).</summary>
    public static double ChiSquareSurvival(double x, int degreesOfFreedom)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(degreesOfFreedom, 1);
        if (double.IsNaN(x)) return double.NaN;
        return x <= 0 ? 1 : RegularizedGammaQ(degreesOfFreedom / 2.0, x / 2);
    }

    /// <summary>Q(a, x) = Γ(a, x)/Γ(a) for a &gt; 0, x ≥ 0: series for x &lt; a + 1, Lentz continued fraction otherwise (Numerical Recipes §6.2).</summary>
    public static double RegularizedGammaQ(double a, double x) => x <= 0 ? 1 : IncompleteGamma(a, x).Q;

    // P and Q for a > 0, x > 0: whichever the method computes directly keeps full relative accuracy, the other is its complement
    private static (double P, double Q) IncompleteGamma(double a, double x)
    {
        double lnPrefix = a * Math.Log(x) - x - LogGamma(a);
        if (x < a + 1)
        {
            double sum = 1 / a, term = sum, ap = a;
            for (int i = 0; i < 10_000; i++)
            {
                ap++;
                term *= x / ap;
                sum += term;
                if (Math.Abs(term) < Math.Abs(sum) * 1e-16) break;
            }
            double p = Math.Min(1, sum * Math.Exp(lnPrefix));
            return (p, Math.Max(0, 1 - p));
        }
        const double tiny = 1e-300;
        double bb = x + 1 - a, c = 1 / tiny, dd = 1 / bb, h = dd;
        for (int i = 1; i < 10_000; i++)
        {
            double an = -i * (i - a);
            bb += 2;
            dd = an * dd + bb; if (Math.Abs(dd) < tiny) dd = tiny;
            c = bb + an / c; if (Math.Abs(c) < tiny) c = tiny;
            dd = 1 / dd;
            double del = dd * c;
            h *= del;
            if (Math.Abs(del - 1) < 1e-16) break;
        }
        double q = Math.Min(1, Math.Exp(lnPrefix) * h);
        return (Math.Max(0, 1 - q), q);
    }

    /// <summary>ln Γ(x) for x &gt; 0 (Lanczos, g = 7, 9 terms; relative error ≈ 1e−15).</summary>
    public static double LogGamma(double x)
    {
        ReadOnlySpan<double> c = [0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
            12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7];
        if (x < 0.5) return Math.Log(Math.PI / Math.Abs(Math.Sin(Math.PI * x))) - LogGamma(1 - x);
        x -= 1;
        double s = c[0];
        for (int i = 1; i < 9; i++) s += c[i] / (x + i);
        double t = x + 7.5;
        return 0.5 * Math.Log(2 * Math.PI) + (x + 0.5) * Math.Log(t) - t + Math.Log(s);
    }
}
