namespace NormalizingFlows.Hep.PhaseSpace;

/// <summary>A two-body decay in the parent's rest frame parametrised by (u₀, u₁) ∈ [0, 1]², and its inverse; shared by the multichannel mappings.</summary>
internal static class TwoBodyDecay
{
    /// <summary>
    /// The inverse of a two-body decay's angles: (u₀, u₁) with cos θ = 2u₀ − 1, φ = 2πu₁ of <paramref name="daughter"/>
    /// in the rest frame of <paramref name="parent"/>, measured from the parent's flight direction (a parent at rest, as
    /// the e⁺e⁻ centre of mass, uses the lab axes).
    /// </summary>
    public static (double U0, double U1) Angles(FourVector parent, FourVector daughter)
    {
        var rest = daughter.BoostedFromRestFrameOf(parent.Reflected);
        if (parent.P > 0) rest = rest.RotatedFromDirection(parent.CosTheta, parent.Phi);
        double u1 = rest.Phi / (2 * Math.PI);
        if (u1 < 0) u1 += 1;
        return (Math.Clamp((rest.CosTheta + 1) / 2, 0.0, 1.0), u1 >= 1 ? 0.0 : u1);
    }

    /// <summary>
    /// The two-body decay of <paramref name="parent"/> (mass² <paramref name="parentM2"/>) into masses² ma², mb², with
    /// cos θ = 2u₀ − 1, φ = 2πu₁ of the first daughter in the parent's rest frame, from its flight direction.
    /// </summary>
    public static (FourVector A, FourVector B) Daughters(FourVector parent, double parentM2, double ma2, double mb2, double u0, double u1)
    {
        double m = Math.Sqrt(parentM2);
        double lambda = (parentM2 - ma2 - mb2) * (parentM2 - ma2 - mb2) - 4 * ma2 * mb2;
        double pAbs = Math.Sqrt(Math.Max(lambda, 0)) / (2 * m), ea = (parentM2 + ma2 - mb2) / (2 * m);
        var a = FourVector.FromPolar(ea, pAbs, Math.Clamp(2 * u0 - 1, -1.0, 1.0), 2 * Math.PI * u1);
        var b = new FourVector(m - ea, -a.Px, -a.Py, -a.Pz);
        if (parent.P > 0)
        {
            double cosTheta = parent.CosTheta, phi = parent.Phi;
            a = a.RotatedToDirection(cosTheta, phi);
            b = b.RotatedToDirection(cosTheta, phi);
        }
        return (a.BoostedFromRestFrameOf(parent), b.BoostedFromRestFrameOf(parent));
    }
}
