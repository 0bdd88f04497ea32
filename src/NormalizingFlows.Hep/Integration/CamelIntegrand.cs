namespace NormalizingFlows.Hep.Integration;

/// <summary>
/// i-flow's camel: two Gaussians of width α = 0.2 on the diagonal at ⅓ and ⅔,
/// f(x) = ½ (α√π)^(−n) [exp(−Σ(xᵢ − ⅓)²/α²) + exp(−Σ(xᵢ − ⅔)²/α²)]; ∫ = (½[erf(2/(3α)) + erf(1/(3α))])^n.
/// A separable grid sees 2^n peaks, so VEGAS degrades quickly with n.
/// </summary>
public sealed class CamelIntegrand : IIntegrand
{
    private readonly double _norm, _alpha2;

    /// <summary>Creates the camel in <paramref name="dimensions"/> dimensions with peak width <paramref name="alpha"/>.</summary>
    public CamelIntegrand(int dimensions, double alpha = 0.2)
    {
        if (dimensions < 1) throw new ArgumentOutOfRangeException(nameof(dimensions), dimensions, "need at least one dimension");
        if (!(alpha > 0) || !double.IsFinite(alpha)) throw new ArgumentOutOfRangeException(nameof(alpha), alpha, "the width must be positive");
        Dimensions = dimensions;
        Alpha = alpha;
        _alpha2 = alpha * alpha;
        _norm = 0.5 * Math.Pow(alpha * Math.Sqrt(Math.PI), -dimensions);
        AnalyticValue = Math.Pow(0.5 * (SpecialFunctions.Erf(2 / (3 * alpha)) + SpecialFunctions.Erf(1 / (3 * alpha))), dimensions);
    }

    /// <summary>The peak width α.</summary>
    public double Alpha { get; }

    /// <inheritdoc/>
    public string Name => "camel";

    /// <inheritdoc/>
    public int Dimensions { get; }

    /// <inheritdoc/>
    public double? AnalyticValue { get; }

    /// <inheritdoc/>
    public void Evaluate(ReadOnlySpan<double> x, Span<double> values)
    {
        int d = Dimensions;
        Check.Points(x, values, d);
        for (int i = 0; i < values.Length; i++)
        {
            double s1 = 0, s2 = 0;
            for (int j = 0; j < d; j++)
            {
                double u = x[i * d + j] - 1.0 / 3, v = x[i * d + j] - 2.0 / 3;
                s1 += u * u; s2 += v * v;
            }
            values[i] = _norm * (Math.Exp(-s1 / _alpha2) + Math.Exp(-s2 / _alpha2));
        }
    }
}
