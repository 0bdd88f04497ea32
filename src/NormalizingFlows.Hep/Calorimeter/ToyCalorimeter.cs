using NormalizingFlows.Tensors;

namespace NormalizingFlows.Hep.Calorimeter;

/// <summary>
/// A parameterised shower simulator for the CaloGAN geometry (<see cref="CaloGeometry"/>), standing in for GEANT4:
/// particles enter at the centre, perpendicular, with E_inc uniform in [1, 100] GeV.
/// <para>
/// Electromagnetic showers (e⁺, γ): longitudinal profile dE/dt ∝ (bt)^(a−1) e^(−bt) (Longo–Sestili) with
/// t_max = (a − 1)/b = ln(E/E_c) + C, C = −0.5, b = 0.5, and correlated log-normal event-by-event fluctuations of a
/// and t_max (Grindhammer–Peters); photons first convert after an exponential depth of mean 9/7 X₀ (so they start
/// later, and some cross the first layer untouched) and have C = −0.3. π⁺: a minimum-ionising track (7 MeV per X₀
/// with Landau-like fluctuations) up to the first hadronic interaction at an exponential depth of mean λ, then an
/// electromagnetic fraction f_em (Groom's mean 1 − E^(−0.17), Beta-distributed event by event) showering like an
/// electron and a hadronic part with a long Gamma profile in units of λ, wider laterally, of which 40 % is invisible;
/// what lies beyond 21 X₀ leaks out the back.
/// </para>
/// <para>
/// Laterally each layer's energy is split into spots drawn from a core + halo profile
/// f(r) = p·2rR_c²/(r² + R_c²)² + (1 − p)·2rR_t²/(r² + R_t²)² whose radii grow with depth (hadronic parts: wider).
/// The number of spots is Poisson with mean E(k + 1)/(a²k) and each spot's energy is Gamma(k, a²/(k + 1)) distributed
/// (k = <see cref="ToyCalorimeterOptions.SpotShape"/>): a compound Poisson sum with mean E and σ/E = a/√E (sampling
/// fluctuations), whose voxel energies are continuous; spots outside the 480 mm block leak sideways. Then Gaussian noise is added to every voxel and voxels below the threshold read 0, so showers are
/// sparse. Each shower has its own random stream derived from the seed and its index: deterministic for a seed,
/// whatever the thread count.
/// </para>
/// </summary>
public sealed class ToyCalorimeter
{
    private const double MipPerX0 = 0.007;

    /// <summary>Creates the simulator.</summary>
    public ToyCalorimeter(ToyCalorimeterOptions? options = null)
    {
        Options = options ?? new ToyCalorimeterOptions();
        Options.Validate();
    }

    /// <summary>The settings.</summary>
    public ToyCalorimeterOptions Options { get; }

    /// <summary>Parses "eplus"/"e+", "gamma"/"photon", "piplus"/"pi+" (case-insensitive).</summary>
    public static CaloParticle ParseParticle(string name) => name.Trim().ToLowerInvariant() switch
    {
        "eplus" or "e+" or "positron" => CaloParticle.Positron,
        "gamma" or "photon" or "γ" => CaloParticle.Photon,
        "piplus" or "pi+" or "pion" or "π+" => CaloParticle.PiPlus,
        _ => throw new ArgumentException($"unknown particle '{name}': use eplus, gamma or piplus"),
    };

    /// <summary>The CaloGAN name of a particle (eplus, gamma, piplus).</summary>
    public static string ParticleName(CaloParticle particle) => particle switch
    {
        CaloParticle.Positron => "eplus",
        CaloParticle.Photon => "gamma",
        CaloParticle.PiPlus => "piplus",
        _ => throw new ArgumentOutOfRangeException(nameof(particle)),
    };

    /// <summary><paramref name="count"/> showers of <paramref name="particle"/> with E_inc uniform in the configured range.</summary>
    public CaloShowers Simulate(CaloParticle particle, int count, long seed)
    {
        if (count < 0) throw new ArgumentOutOfRangeException(nameof(count), count, "must be ≥ 0");
        var energies = new double[count];
        var rng = new Rng(unchecked(seed * 7919 + 17));
        for (int i = 0; i < count; i++) energies[i] = Options.MinEnergy + (Options.MaxEnergy - Options.MinEnergy) * rng.NextDouble();
        return Simulate(particle, energies, seed);
    }

    /// <summary>One shower of <paramref name="particle"/> per incident energy (GeV) in <paramref name="incidentEnergies"/>.</summary>
    public CaloShowers Simulate(CaloParticle particle, double[] incidentEnergies, long seed)
    {
        ArgumentNullException.ThrowIfNull(incidentEnergies);
        int n = incidentEnergies.Length;
        foreach (double e in incidentEnergies)
            if (!(e > 0) || !double.IsFinite(e)) throw new ArgumentException($"incident energies must be positive and finite, got {e}");
        var voxels = new double[n * CaloGeometry.Voxels];
        var leakage = new double[n];
        var invisible = new double[n];
        // showers are independent, each with its own generator seeded by its index: the same result for any thread count
        NormalizingFlows.Tensors.Kernels.ParallelRows.For(n, 64, (r0, r1) =>
        {
            for (int i = r0; i < r1; i++)
            {
                var rng = new Rng(unchecked(seed * 1_000_003 + i * -7046029254386353131L + (long)particle * 31));
                var shower = voxels.AsSpan(i * CaloGeometry.Voxels, CaloGeometry.Voxels);
                (leakage[i], invisible[i]) = SimulateOne(particle, incidentEnergies[i], rng, shower);
            }
        });
        return new CaloShowers(voxels, (double[])incidentEnergies.Clone(), leakage, invisible);
    }

    /// <summary>Simulates one shower into <paramref name="shower"/> (504 voxels); returns (leakage, invisible energy).</summary>
    private (double Leakage, double Invisible) SimulateOne(CaloParticle particle, double energy, Rng rng, Span<double> shower)
    {
        var layers = CaloGeometry.Layers;
        double leak = 0, invisible = 0;
        Span<double> share = stackalloc double[3];
        if (particle is CaloParticle.Positron or CaloParticle.Photon)
        {
            double start = particle == CaloParticle.Photon ? -9.0 / 7.0 * Math.Log(1 - rng.NextDouble()) : 0;
            leak += EmShower(energy, start, particle == CaloParticle.Photon ? -0.3 : -0.5, rng, shower, spread: 1.0);
        }
        else
        {
            double tInt = -Options.InteractionLength * Math.Log(1 - rng.NextDouble());
            double remaining = energy;
            // the minimum-ionising track up to the first interaction (or through the whole block)
            for (int l = 0; l < 3; l++)
            {
                double t0 = layers[l].DepthStart, t1 = Math.Min(layers[l].DepthEnd, tInt);
                if (t1 <= t0) continue;
                double mip = Math.Min(remaining, MipPerX0 * (t1 - t0) * Landau(rng));
                remaining -= mip;
                leak += Deposit(l, mip, 0.5, 3, 0.95, 0.05, rng, shower);
            }
            if (tInt >= CaloGeometry.Depth) leak += remaining; // punch-through
            else
            {
                double meanEm = Math.Clamp(1 - Math.Pow(Math.Max(remaining, 1.0), -0.17), 0.05, 0.9);
                const double concentration = 4.0;
                double fem = Beta(meanEm * concentration, (1 - meanEm) * concentration, rng);
                double em = fem * remaining, had = remaining - em;
                leak += EmShower(em, tInt, -0.5, rng, shower, spread: 1.3);
                // hadronic part: Gamma profile with shape 2 and scale 0.35 λ from the interaction point; 40 % invisible
                double a = 2.0, scale = 0.35 * Options.InteractionLength * Math.Exp(0.25 * rng.NextNormal());
                double before = 0;
                for (int l = 0; l < 3; l++)
                {
                    double upTo = SpecialFunctions.RegularizedGammaP(a, Math.Max(0, layers[l].DepthEnd - tInt) / scale);
                    share[l] = upTo - before;
                    before = upTo;
                }
                leak += had * (1 - before);
                for (int l = 0; l < 3; l++)
                {
                    double part = had * share[l];
                    invisible += 0.4 * part;
                    leak += Deposit(l, 0.6 * part, 60 * Math.Exp(0.2 * rng.NextNormal()), 200, 0.55, Options.HadronicStochasticTerm, rng, shower);
                }
            }
        }
        // electronics: noise everywhere, then the readout threshold
        for (int v = 0; v < shower.Length; v++)
        {
            double e = shower[v] + (Options.NoiseSigma > 0 ? Options.NoiseSigma * rng.NextNormal() : 0);
            shower[v] = e < Options.Threshold || e <= 0 ? 0 : e;
        }
        return (leak, invisible);
    }

    /// <summary>An electromagnetic shower of <paramref name="energy"/> starting at depth <paramref name="start"/> X₀; returns the energy leaked.</summary>
    private double EmShower(double energy, double start, double offset, Rng rng, Span<double> shower, double spread)
    {
        if (energy <= 0) return 0;
        var layers = CaloGeometry.Layers;
        double tmax = Math.Max(0.3, Math.Log(energy / Options.CriticalEnergy) + offset);
        const double b = 0.5;
        // correlated log-normal fluctuations of the shape (ρ = 0.7)
        double n1 = rng.NextNormal(), n2 = 0.7 * n1 + Math.Sqrt(1 - 0.49) * rng.NextNormal();
        tmax *= Math.Exp(0.12 * n1);
        double a = (1 + b * tmax) * Math.Exp(0.08 * n2);
        double leak = 0, before = 0;
        for (int l = 0; l < 3; l++)
        {
            double upTo = SpecialFunctions.RegularizedGammaP(a, b * Math.Max(0, layers[l].DepthEnd - start));
            double part = energy * (upTo - before);
            before = upTo;
            // lateral radii grow with depth relative to the shower maximum
            double mid = 0.5 * (layers[l].DepthStart + layers[l].DepthEnd) - start;
            double tau = Math.Max(0, mid) / (tmax + 1);
            double rc = spread * Options.MoliereRadius * (0.15 + 0.15 * tau);
            double rt = spread * Options.MoliereRadius * (0.7 + 0.5 * tau);
            double p = Math.Clamp(0.9 - 0.2 * tau, 0.45, 0.9);
            leak += Deposit(l, part, rc, rt, p, Options.StochasticTerm, rng, shower);
        }
        return leak + energy * (1 - before);
    }

    /// <summary>
    /// Spreads <paramref name="energy"/> over layer <paramref name="layer"/> in spots from the core + halo profile;
    /// returns the energy of the spots that fell outside the layer.
    /// </summary>
    private double Deposit(int layer, double energy, double coreRadius, double tailRadius, double coreFraction, double stochastic, Rng rng, Span<double> shower)
    {
        if (energy <= 0) return 0;
        var geometry = CaloGeometry.Layers[layer];
        double k = Options.SpotShape;
        int spots;
        double spotShape, spotScale; // every spot's energy is Gamma(spotShape, spotScale)
        if (Options.SamplingFluctuations && stochastic > 0)
        {
            // compound Poisson: Poisson(E/m) deposits of Gamma(k, θ) energy with m = kθ = a²k/(k + 1) has mean E and
            // variance (E/m)·kθ²(k + 1) = a²E, so σ/E = a/√E; beyond MaxSpotsPerLayer deposits are merged into
            // fewer spots of Gamma(k·drawn/spots, θ) energy, which leaves the sum's distribution Gamma(k·drawn, θ) unchanged
            double theta = stochastic * stochastic / (k + 1), mean = energy / (k * theta);
            int drawn = Poisson(mean, rng);
            if (drawn == 0) return 0; // the sampling layers saw nothing: the energy went into the absorber (part of the resolution)
            spots = Math.Min(drawn, Options.MaxSpotsPerLayer);
            spotShape = k * drawn / spots;
            spotScale = theta;
        }
        else
        {
            // no sampling fluctuations: exactly the layer's share, split among the spots in Gamma(k)-distributed parts
            spots = Math.Max(1, Math.Min(Options.MaxSpotsPerLayer, (int)Math.Ceiling(energy / 0.01)));
            spotShape = k;
            spotScale = double.NaN;
        }
        Span<double> spotEnergy = spots <= 2048 ? stackalloc double[spots] : new double[spots];
        double drawnSum = 0;
        for (int s = 0; s < spots; s++) drawnSum += spotEnergy[s] = GammaDraw(spotShape, rng);
        double factor = double.IsNaN(spotScale) ? energy / drawnSum : spotScale;
        double outside = 0;
        for (int s = 0; s < spots; s++)
        {
            double u = rng.NextDouble();
            double radius = rng.NextDouble() < coreFraction ? coreRadius : tailRadius;
            double r = radius * Math.Sqrt(u / (1 - u + 1e-12));
            double phi = 2 * Math.PI * rng.NextDouble();
            int v = geometry.VoxelAt(r * Math.Cos(phi), r * Math.Sin(phi));
            double e = spotEnergy[s] * factor;
            if (v < 0) outside += e;
            else shower[v] += e;
        }
        return outside;
    }

    private static double Landau(Rng rng) => Math.Exp(0.3 * rng.NextNormal() + 0.045); // a log-normal stand-in for the Landau tail, mean ≈ 1.09

    private static int Poisson(double mean, Rng rng)
    {
        if (mean > 40) return Math.Max(0, (int)Math.Round(mean + Math.Sqrt(mean) * rng.NextNormal()));
        double limit = Math.Exp(-mean), prod = rng.NextDouble();
        int k = 0;
        while (prod > limit) { prod *= rng.NextDouble(); k++; }
        return k;
    }

    /// <summary>A Beta(α, β) draw from two Gamma draws.</summary>
    private static double Beta(double alpha, double beta, Rng rng)
    {
        double x = GammaDraw(alpha, rng), y = GammaDraw(beta, rng);
        return x / (x + y);
    }

    /// <summary>Marsaglia–Tsang Gamma(shape, 1) draw (shape &lt; 1 by the boost u^(1/shape)).</summary>
    private static double GammaDraw(double shape, Rng rng)
    {
        if (shape < 1) return GammaDraw(shape + 1, rng) * Math.Pow(rng.NextDouble(), 1 / shape);
        double d = shape - 1.0 / 3, c = 1 / Math.Sqrt(9 * d);
        while (true)
        {
            double x = rng.NextNormal(), v = 1 + c * x;
            if (v <= 0) continue;
            v = v * v * v;
            double u = rng.NextDouble();
            if (Math.Log(u) < 0.5 * x * x + d - d * v + d * Math.Log(v)) return d * v;
        }
    }
}
