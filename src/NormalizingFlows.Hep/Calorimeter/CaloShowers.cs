using NormalizingFlows.Data;

namespace NormalizingFlows.Hep.Calorimeter;

/// <summary>
/// A set of showers: <see cref="Count"/> rows of 504 voxel energies in GeV (<see cref="CaloGeometry"/> order) and the
/// incident energy of each in GeV. Simulated sets also carry the energy bookkeeping (what leaked out and what the
/// detector cannot see), so that E_inc = Σ voxels + leakage + invisible up to noise and threshold.
/// </summary>
public sealed class CaloShowers
{
    /// <summary>Wraps voxel energies [count·504] and incident energies [count].</summary>
    public CaloShowers(double[] voxels, double[] incidentEnergies, double[]? leakage = null, double[]? invisible = null)
    {
        ArgumentNullException.ThrowIfNull(voxels);
        ArgumentNullException.ThrowIfNull(incidentEnergies);
        if (voxels.Length != incidentEnergies.Length * CaloGeometry.Voxels)
            throw new ArgumentException($"{voxels.Length} voxel energies for {incidentEnergies.Length} showers of {CaloGeometry.Voxels} voxels");
        if (leakage is not null && leakage.Length != incidentEnergies.Length) throw new ArgumentException("one leakage value per shower expected", nameof(leakage));
        if (invisible is not null && invisible.Length != incidentEnergies.Length) throw new ArgumentException("one invisible-energy value per shower expected", nameof(invisible));
        Voxels = voxels;
        IncidentEnergies = incidentEnergies;
        Leakage = leakage;
        Invisible = invisible;
    }

    /// <summary>Number of showers.</summary>
    public int Count => IncidentEnergies.Length;

    /// <summary>Voxel energies in GeV, row-major [Count, 504].</summary>
    public double[] Voxels { get; }

    /// <summary>Incident energies in GeV.</summary>
    public double[] IncidentEnergies { get; }

    /// <summary>Energy that left the calorimeter (behind it or beside it), per shower, in GeV (simulated sets only).</summary>
    public double[]? Leakage { get; }

    /// <summary>Energy deposited invisibly (nuclear binding, neutrinos of hadronic showers), per shower, in GeV (simulated sets only).</summary>
    public double[]? Invisible { get; }

    /// <summary>The 504 voxels of shower <paramref name="index"/>.</summary>
    public ReadOnlySpan<double> Shower(int index) => Voxels.AsSpan(index * CaloGeometry.Voxels, CaloGeometry.Voxels);

    /// <summary>Energy in layer <paramref name="layer"/> of shower <paramref name="index"/> (GeV).</summary>
    public double LayerEnergy(int index, int layer)
    {
        var l = CaloGeometry.Layers[layer];
        double s = 0;
        foreach (double v in Voxels.AsSpan(index * CaloGeometry.Voxels + l.Offset, l.Voxels)) s += v;
        return s;
    }

    /// <summary>Total deposited energy of shower <paramref name="index"/> (GeV).</summary>
    public double TotalEnergy(int index)
    {
        double s = 0;
        foreach (double v in Shower(index)) s += v;
        return s;
    }

    /// <summary>The first <paramref name="count"/> showers.</summary>
    public CaloShowers Head(int count)
    {
        count = Math.Min(count, Count);
        return new CaloShowers(Voxels[..(count * CaloGeometry.Voxels)], IncidentEnergies[..count], Leakage?[..count], Invisible?[..count]);
    }

    /// <summary>A table of 505 columns: the voxels ("layer_l_r_c") and E_inc last.</summary>
    public Table ToTable()
    {
        int n = Count, w = CaloGeometry.Voxels + 1;
        var values = new double[n * w];
        for (int i = 0; i < n; i++)
        {
            Shower(i).CopyTo(values.AsSpan(i * w, CaloGeometry.Voxels));
            values[i * w + CaloGeometry.Voxels] = IncidentEnergies[i];
        }
        return new Table(CaloGeometry.ColumnNames(), values, n);
    }

    /// <summary>Reads a table of 505 columns (504 voxels, E_inc last), as written by <see cref="ToTable"/>.</summary>
    public static CaloShowers FromTable(Table table, string source = "<table>")
    {
        ArgumentNullException.ThrowIfNull(table);
        if (table.Cols != CaloGeometry.Voxels + 1)
            throw new DataFormatException(source, $"a shower file needs {CaloGeometry.Voxels + 1} columns (504 voxel energies, then E_inc), got {table.Cols}");
        int n = table.Rows, w = table.Cols;
        var voxels = new double[n * CaloGeometry.Voxels];
        var e = new double[n];
        for (int i = 0; i < n; i++)
        {
            table.Values.AsSpan(i * w, CaloGeometry.Voxels).CopyTo(voxels.AsSpan(i * CaloGeometry.Voxels));
            e[i] = table.Values[i * w + CaloGeometry.Voxels];
            if (!(e[i] > 0) || !double.IsFinite(e[i])) throw new DataFormatException(source, $"row {i}: incident energy {e[i]} must be positive and finite");
        }
        for (int k = 0; k < voxels.Length; k++)
            if (!double.IsFinite(voxels[k])) throw new DataFormatException(source, $"row {k / CaloGeometry.Voxels}: voxel {k % CaloGeometry.Voxels} is {voxels[k]}");
        return new CaloShowers(voxels, e);
    }

    /// <summary>Writes the showers as a float32 (or float64) .npy matrix [N, 505] (voxels, then E_inc), atomically.</summary>
    public void SaveNpy(string path, bool float64 = false) => Npy.Write(path, ToTable(), float64);

    /// <summary>Reads a .npy file written by <see cref="SaveNpy"/>.</summary>
    public static CaloShowers LoadNpy(string path) => FromTable(Npy.Read(path), path);
}
