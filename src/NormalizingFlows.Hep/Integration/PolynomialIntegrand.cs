namespace NormalizingFlows.Hep.Integration;

/// <summary>The polynomial f(x) = Σᵢ (xᵢ − xᵢ²) (i-flow); ∫ = n/6.</summary>
public sealed class PolynomialIntegrand : IIntegrand
{
    /// <summary>Creates the polynomial in <paramref name="dimensions"/> dimensions.</summary>
    public PolynomialIntegrand(int dimensions)
    {
        Integrands.CheckDimensions(dimensions);
        Dimensions = dimensions;
    }

    /// <inheritdoc/>
    public string Name => "polynomial";

    /// <inheritdoc/>
    public int Dimensions { get; }

    /// <inheritdoc/>
    public double? AnalyticValue => Dimensions / 6.0;

    /// <inheritdoc/>
    public void Evaluate(ReadOnlySpan<double> x, Span<double> values)
    {
        int d = Dimensions;
        Integrands.CheckPoints(x, values, d);
        for (int i = 0; i < values.Length; i++)
        {
            double s = 0;
            for (int j = 0; j < d; j++) { double u = x[i * d + j]; s += u - u * u; }
            values[i] = s;
        }
    }
}
