namespace NormalizingFlows.Hep.Calorimeter;

/// <summary>
/// One non-empty layer of a CaloChallenge geometry: ATLAS sampling layer <see cref="Id"/> binned in
/// <see cref="RadialBins"/> × <see cref="AngularBins"/>, starting at voxel <see cref="Offset"/> of a shower. Voxels run
/// α outer, r inner (voxel k of the layer is radial bin k mod R of angular bin k div R), as the challenge's binning
/// handler orders them.
/// </summary>
public sealed class CaloChallengeLayer
{
    private readonly double[] _radialEdges;

    /// <summary>
    /// Layer <paramref name="id"/> with the radial bin edges <paramref name="radialEdges"/> (mm, increasing, at least
    /// two: the bins are the intervals between them) and <paramref name="angularBins"/> angular bins, from voxel
    /// <paramref name="offset"/>.
    /// </summary>
    public CaloChallengeLayer(int id, IReadOnlyList<double> radialEdges, int angularBins, int offset)
    {
        ArgumentNullException.ThrowIfNull(radialEdges);
        if (radialEdges.Count < 2)
            throw new ArgumentException($"layer {id}: {radialEdges.Count} radial edge(s); a layer needs at least two (one bin)", nameof(radialEdges));
        for (int r = 0; r + 1 < radialEdges.Count; r++)
            if (!(radialEdges[r] < radialEdges[r + 1]) || !double.IsFinite(radialEdges[r + 1]) || !double.IsFinite(radialEdges[r]))
                throw new ArgumentException($"layer {id}: radial edges must be finite and increasing, but edge {r} is {radialEdges[r]} and edge {r + 1} is {radialEdges[r + 1]}", nameof(radialEdges));
        if (angularBins < 1) throw new ArgumentOutOfRangeException(nameof(angularBins), angularBins, $"layer {id}: needs at least one angular bin");
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        Id = id;
        _radialEdges = [.. radialEdges];
        AngularBins = angularBins;
        Offset = offset;
    }

    /// <summary>The ATLAS sampling layer number.</summary>
    public int Id { get; }

    /// <summary>The radial bin edges in mm (<see cref="RadialBins"/> + 1 increasing values from the binning file).</summary>
    public IReadOnlyList<double> RadialEdges => _radialEdges;

    /// <summary>Radial bins: one fewer than <see cref="RadialEdges"/>.</summary>
    public int RadialBins => _radialEdges.Length - 1;

    /// <summary>Angular bins (1: the layer has no angular resolution).</summary>
    public int AngularBins { get; }

    /// <summary>Index of the layer's first voxel in a shower.</summary>
    public int Offset { get; }

    /// <summary>Number of voxels in the layer.</summary>
    public int Voxels => RadialBins * AngularBins;

    /// <summary>
    /// The voxel centres in the layer's plane in mm, as the challenge computes them: x = r cos α ("η"), y = r sin α
    /// ("φ") with r the middle of the radial bin and α the middle of the angular bin in [−π, π).
    /// </summary>
    public (double[] X, double[] Y) VoxelCentres()
    {
        var x = new double[Voxels];
        var y = new double[Voxels];
        for (int a = 0; a < AngularBins; a++)
        {
            double alpha = -Math.PI + (a + 0.5) * 2 * Math.PI / AngularBins;
            for (int r = 0; r < RadialBins; r++)
            {
                double radius = _radialEdges[r] + (_radialEdges[r + 1] - _radialEdges[r]) / 2;
                x[a * RadialBins + r] = radius * Math.Cos(alpha);
                y[a * RadialBins + r] = radius * Math.Sin(alpha);
            }
        }
        return (x, y);
    }
}
