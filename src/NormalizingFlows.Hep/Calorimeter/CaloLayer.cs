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
