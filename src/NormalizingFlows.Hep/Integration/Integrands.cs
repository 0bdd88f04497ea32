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

    /// <summary>values[i] = f(x[2i], x[2i+1]).</summary>
    public static void EvaluatePairs(ReadOnlySpan<double> x, Span<double> values, Func<double, double, double> f)
    {
        CheckPoints(x, values, 2);
        for (int i = 0; i < values.Length; i++) values[i] = f(x[2 * i], x[2 * i + 1]);
    }
}
