namespace NormalizingFlows.Hep.PhaseSpace;

/// <summary>
/// A map from the unit hypercube [0, 1]^d to the momenta of n massless final-state particles with total momentum
/// (√s, 0, 0, 0), together with its phase-space weight w(u) = dΦ_n/du, so that ∫ f(p) dΦ_n = ∫ f(p(u)) w(u) du.
/// Φ_n is the Lorentz-invariant phase space with the (2π)^(4−3n) convention:
/// dΦ_n = (2π)⁴ δ⁴(P − Σp) Π d³p_i / ((2π)³ 2E_i).
/// </summary>
public interface IPhaseSpaceMapping
{
    /// <summary>The dimension d of the hypercube the map reads.</summary>
    int Dimensions { get; }

    /// <summary>The number n of final-state momenta it writes.</summary>
    int Particles { get; }

    /// <summary>The centre-of-mass energy √s in GeV.</summary>
    double SqrtS { get; }

    /// <summary>
    /// Writes the n momenta for the point <paramref name="u"/> (length d) into <paramref name="momenta"/> (length n)
    /// and returns the weight dΦ_n/du; 0 where the point maps to no valid configuration (the momenta are then
    /// unspecified).
    /// </summary>
    double Map(ReadOnlySpan<double> u, Span<FourVector> momenta);
}
