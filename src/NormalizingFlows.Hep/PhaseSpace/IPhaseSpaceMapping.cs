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

/// <summary>Phase-space helpers shared by the mappings.</summary>
public static class PhaseSpaceVolume
{
    /// <summary>
    /// The volume Φ_n(s) = (2π)^(4−3n) (π/2)^(n−1) s^(n−2) / ((n−1)! (n−2)!) of massless n-body phase space
    /// (1/(8π) for n = 2, s/(256π³) for n = 3).
    /// </summary>
    public static double Massless(int n, double s)
    {
        if (n < 2) throw new ArgumentOutOfRangeException(nameof(n), n, "need at least two final-state particles");
        if (!(s > 0)) throw new ArgumentOutOfRangeException(nameof(s), s, "s must be positive");
        double logV = (4 - 3 * n) * Math.Log(2 * Math.PI) + (n - 1) * Math.Log(Math.PI / 2) + (n - 2) * Math.Log(s)
                      - LogFactorial(n - 1) - LogFactorial(n - 2);
        return Math.Exp(logV);
    }

    static double LogFactorial(int k)
    {
        double r = 0;
        for (int i = 2; i <= k; i++) r += Math.Log(i);
        return r;
    }

    internal static void CheckArguments(IPhaseSpaceMapping m, ReadOnlySpan<double> u, Span<FourVector> momenta)
    {
        if (u.Length != m.Dimensions)
            throw new ArgumentException($"point has {u.Length} coordinates, the mapping reads {m.Dimensions}", nameof(u));
        if (momenta.Length != m.Particles)
            throw new ArgumentException($"momenta has length {momenta.Length}, the mapping writes {m.Particles}", nameof(momenta));
    }
}
