namespace NormalizingFlows.Transforms.Monotonic;

/// <summary>
/// Clenshaw–Curtis quadrature on [−1, 1]: the n + 1 Chebyshev extreme points t_j = cos(jπ/n) (t_0 = 1, t_n = −1) and
/// positive weights that integrate polynomials of degree ≤ n exactly (Waldvogel's closed form); on a smooth
/// (analytic) integrand the error falls geometrically with n.
/// </summary>
public static class ClenshawCurtis
{
    /// <summary>The rule with <paramref name="points"/> = n + 1 ≥ 2 points: nodes t_j (descending from 1 to −1) and weights w_j (sum 2).</summary>
    public static (double[] Nodes, double[] Weights) Rule(int points)
    {
        if (points < 2) throw new ArgumentOutOfRangeException(nameof(points), points, "Clenshaw–Curtis needs at least 2 points (both ends)");
        int n = points - 1;
        var t = new double[points]; var w = new double[points];
        for (int j = 0; j <= n; j++)
        {
            t[j] = Math.Cos(j * Math.PI / n);
            double s = 0;
            for (int k = 1; k <= n / 2; k++)
            {
                double b = 2 * k == n ? 1 : 2;
                s += b / (4.0 * k * k - 1) * Math.Cos(2.0 * k * j * Math.PI / n);
            }
            double c = j == 0 || j == n ? 1 : 2;
            w[j] = c / n * (1 - s);
        }
        if (n == 1) { w[0] = 1; w[1] = 1; }
        return (t, w);
    }
}
