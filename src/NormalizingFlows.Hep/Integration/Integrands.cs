namespace NormalizingFlows.Hep.Integration;

/// <summary>What the test integrands share: argument checks and the evaluation loops.</summary>
internal static class Integrands
{
    public static void CheckPoints(ReadOnlySpan<double> x, Span<double> values, int d)
    {
        if (x.Length != values.Length * d)
            throw new ArgumentException($"x has {x.Length} coordinates for {values.Length} points of {d} dimensions (need {values.Length * d})");
    }

    public static void CheckDimensions(int dimensions)
    {
        if (dimensions < 1) throw new ArgumentOutOfRangeException(nameof(dimensions), dimensions, "need at least one dimension");
    }

    public static void CheckWidth(double alpha)
    {
        if (!(alpha > 0) || !double.IsFinite(alpha)) throw new ArgumentOutOfRangeException(nameof(alpha), alpha, "the width must be positive");
    }

    /// <summary>values[i] = f(x[2i], x[2i+1]).</summary>
    public static void EvaluatePairs(ReadOnlySpan<double> x, Span<double> values, Func<double, double, double> f)
    {
        CheckPoints(x, values, 2);
        for (int i = 0; i < values.Length; i++) values[i] = f(x[2 * i], x[2 * i + 1]);
    }

    /// <summary>values[i] = norm · Σ_c exp(−Σⱼ (x[i·d+j] − c)²/α²): Gaussian peaks on the diagonal at the given centres.</summary>
    public static void EvaluatePeaks(ReadOnlySpan<double> x, Span<double> values, int d, double norm, double alpha2, ReadOnlySpan<double> centres)
    {
        CheckPoints(x, values, d);
        for (int i = 0; i < values.Length; i++)
        {
            var row = x.Slice(i * d, d);
            double sum = 0;
            foreach (double c in centres)
            {
                double s = 0;
                for (int j = 0; j < d; j++) { double u = row[j] - c; s += u * u; }
                sum += Math.Exp(-s / alpha2);
            }
            values[i] = norm * sum;
        }
    }
}
