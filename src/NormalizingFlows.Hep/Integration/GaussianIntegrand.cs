namespace NormalizingFlows.Hep.Integration;

/// <summary>
/// i-flow's n-dimensional Gaussian (Gao et al. 2020, arXiv:2001.05486): f(x) = (α√π)^(−n) exp(−Σᵢ (xᵢ − ½)²/α²),
/// α = 0.2 by default. Factorisable, so VEGAS's separable grid is ideal. ∫ = erf(1/(2α))^n.
/// </summary>
public sealed class GaussianIntegrand : IIntegrand
{
    private readonly double _norm, _alpha2;

    /// <summary>Creates the Gaussian in <paramref name="dimensions"/> dimensions with width <paramref name="alpha"/>.</summary>
    public GaussianIntegrand(int dimensions, double alpha = 0.2)
    {
        Integrands.CheckDimensions(dimensions);
        Integrands.CheckWidth(alpha);
        Dimensions = dimensions;
        Alpha = alpha;
        _alpha2 = alpha * alpha;
        _norm = Math.Pow(alpha * Math.Sqrt(Math.PI), -dimensions);
        AnalyticValue = Math.Pow(SpecialFunctions.Erf(0.5 / alpha), dimensions);
    }

    /// <summary>The width α.</summary>
    public double Alpha { get; }

    /// <inheritdoc/>
    public string Name => "gaussian";

    /// <inheritdoc/>
    public int Dimensions { get; }

    /// <inheritdoc/>
    public double? AnalyticValue { get; }

    /// <inheritdoc/>
    public void Evaluate(ReadOnlySpan<double> x, Span<double> values) =>
        Integrands.EvaluatePeaks(x, values, Dimensions, _norm, _alpha2, [0.5]);
}
