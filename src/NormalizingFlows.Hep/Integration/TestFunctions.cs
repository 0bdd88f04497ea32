namespace NormalizingFlows.Hep.Integration;

/// <summary>An integrand whose reference value is computed by deterministic quadrature (no closed form).</summary>
public interface IQuadratureReference
{
    /// <summary>∫ f dx and the quadrature's error estimate, by adaptive Gauss–Kronrod quadrature.</summary>
    (double Value, double Error) ComputeReference();
}

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
        if (dimensions < 1) throw new ArgumentOutOfRangeException(nameof(dimensions), dimensions, "need at least one dimension");
        if (!(alpha > 0) || !double.IsFinite(alpha)) throw new ArgumentOutOfRangeException(nameof(alpha), alpha, "the width must be positive");
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
    public void Evaluate(ReadOnlySpan<double> x, Span<double> values)
    {
        int d = Dimensions;
        Check.Points(x, values, d);
        for (int i = 0; i < values.Length; i++)
        {
            double s = 0;
            for (int j = 0; j < d; j++) { double u = x[i * d + j] - 0.5; s += u * u; }
            values[i] = _norm * Math.Exp(-s / _alpha2);
        }
    }
}

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

/// <summary>The polynomial f(x) = Σᵢ (xᵢ − xᵢ²) (i-flow); ∫ = n/6.</summary>
public sealed class PolynomialIntegrand : IIntegrand
{
    /// <summary>Creates the polynomial in <paramref name="dimensions"/> dimensions.</summary>
    public PolynomialIntegrand(int dimensions)
    {
        if (dimensions < 1) throw new ArgumentOutOfRangeException(nameof(dimensions), dimensions, "need at least one dimension");
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
        Check.Points(x, values, d);
        for (int i = 0; i < values.Length; i++)
        {
            double s = 0;
            for (int j = 0; j < d; j++) { double u = x[i * d + j]; s += u - u * u; }
            values[i] = s;
        }
    }
}

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
    public void Evaluate(ReadOnlySpan<double> x, Span<double> values)
    {
        Check.Points(x, values, 2);
        for (int i = 0; i < values.Length; i++) values[i] = Value(x[2 * i], x[2 * i + 1]);
    }

    /// <summary>Nested Gauss–Kronrod quadrature with the rings' kinks as breakpoints of the inner integral.</summary>
    public (double Value, double Error) ComputeReference()
    {
        double innerError = 0;
        var (v, e) = AdaptiveQuadrature.Integrate(x2 =>
        {
            var bp = new List<double>();
            foreach (var (c1, c2) in new[] { (P1, P2), (1 - P1, 1 - P2) })
            {
                double h = R * R - (x2 - c2) * (x2 - c2);
                if (h > 0) { bp.Add(c1 - Math.Sqrt(h)); bp.Add(c1 + Math.Sqrt(h)); }
                bp.Add(c1);
            }
            var (vi, ei) = AdaptiveQuadrature.Integrate(x1 => Value(x1, x2), 0, 1, 1e-14, 1e-11, breakpoints: bp);
            innerError = Math.Max(innerError, ei);
            return vi;
        }, 0, 1, 1e-13, 1e-10, breakpoints: [P2 - R, P2, P2 + R, 1 - P2 - R, 1 - P2, 1 - P2 + R]);
        return (v, e + innerError);
    }
}

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
    public void Evaluate(ReadOnlySpan<double> x, Span<double> values)
    {
        Check.Points(x, values, 2);
        for (int i = 0; i < values.Length; i++) values[i] = Value(x[2 * i], x[2 * i + 1]);
    }

    /// <summary>Nested quadrature with the circle crossings of each line as breakpoints (a check of the closed form).</summary>
    public (double Value, double Error) ComputeReference()
    {
        double innerError = 0;
        var (v, e) = AdaptiveQuadrature.Integrate(x2 =>
        {
            var bp = new List<double>();
            foreach (double r in new[] { InnerRadius, OuterRadius })
            {
                double h = r * r - (x2 - 0.5) * (x2 - 0.5);
                if (h > 0) { bp.Add(0.5 - Math.Sqrt(h)); bp.Add(0.5 + Math.Sqrt(h)); }
            }
            var (vi, ei) = AdaptiveQuadrature.Integrate(x1 => Value(x1, x2), 0, 1, 1e-14, 1e-12, breakpoints: bp);
            innerError = Math.Max(innerError, ei);
            return vi;
        }, 0, 1, 1e-12, 1e-10, breakpoints: [0.5 - OuterRadius, 0.5 - InnerRadius, 0.5, 0.5 + InnerRadius, 0.5 + OuterRadius]);
        return (v, e + innerError);
    }
}

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
        Check.Points(x, values, 3);
        for (int i = 0; i < values.Length; i++) values[i] = Value(x[3 * i], x[3 * i + 1], x[3 * i + 2]);
    }

    /// <summary>Nested 3-D Gauss–Kronrod quadrature (smooth integrand).</summary>
    public (double Value, double Error) ComputeReference() =>
        AdaptiveQuadrature.Integrate3D(Value, 0, 1, 0, 1, 0, 1, 1e-11, 1e-9);
}

internal static class Check
{
    public static void Points(ReadOnlySpan<double> x, Span<double> values, int d)
    {
        if (x.Length != values.Length * d)
            throw new ArgumentException($"x has {x.Length} coordinates for {values.Length} points of {d} dimensions (need {values.Length * d})");
    }
}
