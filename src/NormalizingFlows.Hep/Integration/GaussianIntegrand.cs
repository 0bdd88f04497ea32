namespace NormalizingFlows.Hep.Integration;

/// <summary>
/// i-flow's n-dimensional Gaussian (Gao et al. 2020, arXiv:2001.05486): f(x) = (α√π)^(−n) exp(−Σᵢ (xᵢ − ½)²/α²),
/// α = 0.2 by default. Factorisable, so VEGAS's separable grid is ideal. ∫ = erf(1/(2α))^n.
/// </summary>
public sealed class GaussianIntegrand : IIntegrand
{
    private readonly GaussianPeaks _peaks;

    /// <summary>Creates the Gaussian in <paramref name="dimensions"/> dimensions with width <paramref name="alpha"/>.</summary>
    public GaussianIntegrand(int dimensions, double alpha = 0.2)
    {
        _peaks = new GaussianPeaks(dimensions, alpha, 1, [0.5]);
        AnalyticValue = Math.Pow(SpecialFunctions.Erf(0.5 / alpha), dimensions);
    }

    /// <summary>The width α.</summary>
    public double Alpha => _peaks.Alpha;

    /// <inheritdoc/>
    public string Name => "gaussian";

    /// <inheritdoc/>
    public int Dimensions => _peaks.Dimensions;

    /// <inheritdoc/>
    public double? AnalyticValue { get; }

    /// <inheritdoc/>
    public void Evaluate(ReadOnlySpan<double> x, Span<double> values) => _peaks.Evaluate(x, values);
}
