using NormalizingFlows.Hep.Evaluation;

namespace NormalizingFlows.Hep.Calorimeter;

/// <summary>
/// The CaloChallenge metrics of one generated sample against a reference (see <see cref="CaloEvaluation.Metrics(string, CaloHighLevelFeatures, CaloHighLevelFeatures, PhysicsDistanceOptions?, int)"/>):
/// the separation power of every high-level feature's histogram, the Fréchet and kernel physics distances of the
/// high-level features and, where run, the classifier tests on high-level and low-level inputs.
/// </summary>
/// <param name="Name">The generated sample's name.</param>
/// <param name="SeparationPowers">Per feature of <see cref="CaloHighLevelFeatures.Names"/>, in that order.</param>
/// <param name="Fpd">Fréchet physics distance of the high-level features.</param>
/// <param name="Kpd">Kernel physics distance of the high-level features.</param>
public sealed record CaloMetrics(string Name, IReadOnlyList<(string Feature, double SeparationPower)> SeparationPowers, DistanceEstimate Fpd, DistanceEstimate Kpd)
{
    /// <summary>The classifier test on the challenge's high-level inputs (<see cref="CaloEvaluation.HighLevelTest"/>), if run.</summary>
    public TwoSampleVerdict? HighLevel { get; init; }

    /// <summary>The classifier test on the voxels (log₁₀(E_voxel/E_inc + 10⁻⁸) and log₁₀ E_inc), if run.</summary>
    public TwoSampleVerdict? LowLevel { get; init; }
}
