namespace NormalizingFlows.Transforms.Splines;

/// <summary>Small numerically careful helpers shared by the spline families (double precision).</summary>
internal static class SplineMath
{
    /// <summary>p = softmax(u), max-shifted; a non-finite maximum is treated as 0.</summary>
    public static void Softmax(ReadOnlySpan<double> u, Span<double> p)
    {
        double m = double.NegativeInfinity;
        foreach (var v in u) m = Math.Max(m, v);
        if (!double.IsFinite(m)) m = 0;
        double s = 0;
        for (int j = 0; j < u.Length; j++) { p[j] = Math.Exp(u[j] - m); s += p[j]; }
        for (int j = 0; j < u.Length; j++) p[j] /= s;
    }

    /// <summary>gu[j] += p[j]·(g[j] − Σ p·g): the backward of softmax for share gradients g.</summary>
    public static void SoftmaxBackward(ReadOnlySpan<double> p, ReadOnlySpan<double> g, Span<double> gu)
    {
        double dot = 0;
        for (int j = 0; j < p.Length; j++) dot += p[j] * g[j];
        for (int j = 0; j < p.Length; j++) gu[j] += p[j] * (g[j] - dot);
    }

    /// <summary>log(1 + exp(v)) without overflow.</summary>
    public static double Softplus(double v) => Math.Max(v, 0) + Math.Log(1 + Math.Exp(-Math.Abs(v)));

    /// <summary>1 / (1 + exp(−v)) without overflow.</summary>
    public static double Sigmoid(double v) => v >= 0 ? 1 / (1 + Math.Exp(-v)) : Math.Exp(v) / (1 + Math.Exp(v));

    /// <summary>Largest j in [0, knots.Length − 2] with knots[j] ≤ v (bins of a sorted knot row).</summary>
    public static int FindBin(ReadOnlySpan<double> knots, double v)
    {
        int k = knots.Length - 1, bin = 0;
        for (int j = 1; j < k; j++) if (v >= knots[j]) bin = j;
        return bin;
    }
}
