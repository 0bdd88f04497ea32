namespace NormalizingFlows.Hep.Integration;

/// <summary>
/// i-flow's camel: two Gaussians of width α = 0.2 on the diagonal at ⅓ and ⅔,
/// f(x) = ½ (α√π)^(−n) [exp(−Σ(xᵢ − ⅓)²/α²) + exp(−Σ(xᵢ − ⅔)²/α²)]; ∫ = (½[erf(2/(3α)) + erf(1/(3α))])^n.
/// A separable grid sees 2^n peaks, so VEGAS degrades quickly with n.
/// </summary>
public sealed class CamelIntegrand : IIntegrand
{
    private readonly GaussianPeaks _peaks;

    /// <summary>Creates the camel in <paramref name="dimensions"/> dimensions with peak width <paramref name="alpha"/>.</summary>
    public CamelIntegrand(int dimensions, double alpha = 0.2)
    {
        _peaks = new GaussianPeaks(dimensions, alpha, 0.5, [1.0 / 3, 2.0 / 3]);
        AnalyticValue = Math.Pow(0.5 * (SpecialFunctions.Erf(2 / (3 * alpha)) + SpecialFunctions.Erf(1 / (3 * alpha))), dimensions);
    }

    /// <summary>The peak width α.</summary>
    public double Alpha => _peaks.Alpha;

    /// <inheritdoc/>
    public string Name => "camel";

    /// <inheritdoc/>
    public int Dimensions => _peaks.Dimensions;

    /// <inheritdoc/>
    public double? AnalyticValue { get; }

    /// <inheritdoc/>
    public void Evaluate(ReadOnlySpan<double> x, Span<double> values) => _peaks.Evaluate(x, values);
}
