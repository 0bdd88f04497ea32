namespace NormalizingFlows.Hep.Calorimeter;

/// <summary>
/// Showers of a CaloChallenge data set: <see cref="Voxels"/> row-major [N, <see cref="CaloChallengeDataset.Voxels"/>]
/// and <see cref="IncidentEnergies"/> [N], both in GeV (the files hold MeV).
/// </summary>
public sealed class CaloChallengeShowers
{
    /// <summary>Creates the set; the array lengths are checked against <paramref name="dataset"/>.</summary>
    public CaloChallengeShowers(CaloChallengeDataset dataset, double[] voxels, double[] incidentEnergies)
    {
        ArgumentNullException.ThrowIfNull(dataset);
        ArgumentNullException.ThrowIfNull(voxels);
        ArgumentNullException.ThrowIfNull(incidentEnergies);
        if (voxels.Length != incidentEnergies.Length * dataset.Voxels)
            throw new ArgumentException($"{voxels.Length} voxel values for {incidentEnergies.Length} showers of {dataset} (expected {incidentEnergies.Length * dataset.Voxels})", nameof(voxels));
        Dataset = dataset;
        Voxels = voxels;
        IncidentEnergies = incidentEnergies;
    }

    /// <summary>The geometry.</summary>
    public CaloChallengeDataset Dataset { get; }

    /// <summary>Voxel energies in GeV, shower after shower.</summary>
    public double[] Voxels { get; }

    /// <summary>Incident energies in GeV.</summary>
    public double[] IncidentEnergies { get; }

    /// <summary>Number of showers.</summary>
    public int Count => IncidentEnergies.Length;

    /// <summary>The first <paramref name="count"/> showers (all when there are fewer).</summary>
    public CaloChallengeShowers Head(int count)
    {
        count = Math.Clamp(count, 0, Count);
        return new CaloChallengeShowers(Dataset, Voxels[..(count * Dataset.Voxels)], IncidentEnergies[..count]);
    }

    /// <summary>The voxels of shower <paramref name="index"/>.</summary>
    public ReadOnlySpan<double> Shower(int index) => Voxels.AsSpan(index * Dataset.Voxels, Dataset.Voxels);

    /// <summary>Energy (GeV) deposited in layer position <paramref name="layer"/> (an index into <see cref="CaloChallengeDataset.Layers"/>) by shower <paramref name="index"/>.</summary>
    public double LayerEnergy(int index, int layer)
    {
        var l = Dataset.Layers[layer];
        double sum = 0;
        foreach (var v in Shower(index).Slice(l.Offset, l.Voxels)) sum += v;
        return sum;
    }
}
