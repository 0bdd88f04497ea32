namespace NormalizingFlows.Hep.Integration;

/// <summary>
/// A scalar one-loop box in Feynman parameters (the kind of loop integral i-flow integrates), in the Euclidean region
/// where the Symanzik polynomial is positive: I = ∫ d⁴a δ(1 − Σa) / F(a)² with
/// F = −s a₁a₃ − t a₂a₄ − Σᵢ pᵢ² aᵢaᵢ₊₁ + m² (Σa)², s = −3, t = −2, pᵢ² = −1 (all four legs off shell), internal mass
/// m² = 0.1 on all four lines. The simplex is mapped to the cube by a₁ = x₁, a₂ = (1 − x₁)x₂, a₃ = (1 − x₁)(1 − x₂)x₃,
/// a₄ = (1 − x₁)(1 − x₂)(1 − x₃), Jacobian (1 − x₁)²(1 − x₂); f peaks (up to 1/m⁴ = 100) towards corners of the
/// simplex. The reference comes from <see cref="ComputeReference"/>.
/// </summary>
public sealed class ScalarBoxIntegrand : IIntegrand, IQuadratureReference
{
    private const double S = -3, T = -2, P2 = -1, M2 = 0.1;

    /// <inheritdoc/>
    public string Name => "box";

    /// <inheritdoc/>
    public int Dimensions => 3;

    /// <inheritdoc/>
    public double? AnalyticValue => null;

    /// <summary>f at one point of the cube.</summary>
    public static double Value(double x1, double x2, double x3)
    {
        double a1 = x1, r1 = 1 - x1, a2 = r1 * x2, r2 = r1 * (1 - x2), a3 = r2 * x3, a4 = r2 * (1 - x3);
        double f = -S * a1 * a3 - T * a2 * a4 - P2 * (a1 * a2 + a2 * a3 + a3 * a4 + a4 * a1) + M2;
        return r1 * r1 * (1 - x2) / (f * f);
    }

    /// <inheritdoc/>
    public void Evaluate(ReadOnlySpan<double> x, Span<double> values)
    {
        Integrands.CheckPoints(x, values, 3);
        for (int i = 0; i < values.Length; i++) values[i] = Value(x[3 * i], x[3 * i + 1], x[3 * i + 2]);
    }

    /// <summary>Nested 3-D Gauss–Kronrod quadrature (smooth integrand).</summary>
    public (double Value, double Error) ComputeReference() =>
        AdaptiveQuadrature.Integrate3D(Value, 0, 1, 0, 1, 0, 1, 1e-11, 1e-9);
}
