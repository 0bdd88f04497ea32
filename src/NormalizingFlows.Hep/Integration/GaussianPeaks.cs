namespace NormalizingFlows.Hep.Integration;

/// <summary>
/// f(x) = w (α√π)^(−n) Σ_c exp(−Σⱼ (xⱼ − c)²/α²): equal Gaussian peaks of width α on the diagonal of the unit cube at
/// the given centres (the Gaussian and camel integrands).
/// </summary>
internal sealed class GaussianPeaks
{
    private readonly double _norm, _alpha2;
    private readonly double[] _centres;

    /// <summary>Peaks of width <paramref name="alpha"/> at <paramref name="centres"/>, each weighted <paramref name="weight"/>.</summary>
    public GaussianPeaks(int dimensions, double alpha, double weight, double[] centres)
    {
        Integrands.CheckDimensions(dimensions);
        if (!(alpha > 0) || !double.IsFinite(alpha)) throw new ArgumentOutOfRangeException(nameof(alpha), alpha, "the width must be positive");
        Dimensions = dimensions;
        Alpha = alpha;
        _alpha2 = alpha * alpha;
        _norm = weight * Math.Pow(alpha * Math.Sqrt(Math.PI), -dimensions);
        _centres = centres;
    }

    public int Dimensions { get; }

    public double Alpha { get; }

    public void Evaluate(ReadOnlySpan<double> x, Span<double> values)
    {
        int d = Dimensions;
        Integrands.CheckPoints(x, values, d);
        for (int i = 0; i < values.Length; i++)
        {
            var row = x.Slice(i * d, d);
            double sum = 0;
            foreach (double c in _centres)
            {
                double s = 0;
                for (int j = 0; j < d; j++) { double u = row[j] - c; s += u * u; }
                sum += Math.Exp(-s / _alpha2);
            }
            values[i] = _norm * sum;
        }
    }
}
