using NormalizingFlows.Hep.Integration;
using NormalizingFlows.Tensors;

namespace NormalizingFlows.Hep.Tests.PhaseSpace;

/// <summary>A minimal plain Monte Carlo over the unit hypercube (independent of the Integration helpers).</summary>
internal static class PlainMc
{
    public sealed record Result(double Mean, double Error, double[] Points, double[] Values);

    /// <summary>Mean of f over n uniform points ± its standard error; keeps the points and values.</summary>
    public static Result Integrate(IIntegrand f, int n, ulong seed)
    {
        var rng = new Rng(seed);
        int d = f.Dimensions;
        var x = new double[n * d];
        for (int i = 0; i < x.Length; i++) x[i] = rng.NextDouble();
        var v = new double[n];
        f.Evaluate(x, v);
        var (mean, err) = MeanAndError(v);
        return new Result(mean, err, x, v);
    }

    public static (double Mean, double Error) MeanAndError(ReadOnlySpan<double> v)
    {
        double s = 0, s2 = 0;
        foreach (double a in v) { s += a; s2 += a * a; }
        double mean = s / v.Length, var = Math.Max(s2 / v.Length - mean * mean, 0);
        return (mean, Math.Sqrt(var / (v.Length - 1)));
    }
}
