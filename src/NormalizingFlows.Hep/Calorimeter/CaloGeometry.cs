namespace NormalizingFlows.Hep.Calorimeter;

/// <summary>One readout layer: a grid of <see cref="Rows"/> × <see cref="Columns"/> voxels of the given size, at the given depth.</summary>
/// <param name="Rows">Voxel rows (along y).</param>
/// <param name="Columns">Voxel columns (along x).</param>
/// <param name="CellHeight">Voxel size along y in mm.</param>
/// <param name="CellWidth">Voxel size along x in mm.</param>
/// <param name="DepthStart">Front face in radiation lengths X₀.</param>
/// <param name="DepthEnd">Back face in radiation lengths X₀.</param>
/// <param name="Offset">Index of the layer's first voxel in the flattened shower.</param>
public sealed record CaloLayer(int Rows, int Columns, double CellHeight, double CellWidth, double DepthStart, double DepthEnd, int Offset)
{
    /// <summary>Voxels in the layer.</summary>
    public int Voxels => Rows * Columns;

    /// <summary>Thickness in X₀.</summary>
    public double Thickness => DepthEnd - DepthStart;

    /// <summary>x of the centre of column <paramref name="column"/> in mm (the beam hits x = y = 0, the middle of the layer).</summary>
    public double ColumnCentre(int column) => (column + 0.5 - Columns / 2.0) * CellWidth;

    /// <summary>y of the centre of row <paramref name="row"/> in mm.</summary>
    public double RowCentre(int row) => (row + 0.5 - Rows / 2.0) * CellHeight;

    /// <summary>The voxel (flattened index) hit at (x, y) in mm, or −1 outside the layer.</summary>
    public int VoxelAt(double x, double y)
    {
        double cx = x / CellWidth + Columns / 2.0, cy = y / CellHeight + Rows / 2.0;
        if (!(cx >= 0 && cx < Columns && cy >= 0 && cy < Rows)) return -1;
        return Offset + (int)cy * Columns + (int)cx;
    }
}

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
