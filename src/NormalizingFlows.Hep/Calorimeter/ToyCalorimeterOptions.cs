namespace NormalizingFlows.Hep.Calorimeter;

/// <summary>Settings of <see cref="ToyCalorimeter"/> (energies in GeV, lengths in mm or radiation lengths X₀).</summary>
public sealed record ToyCalorimeterOptions
{
    /// <summary>Lowest incident energy (E_inc is uniform in [min, max]).</summary>
    public double MinEnergy { get; init; } = 1;

    /// <summary>Highest incident energy.</summary>
    public double MaxEnergy { get; init; } = 100;

    /// <summary>Critical energy E_c of the absorber (lead: 7.4 MeV).</summary>
    public double CriticalEnergy { get; init; } = 0.0074;

    /// <summary>Molière radius of the sampling calorimeter in mm.</summary>
    public double MoliereRadius { get; init; } = 20;

    /// <summary>Nuclear interaction length in X₀ (the 21 X₀ block is about 0.85 λ deep: pions often punch through).</summary>
    public double InteractionLength { get; init; } = 25;

    /// <summary>Stochastic term a of the electromagnetic resolution σ/E = a/√E (sampling fluctuations).</summary>
    public double StochasticTerm { get; init; } = 0.10;

    /// <summary>Stochastic term of the hadronic deposits (clumpier: larger spots).</summary>
    public double HadronicStochasticTerm { get; init; } = 0.45;

    /// <summary>Simulate sampling fluctuations (Poisson-distributed numbers of energy spots with Gamma-distributed energies); off: each layer gets exactly its share.</summary>
    public bool SamplingFluctuations { get; init; } = true;

    /// <summary>Gaussian electronic noise per voxel (GeV).</summary>
    public double NoiseSigma { get; init; } = 0.0005;

    /// <summary>Readout threshold: voxels below it read 0 (GeV).</summary>
    public double Threshold { get; init; } = 0.002;

    /// <summary>
    /// Gamma shape k of the energy of one spot (1: exponential). Spot energies are continuous, so voxel energies carry no
    /// per-shower lattice; the spots' mean energy a²k/(k + 1) keeps σ/E = a/√E for any k.
    /// </summary>
    public double SpotShape { get; init; } = 4;

    /// <summary>Most energy spots drawn per layer and shower component (beyond it, fewer heavier spots carry the same energy).</summary>
    public int MaxSpotsPerLayer { get; init; } = 1500;

    /// <summary>Throws an <see cref="ArgumentException"/> naming the bad setting.</summary>
    public void Validate()
    {
        if (!(MinEnergy > 0) || !(MaxEnergy >= MinEnergy)) throw new ArgumentException($"energy range [{MinEnergy}, {MaxEnergy}] GeV must be positive and ordered");
        if (!(CriticalEnergy > 0)) throw new ArgumentException($"critical energy must be > 0, got {CriticalEnergy}");
        if (!(MoliereRadius > 0)) throw new ArgumentException($"Molière radius must be > 0, got {MoliereRadius}");
        if (!(InteractionLength > 0)) throw new ArgumentException($"interaction length must be > 0, got {InteractionLength}");
        if (StochasticTerm < 0 || HadronicStochasticTerm < 0) throw new ArgumentException("stochastic terms must be ≥ 0");
        if (NoiseSigma < 0) throw new ArgumentException($"noise must be ≥ 0, got {NoiseSigma}");
        if (Threshold < 0) throw new ArgumentException($"threshold must be ≥ 0, got {Threshold}");
        if (!(SpotShape > 0) || !double.IsFinite(SpotShape)) throw new ArgumentException($"SpotShape must be positive and finite, got {SpotShape}");
        if (MaxSpotsPerLayer < 1) throw new ArgumentException($"MaxSpotsPerLayer must be ≥ 1, got {MaxSpotsPerLayer}");
    }
}
