namespace NormalizingFlows.Hep.PhaseSpace;

/// <summary>
/// RAMBO (Kleiss, Stirling, Ellis, Comput. Phys. Commun. 40 (1986) 359) for n massless particles: a map
/// [0, 1]^(4n) → momenta with the flat weight Φ_n(s). Each particle reads four numbers (ρ₁..ρ₄): an isotropic
/// massless vector q with cos θ = 2ρ₁ − 1, φ = 2πρ₂, q⁰ = −ln(ρ₃ρ₄); the q are then boosted and scaled so that
/// they sum to (√s, 0⃗). The map is many-to-one (4n numbers for 3n − 4 degrees of freedom); its weight is the
/// constant Φ_n(s) because uniform u give momenta distributed exactly as dΦ_n / Φ_n, so ∫ f(p(u)) Φ_n du = ∫ f dΦ_n.
/// </summary>
public sealed class RamboMapping : IPhaseSpaceMapping
{
    readonly double _weight;

    /// <summary>Creates the map for <paramref name="particles"/> massless momenta at centre-of-mass energy √s.</summary>
    public RamboMapping(int particles, double sqrtS)
    {
        if (particles < 2) throw new ArgumentOutOfRangeException(nameof(particles), particles, "RAMBO needs at least 2 particles");
        if (!(sqrtS > 0) || double.IsInfinity(sqrtS)) throw new ArgumentOutOfRangeException(nameof(sqrtS), sqrtS, "√s must be positive and finite");
        Particles = particles;
        SqrtS = sqrtS;
        _weight = PhaseSpaceVolume.Massless(particles, sqrtS * sqrtS);
    }

    /// <inheritdoc/>
    public int Dimensions => 4 * Particles;

    /// <inheritdoc/>
    public int Particles { get; }

    /// <inheritdoc/>
    public double SqrtS { get; }

    /// <inheritdoc/>
    public double Map(ReadOnlySpan<double> u, Span<FourVector> momenta)
    {
        PhaseSpaceVolume.CheckArguments(this, u, momenta);
        int n = Particles;
        double qe = 0, qx = 0, qy = 0, qz = 0;
        for (int i = 0; i < n; i++)
        {
            double c = 2 * u[4 * i] - 1, phi = 2 * Math.PI * u[4 * i + 1];
            // ρ₃ρ₄ = 0 would give an infinite energy: keep it on the smallest positive double's scale.
            double r = Math.Max(u[4 * i + 2] * u[4 * i + 3], double.Epsilon);
            double q0 = -Math.Log(r);
            var q = FourVector.FromPolar(q0, q0, Math.Clamp(c, -1.0, 1.0), phi);
            momenta[i] = q;
            qe += q.E; qx += q.Px; qy += q.Py; qz += q.Pz;
        }
        double m2 = qe * qe - qx * qx - qy * qy - qz * qz;
        if (!(m2 > 0) || double.IsInfinity(m2)) return 0.0;
        double m = Math.Sqrt(m2);
        double bx = -qx / m, by = -qy / m, bz = -qz / m;
        double gamma = qe / m, a = 1.0 / (1.0 + gamma), x = SqrtS / m;
        for (int i = 0; i < n; i++)
        {
            var q = momenta[i];
            double bq = bx * q.Px + by * q.Py + bz * q.Pz;
            double e = x * (gamma * q.E + bq);
            double c = q.E + a * bq;
            momenta[i] = new FourVector(e, x * (q.Px + bx * c), x * (q.Py + by * c), x * (q.Pz + bz * c));
        }
        return _weight;
    }
}
