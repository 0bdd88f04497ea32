namespace NormalizingFlows.Hep.PhaseSpace;

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
