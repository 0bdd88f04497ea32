namespace NormalizingFlows.Hep.Calorimeter;

/// <summary>
/// One non-empty layer of a CaloChallenge geometry: ATLAS sampling layer <paramref name="Id"/> binned in
/// <paramref name="RadialBins"/> × <paramref name="AngularBins"/>, starting at voxel <paramref name="Offset"/> of a
/// shower. Voxels run α outer, r inner (voxel k of the layer is radial bin k mod R of angular bin k div R), as the
/// challenge's binning handler orders them.
/// </summary>
public sealed record CaloChallengeLayer(int Id, int RadialBins, int AngularBins, int Offset)
{
    /// <summary>Number of voxels in the layer.</summary>
    public int Voxels => RadialBins * AngularBins;

    /// <summary>The radial bin edges in mm (<see cref="RadialBins"/> + 1 values from the binning file).</summary>
    public IReadOnlyList<double> RadialEdges { get; init; } = [];

    /// <summary>
    /// The voxel centres in the layer's plane in mm, as the challenge computes them: x = r cos α ("η"), y = r sin α
    /// ("φ") with r the middle of the radial bin and α the middle of the angular bin in [−π, π).
    /// </summary>
    public (double[] X, double[] Y) VoxelCentres()
    {
        if (RadialEdges.Count != RadialBins + 1)
            throw new InvalidOperationException($"layer {Id} has {RadialEdges.Count} radial edges for {RadialBins} bins");
        var x = new double[Voxels];
        var y = new double[Voxels];
        for (int a = 0; a < AngularBins; a++)
        {
            double alpha = -Math.PI + (a + 0.5) * 2 * Math.PI / AngularBins;
            for (int r = 0; r < RadialBins; r++)
            {
                double radius = RadialEdges[r] + (RadialEdges[r + 1] - RadialEdges[r]) / 2;
                x[a * RadialBins + r] = radius * Math.Cos(alpha);
                y[a * RadialBins + r] = radius * Math.Sin(alpha);
            }
        }
        return (x, y);
    }
}
