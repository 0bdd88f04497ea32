namespace NormalizingFlows.Hep.Integration;

/// <summary>
/// An annulus in 2-D (a sharp-edged region as after phase-space cuts): f = 1 where 0.2 &lt; |x − (½, ½)| &lt; 0.45,
/// else 0; ∫ = π(0.45² − 0.2²). Neither factorisable nor smooth: hard for VEGAS's axis-aligned grid.
/// </summary>
public sealed class AnnulusIntegrand : IIntegrand, IQuadratureReference
{
    /// <summary>Inner radius.</summary>
    public const double InnerRadius = 0.2;

    /// <summary>Outer radius.</summary>
    public const double OuterRadius = 0.45;

    /// <inheritdoc/>
    public string Name => "annulus";

    /// <inheritdoc/>
    public int Dimensions => 2;

    /// <inheritdoc/>
    public double? AnalyticValue => Math.PI * (OuterRadius * OuterRadius - InnerRadius * InnerRadius);

    /// <summary>f at one point.</summary>
    public static double Value(double x1, double x2)
    {
        double r2 = (x1 - 0.5) * (x1 - 0.5) + (x2 - 0.5) * (x2 - 0.5);
        return r2 > InnerRadius * InnerRadius && r2 < OuterRadius * OuterRadius ? 1 : 0;
    }

    /// <inheritdoc/>
    public void Evaluate(ReadOnlySpan<double> x, Span<double> values) => Integrands.EvaluatePairs(x, values, Value);

    /// <summary>Nested quadrature with the circle crossings of each line as breakpoints (a check of the closed form).</summary>
    public (double Value, double Error) ComputeReference() =>
        AdaptiveQuadrature.Nested(Value, 0, 1, 0, 1, 1e-14, 1e-12, 1e-12, 1e-10, x2 =>
        {
            var bp = new List<double>();
            foreach (double r in new[] { InnerRadius, OuterRadius })
            {
                double h = r * r - (x2 - 0.5) * (x2 - 0.5);
                if (h > 0) { bp.Add(0.5 - Math.Sqrt(h)); bp.Add(0.5 + Math.Sqrt(h)); }
            }
            return bp;
        }, [0.5 - OuterRadius, 0.5 - InnerRadius, 0.5, 0.5 + InnerRadius, 0.5 + OuterRadius]);
}
