namespace NormalizingFlows.Hep.Calorimeter;

/// <summary>
/// The CaloGAN calorimeter (Paganini, de Oliveira, Nachman 2017): a 480 × 480 mm lead/liquid-argon block of three
/// layers read out as 3 × 96 strips (160 × 5 mm, 3 X₀ deep), 12 × 12 cells (40 × 40 mm, 16 X₀) and 12 × 6 cells
/// (40 × 80 mm, 2 X₀): 504 voxels, flattened layer by layer, row-major within a layer.
/// </summary>
public static class CaloGeometry
{
    /// <summary>The three layers.</summary>
    public static IReadOnlyList<CaloLayer> Layers { get; } =
    [
        new CaloLayer(3, 96, 160, 5, 0, 3, 0),
        new CaloLayer(12, 12, 40, 40, 3, 19, 288),
        new CaloLayer(12, 6, 40, 80, 19, 21, 432),
    ];

    /// <summary>Voxels in all (504).</summary>
    public const int Voxels = 504;

    /// <summary>Total depth in X₀.</summary>
    public const double Depth = 21;

    /// <summary>The layer of flattened voxel <paramref name="voxel"/>.</summary>
    public static int LayerOf(int voxel) => voxel < 288 ? 0 : voxel < 432 ? 1 : 2;

    /// <summary>Column names of a shower table: "layer_0_r_c" … and the last one "E_inc".</summary>
    public static string[] ColumnNames()
    {
        var names = new List<string>(Voxels + 1);
        for (int l = 0; l < 3; l++)
        {
            var layer = Layers[l];
            for (int r = 0; r < layer.Rows; r++)
                for (int c = 0; c < layer.Columns; c++) names.Add($"layer_{l}_{r}_{c}");
        }
        names.Add("E_inc");
        return names.ToArray();
    }
}
