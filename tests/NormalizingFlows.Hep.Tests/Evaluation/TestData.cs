using NormalizingFlows.Tensors;

namespace NormalizingFlows.Hep.Tests.Evaluation;

internal static class TestData
{
    /// <summary>Φ(x) via erfc (Numerical Recipes' erfcc, |error| &lt; 1.2e-7).</summary>
    public static double NormalCdf(double x) => 0.5 * Erfc(-x / Math.Sqrt(2));

    private static double Erfc(double x)
    {
        double z = Math.Abs(x), t = 1 / (1 + 0.5 * z);
        double r = t * Math.Exp(-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 +
            t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))));
        return x >= 0 ? r : 2 - r;
    }

    /// <summary>d columns of n Gaussian values; column 0 shifted by <paramref name="shift"/>.</summary>
    public static double[][] Gaussian(int n, int d, double shift, Rng rng)
    {
        var c = new double[d][];
        for (int j = 0; j < d; j++)
        {
            c[j] = new double[n];
            for (int i = 0; i < n; i++) c[j][i] = rng.NextNormal() + (j == 0 ? shift : 0);
        }
        return c;
    }

    /// <summary>
    /// Two samples of d-dimensional standard Gaussians from one generator seeded with <paramref name="seed"/>: A
    /// (<paramref name="na"/> events, column 0 shifted by <paramref name="shiftA"/>) drawn first, then B.
    /// </summary>
    public static (double[][] A, double[][] B) Pair(long seed, int na, int nb, int d, double shiftA = 0)
    {
        var rng = new Rng(seed);
        var a = Gaussian(na, d, shiftA, rng);
        return (a, Gaussian(nb, d, 0, rng));
    }

    public static double Correlation(double[] a, double[] b)
    {
        double ma = a.Average(), mb = b.Average(), sab = 0, saa = 0, sbb = 0;
        for (int i = 0; i < a.Length; i++) { sab += (a[i] - ma) * (b[i] - mb); saa += (a[i] - ma) * (a[i] - ma); sbb += (b[i] - mb) * (b[i] - mb); }
        return sab / Math.Sqrt(saa * sbb);
    }
}
