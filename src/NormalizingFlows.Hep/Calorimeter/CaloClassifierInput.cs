namespace NormalizingFlows.Hep.Calorimeter;

/// <summary>The inputs of the calorimeter classifier tests (each a separate two-sample test).</summary>
public enum CaloClassifierInput
{
    /// <summary>The 504 voxel energies (GeV) and E_inc: "unnormalised" in CaloFlow.</summary>
    Raw,

    /// <summary>The 504 voxels divided by their layer energy, log₁₀(E_i + 1 MeV) of the three layers and log₁₀ E_inc: "normalised" in CaloFlow.</summary>
    LayerNormalised,

    /// <summary>CaloChallenge-style: log₁₀(E_voxel/E_inc + 10⁻⁸) of the 504 voxels and log₁₀ E_inc.</summary>
    LogNormalised,

    /// <summary>
    /// The high-level features of <see cref="CaloObservables"/>: log₁₀ E_inc, E_dep/E_inc, log₁₀(E_i + 1 MeV),
    /// E_i/E_dep, hit fraction (sparsity), centroids x and y and lateral widths per layer, shower depth and its width
    /// (22 features). Not the CaloChallenge's high-level classifier input (<see cref="CaloEvaluation.HighLevelTest"/>).
    /// </summary>
    HighLevel,
}
