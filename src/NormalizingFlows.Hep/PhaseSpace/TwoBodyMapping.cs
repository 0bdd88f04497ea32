namespace NormalizingFlows.Hep.PhaseSpace;

/// <summary>
/// Massless two-body phase space in the centre-of-mass frame from two numbers: cos θ = 2u₁ − 1 and φ = 2πu₂ of the
/// first particle with the +z (e⁻ beam) axis; the second is back to back. The weight is the constant
/// dΦ₂/du = 4π/(32π²) = 1/(8π).
/// </summary>
public sealed class TwoBodyMapping : IPhaseSpaceMapping
{
    /// <summary>Creates the map at centre-of-mass energy √s.</summary>
    public TwoBodyMapping(double sqrtS)
    {
        if (!(sqrtS > 0) || double.IsInfinity(sqrtS)) throw new ArgumentOutOfRangeException(nameof(sqrtS), sqrtS, "√s must be positive and finite");
        SqrtS = sqrtS;
    }

    /// <inheritdoc/>
    public int Dimensions => 2;

    /// <inheritdoc/>
    public int Particles => 2;

    /// <inheritdoc/>
    public double SqrtS { get; }

    /// <inheritdoc/>
    public double Map(ReadOnlySpan<double> u, Span<FourVector> momenta)
    {
        PhaseSpaceVolume.CheckArguments(this, u, momenta);
        double e = SqrtS / 2;
        var p = FourVector.FromPolar(e, e, Math.Clamp(2 * u[0] - 1, -1.0, 1.0), 2 * Math.PI * u[1]);
        momenta[0] = p;
        momenta[1] = p.Reflected;
        return 1.0 / (8 * Math.PI);
    }
}
