namespace NormalizingFlows.Hep.Calorimeter;

/// <summary>
/// The voxel geometry of a CaloChallenge 2022 data set (its binning file reduced to the layer ids and the radial ×
/// angular bin counts; the bin edges are not carried). A shower is a flat row of <see cref="Voxels"/> energies,
/// layer after layer.
/// </summary>
public sealed class CaloChallengeDataset
{
    private CaloChallengeDataset(string name, params (int Id, int Radial, int Angular)[] layers)
    {
        Name = name;
        var list = new List<CaloChallengeLayer>();
        int offset = 0;
        foreach (var (id, r, a) in layers)
        {
            list.Add(new CaloChallengeLayer(id, r, a, offset));
            offset += r * a;
        }
        Layers = list;
        Voxels = offset;
    }

    /// <summary>A short name, e.g. "dataset 1 photons".</summary>
    public string Name { get; }

    /// <summary>The non-empty layers, in voxel order.</summary>
    public IReadOnlyList<CaloChallengeLayer> Layers { get; }

    /// <summary>Voxels per shower.</summary>
    public int Voxels { get; }

    /// <summary>Data set 1, photons: layers 0, 1, 2, 3, 12 with 8×1, 16×10, 19×10, 5×1, 5×1 bins (368 voxels).</summary>
    public static CaloChallengeDataset Dataset1Photons { get; } =
        new("dataset 1 photons", (0, 8, 1), (1, 16, 10), (2, 19, 10), (3, 5, 1), (12, 5, 1));

    /// <summary>Data set 1, pions: layers 0, 1, 2, 3, 12, 13, 14 with 8×1, 10×10, 10×10, 5×1, 15×10, 16×10, 10×1 bins (533 voxels).</summary>
    public static CaloChallengeDataset Dataset1Pions { get; } =
        new("dataset 1 pions", (0, 8, 1), (1, 10, 10), (2, 10, 10), (3, 5, 1), (12, 15, 10), (13, 16, 10), (14, 10, 1));

    /// <summary>Data set 2, electrons: 45 layers of 9×16 bins (6480 voxels).</summary>
    public static CaloChallengeDataset Dataset2 { get; } =
        new("dataset 2 electrons", Enumerable.Range(0, 45).Select(l => (l, 9, 16)).ToArray());

    /// <summary>Data set 3, electrons: 45 layers of 18×50 bins (40500 voxels).</summary>
    public static CaloChallengeDataset Dataset3 { get; } =
        new("dataset 3 electrons", Enumerable.Range(0, 45).Select(l => (l, 18, 50)).ToArray());

    /// <summary>The known geometries.</summary>
    public static IReadOnlyList<CaloChallengeDataset> All { get; } = [Dataset1Photons, Dataset1Pions, Dataset2, Dataset3];

    /// <summary>The known geometry with <paramref name="voxels"/> voxels per shower, or null.</summary>
    public static CaloChallengeDataset? WithVoxels(int voxels) => All.FirstOrDefault(d => d.Voxels == voxels);

    /// <inheritdoc/>
    public override string ToString() => $"{Name} ({Voxels} voxels)";
}
