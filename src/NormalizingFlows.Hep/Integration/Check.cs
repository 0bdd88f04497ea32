namespace NormalizingFlows.Hep.Integration;

internal static class Check
{
    public static void Points(ReadOnlySpan<double> x, Span<double> values, int d)
    {
        if (x.Length != values.Length * d)
            throw new ArgumentException($"x has {x.Length} coordinates for {values.Length} points of {d} dimensions (need {values.Length * d})");
    }
}
