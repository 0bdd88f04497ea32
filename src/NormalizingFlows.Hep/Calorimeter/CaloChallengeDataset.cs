namespace NormalizingFlows.Hep.Calorimeter;

/// <summary>
/// The voxel geometry of a CaloChallenge 2022 data set: its binning file's non-empty layers with their radial bin
/// edges (mm) and angular bin counts. A shower is a flat row of <see cref="Voxels"/> energies, layer after layer.
/// </summary>
public sealed class CaloChallengeDataset
{
    private CaloChallengeDataset(string name, params (int Id, double[] RadialEdges, int Angular)[] layers)
    {
        Name = name;
        var list = new List<CaloChallengeLayer>();
        int offset = 0;
        foreach (var (id, edges, a) in layers)
        {
            var layer = new CaloChallengeLayer(id, edges, a, offset);
            list.Add(layer);
            offset += layer.Voxels;
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
        new("dataset 1 photons",
            (0, [0, 5, 10, 30, 50, 100, 200, 400, 600], 1),
            (1, [0, 2, 4, 6, 8, 10, 12, 15, 20, 30, 40, 50, 70, 90, 120, 150, 200], 10),
            (2, [0, 2, 5, 10, 15, 20, 25, 30, 40, 50, 60, 80, 100, 130, 160, 200, 250, 300, 350, 400], 10),
            (3, [0, 50, 100, 200, 400, 600], 1),
            (12, [0, 100, 200, 400, 1000, 2000], 1));

    /// <summary>Data set 1, pions: layers 0, 1, 2, 3, 12, 13, 14 with 8×1, 10×10, 10×10, 5×1, 15×10, 16×10, 10×1 bins (533 voxels).</summary>
    public static CaloChallengeDataset Dataset1Pions { get; } =
        new("dataset 1 pions",
            (0, [0, 5, 10, 30, 50, 100, 200, 400, 600], 1),
            (1, [0, 1, 4, 7, 10, 15, 30, 50, 90, 150, 200], 10),
            (2, [0, 5, 10, 20, 30, 50, 80, 130, 200, 300, 400], 10),
            (3, [0, 50, 100, 200, 400, 600], 1),
            (12, [0, 10, 20, 30, 50, 80, 100, 130, 160, 200, 250, 300, 350, 400, 1000, 2000], 10),
            (13, [0, 10, 20, 30, 50, 80, 100, 130, 160, 200, 250, 300, 350, 400, 600, 1000, 2000], 10),
            (14, [0, 50, 100, 150, 200, 250, 300, 400, 600, 1000, 2000], 1));

    /// <summary>Data set 2, electrons: 45 layers of 9 radial bins of 4.65 mm × 16 angular bins (6480 voxels).</summary>
    public static CaloChallengeDataset Dataset2 { get; } =
        new("dataset 2 electrons", Enumerable.Range(0, 45).Select(l => (l, UniformEdges(9, 4.65), 16)).ToArray());

    /// <summary>Data set 3, electrons: 45 layers of 18 radial bins of 2.325 mm × 50 angular bins (40500 voxels).</summary>
    public static CaloChallengeDataset Dataset3 { get; } =
        new("dataset 3 electrons", Enumerable.Range(0, 45).Select(l => (l, UniformEdges(18, 2.325), 50)).ToArray());

    private static double[] UniformEdges(int bins, double width) => Enumerable.Range(0, bins + 1).Select(k => k * width).ToArray();

    /// <summary>The known geometries.</summary>
    public static IReadOnlyList<CaloChallengeDataset> All { get; } = [Dataset1Photons, Dataset1Pions, Dataset2, Dataset3];

    /// <summary>The known geometry with <paramref name="voxels"/> voxels per shower, or null.</summary>
    public static CaloChallengeDataset? WithVoxels(int voxels) => All.FirstOrDefault(d => d.Voxels == voxels);

    /// <inheritdoc/>
    public override string ToString() => $"{Name} ({Voxels} voxels)";
}
