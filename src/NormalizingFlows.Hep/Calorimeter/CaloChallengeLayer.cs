namespace NormalizingFlows.Hep.Calorimeter;

/// <summary>
/// One non-empty layer of a CaloChallenge geometry: ATLAS sampling layer <paramref name="Id"/> binned in
/// <paramref name="RadialBins"/> × <paramref name="AngularBins"/> (r outer, α inner, as in the challenge's voxel order),
/// starting at voxel <paramref name="Offset"/> of a shower.
/// </summary>
public sealed record CaloChallengeLayer(int Id, int RadialBins, int AngularBins, int Offset)
{
    /// <summary>Number of voxels in the layer.</summary>
    public int Voxels => RadialBins * AngularBins;
}
