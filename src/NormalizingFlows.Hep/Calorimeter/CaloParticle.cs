namespace NormalizingFlows.Hep.Calorimeter;

/// <summary>The particle species of the CaloGAN data sets.</summary>
public enum CaloParticle
{
    /// <summary>Positron.</summary>
    Positron,
    /// <summary>Photon.</summary>
    Photon,
    /// <summary>Positive pion.</summary>
    PiPlus,
}
