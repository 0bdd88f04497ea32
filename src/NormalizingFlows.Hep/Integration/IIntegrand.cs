namespace NormalizingFlows.Hep.Integration;

/// <summary>
/// A non-negative function f on the unit hypercube [0, 1]^d, evaluated on batches of points: the integrand of
/// importance-sampling integration (i-flow, VEGAS, plain Monte Carlo). f is zero outside cuts, never negative or NaN.
/// </summary>
public interface IIntegrand
{
    /// <summary>Short name used in tables and on the command line (e.g. "camel").</summary>
    string Name { get; }

    /// <summary>The dimension d of the hypercube.</summary>
    int Dimensions { get; }

    /// <summary>The exact value of ∫ f dx over [0, 1]^d when it is known, otherwise null.</summary>
    double? AnalyticValue { get; }

    /// <summary>
    /// values[i] = f(x[i·d .. i·d + d]) for the n = values.Length points stored row-major in <paramref name="x"/>
    /// (x.Length = n·d, every coordinate in [0, 1]).
    /// </summary>
    void Evaluate(ReadOnlySpan<double> x, Span<double> values);
}
