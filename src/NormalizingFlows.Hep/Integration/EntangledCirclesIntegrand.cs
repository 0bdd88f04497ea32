namespace NormalizingFlows.Hep.Integration;

/// <summary>
/// i-flow's entangled circles in 2-D: two thin rings of radius r = 0.25 around (0.4, 0.6) and (0.6, 0.4), with
/// sharpness w = 1/0.004, weighted by x₂^a and (1 − x₂)^a (a = 3):
/// f = x₂^a exp(−w|(x₁ − p₁)² + (x₂ − p₂)² − r²|) + (1 − x₂)^a exp(−w|(x₁ − 1 + p₁)² + (x₂ − 1 + p₂)² − r²|),
/// p = (0.4, 0.6). No closed form: the reference comes from <see cref="ComputeReference"/> (≈ 0.0136848).
/// </summary>
public sealed class EntangledCirclesIntegrand : IIntegrand, IQuadratureReference
{
    private const double A = 3, P1 = 0.4, P2 = 0.6, R = 0.25, W = 1 / 0.004;

    /// <inheritdoc/>
    public string Name => "circles";

    /// <inheritdoc/>
    public int Dimensions => 2;

    /// <inheritdoc/>
    public double? AnalyticValue => null;

    /// <summary>f at one point.</summary>
    public static double Value(double x1, double x2)
    {
        double r1 = (x1 - P1) * (x1 - P1) + (x2 - P2) * (x2 - P2) - R * R;
        double r2 = (x1 - 1 + P1) * (x1 - 1 + P1) + (x2 - 1 + P2) * (x2 - 1 + P2) - R * R;
        return Math.Pow(x2, A) * Math.Exp(-W * Math.Abs(r1)) + Math.Pow(1 - x2, A) * Math.Exp(-W * Math.Abs(r2));
    }

    /// <inheritdoc/>
    public void Evaluate(ReadOnlySpan<double> x, Span<double> values) => Integrands.EvaluatePairs(x, values, Value);

    /// <summary>Nested Gauss–Kronrod quadrature with the rings' kinks as breakpoints of the inner integral.</summary>
    public (double Value, double Error) ComputeReference() =>
        AdaptiveQuadrature.Nested(Value, 0, 1, 0, 1, 1e-14, 1e-11, 1e-13, 1e-10, x2 =>
        {
            var bp = new List<double>();
            foreach (var (c1, c2) in new[] { (P1, P2), (1 - P1, 1 - P2) })
            {
                double h = R * R - (x2 - c2) * (x2 - c2);
                if (h > 0) { bp.Add(c1 - Math.Sqrt(h)); bp.Add(c1 + Math.Sqrt(h)); }
                bp.Add(c1);
            }
            return bp;
        }, [P2 - R, P2, P2 + R, 1 - P2 - R, 1 - P2, 1 - P2 + R]);
}
