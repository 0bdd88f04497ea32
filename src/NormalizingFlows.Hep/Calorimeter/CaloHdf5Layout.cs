namespace NormalizingFlows.Hep.Calorimeter;

/// <summary>The HDF5 layouts of calorimeter shower files.</summary>
public enum CaloHdf5Layout
{
    /// <summary>CaloGAN: <c>energy</c> [N, 1] in GeV and <c>layer_0</c> [N, 3, 96], <c>layer_1</c> [N, 12, 12], <c>layer_2</c> [N, 12, 6] in MeV.</summary>
    CaloGan,
    /// <summary>CaloChallenge: <c>incident_energies</c> [N, 1] and <c>showers</c> [N, 504], both in MeV.</summary>
    CaloChallenge,
}
