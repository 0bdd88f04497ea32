namespace NormalizingFlows.Hep.Inference;

/// <summary>The classic reconstruction of the neutrino p_z from the W-mass constraint m(ℓν) = m_W.</summary>
public static class NeutrinoSolver
{
    /// <summary>
    /// Solves (p_ℓ + p_ν)² = m_W² for p_z^ν with the neutrino p_T set to the missing p_T (massless ν):
    /// p_T,ℓ²·p_z² − 2μ p_z,ℓ·p_z + (E_ℓ² p_T,ν² − μ²) = 0 with μ = m_W²/2 + p_T,ℓ·p_T,ν (+ m_ℓ² terms neglected).
    /// With a negative discriminant both fields hold the real part μ p_z,ℓ/p_T,ℓ².
    /// </summary>
    public static NeutrinoPzSolution SolvePz(double lpx, double lpy, double lpz, double le, double metX, double metY, double wMass = WlnuSimulator.WMass)
    {
        double ptl2 = lpx * lpx + lpy * lpy;
        if (!(ptl2 > 0)) throw new ArgumentException("the lepton has no transverse momentum");
        double mu = wMass * wMass / 2 + lpx * metX + lpy * metY;
        double ptn2 = metX * metX + metY * metY;
        double centre = mu * lpz / ptl2;
        double disc = mu * mu * lpz * lpz - ptl2 * (le * le * ptn2 - mu * mu);
        if (disc < 0) return new NeutrinoPzSolution(centre, centre, false);
        double half = Math.Sqrt(disc) / ptl2;
        double a = centre - half, b = centre + half;
        return Math.Abs(a) <= Math.Abs(b) ? new NeutrinoPzSolution(a, b, true) : new NeutrinoPzSolution(b, a, true);
    }
}
