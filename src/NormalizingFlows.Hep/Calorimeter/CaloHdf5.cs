using System.Globalization;
using NormalizingFlows.Data;
using NormalizingFlows.IO;
using PureHDF;
using PureHDF.Filters;
using PureHDF.VOL.Native;

namespace NormalizingFlows.Hep.Calorimeter;

/// <summary>
/// Reads and writes shower files in the CaloGAN and CaloChallenge HDF5 layouts with the managed PureHDF library (no
/// native HDF5 needed). Datasets may be float32 or float64, contiguous, compact or chunked, gzip (deflate) compressed
/// or not; writes are float32, uncompressed or deflate-compressed. Energies inside this project are in GeV; the files
/// use the layouts' units (see <see cref="CaloHdf5Layout"/>). Every error names the file and, where one is at fault,
/// the dataset.
/// </summary>
public static class CaloHdf5
{
    private const int RowsPerChunk = 1024;

    /// <summary>True when <paramref name="path"/> names an HDF5 file by its extension (.h5, .hdf5, .hdf).</summary>
    public static bool IsHdf5Path(string path) =>
        Path.GetExtension(path).ToLowerInvariant() is ".h5" or ".hdf5" or ".hdf";

    /// <summary>
    /// Reads CaloGAN-geometry showers (504 voxels) from a CaloGAN file or a CaloChallenge-layout file holding them;
    /// the layout is detected from the dataset names. A CaloChallenge data set of another geometry is refused with
    /// a message pointing to <see cref="ReadChallenge"/>.
    /// </summary>
    public static CaloShowers Read(string path) => WithFile(path, file =>
    {
        if (!IsChallenge(file)) return ReadCaloGan(file, path);
        var (s, e, _) = ReadChallengeArrays(file, path, CaloGeometry.Voxels);
        return Validated(path, s, e);
    });

    /// <summary>
    /// Reads a CaloChallenge file (<c>incident_energies</c> [N, 1] and <c>showers</c> [N, voxels] in MeV). The geometry
    /// is <paramref name="expected"/> when given (the voxel count must match), else the known data set with that
    /// voxel count (<see cref="CaloChallengeDataset.All"/>).
    /// </summary>
    public static CaloChallengeShowers ReadChallenge(string path, CaloChallengeDataset? expected = null) => WithFile(path, file =>
    {
        if (!IsChallenge(file))
            throw new DataFormatException(path, $"dataset '{(file.LinkExists("showers") ? "incident_energies" : "showers")}' is missing (CaloChallenge layout: incident_energies, showers)");
        var (s, e, voxels) = ReadChallengeArrays(file, path, expected?.Voxels);
        return Challenge(path, expected ?? Known(path, voxels, ""), s, e);
    });

    /// <summary>
    /// Reads showers of either geometry, opening the file once: toy CaloGAN showers (<see cref="CaloGeometry"/>: the
    /// CaloGAN layout, or the CaloChallenge layout with 504 voxels per shower) or a known CaloChallenge data set (the
    /// CaloChallenge layout with that data set's voxel count). Exactly one of the two results is set.
    /// </summary>
    public static (CaloShowers? Toy, CaloChallengeShowers? Challenge) ReadAnyGeometry(string path) => WithFile<(CaloShowers?, CaloChallengeShowers?)>(path, file =>
    {
        if (!IsChallenge(file)) return (ReadCaloGan(file, path), null);
        var (s, e, voxels) = ReadChallengeArrays(file, path, null);
        if (voxels == CaloGeometry.Voxels) return (Validated(path, s, e), null);
        return (null, Challenge(path, Known(path, voxels, $" or the toy CaloGAN geometry ({CaloGeometry.Voxels} voxels)"), s, e));
    });

    /// <summary>The CaloGAN layout (energy in GeV, layer_0..2 in MeV) as toy showers.</summary>
    private static CaloShowers ReadCaloGan(IH5Group file, string path)
    {
        if (!(file.LinkExists("energy") && file.LinkExists("layer_0")))
            throw new DataFormatException(path, "neither the CaloGAN layout (energy, layer_0, layer_1, layer_2) nor the CaloChallenge layout (incident_energies, showers) was found");
        var (e, en) = ReadDataset(file, "energy", path);
        if (en.Length == 2) CheckShape(path, "energy", en, [-1, 1]);
        else CheckShape(path, "energy", en, [-1]);
        int n = (int)en[0];
        var voxels = new double[n * CaloGeometry.Voxels];
        for (int l = 0; l < 3; l++)
        {
            var g = CaloGeometry.Layers[l];
            string name = $"layer_{l}";
            if (!file.LinkExists(name)) throw new DataFormatException(path, $"dataset '{name}' is missing (CaloGAN layout: energy, layer_0, layer_1, layer_2)");
            var (v, vn) = ReadDataset(file, name, path);
            CheckShape(path, name, vn, [n, g.Rows, g.Columns]);
            for (int i = 0; i < n; i++)
                for (int k = 0; k < g.Voxels; k++) voxels[i * CaloGeometry.Voxels + g.Offset + k] = v[i * g.Voxels + k] / 1000;
        }
        return Validated(path, voxels, e);
    }

    /// <summary>The known data set with <paramref name="voxels"/> voxels per shower, else an error naming the file and the known geometries (and <paramref name="alsoKnown"/>).</summary>
    private static CaloChallengeDataset Known(string path, int voxels, string alsoKnown) =>
        CaloChallengeDataset.WithVoxels(voxels) ?? throw new DataFormatException(path,
            $"dataset 'showers' has {voxels} voxels per shower, which is none of the known geometries ({string.Join(", ", CaloChallengeDataset.All)}){alsoKnown}");

    private static CaloChallengeShowers Challenge(string path, CaloChallengeDataset dataset, double[] showers, double[] energies)
    {
        Validated(path, showers, energies, dataset.Voxels);
        return new CaloChallengeShowers(dataset, showers, energies);
    }

    /// <summary>
    /// Writes <paramref name="showers"/> in <paramref name="layout"/> as float32 datasets, deflate-compressed when
    /// <paramref name="compress"/>, atomically (<see cref="AtomicFile.WriteVia"/>).
    /// </summary>
    public static void Write(string path, CaloShowers showers, CaloHdf5Layout layout = CaloHdf5Layout.CaloGan, bool compress = false)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(showers);
        int n = showers.Count;
        var file = new H5File();
        if (layout == CaloHdf5Layout.CaloChallenge)
        {
            file["incident_energies"] = Dataset(showers.IncidentEnergies, 1000, [n, 1], compress);
            file["showers"] = Dataset(showers.Voxels, 1000, [n, CaloGeometry.Voxels], compress);
        }
        else
        {
            file["energy"] = Dataset(showers.IncidentEnergies, 1, [n, 1], compress);
            for (int l = 0; l < 3; l++)
            {
                var g = CaloGeometry.Layers[l];
                var v = new double[n * g.Voxels];
                for (int i = 0; i < n; i++)
                    for (int k = 0; k < g.Voxels; k++) v[i * g.Voxels + k] = showers.Voxels[i * CaloGeometry.Voxels + g.Offset + k];
                file[$"layer_{l}"] = Dataset(v, 1000, [n, g.Rows, g.Columns], compress);
            }
        }
        AtomicFile.WriteVia(path, tmp => file.Write(tmp));
    }

    /// <summary>Writes <paramref name="showers"/> in the CaloChallenge layout (float32, MeV), deflate-compressed when <paramref name="compress"/>, atomically.</summary>
    public static void WriteChallenge(string path, CaloChallengeShowers showers, bool compress = false)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(showers);
        var file = new H5File
        {
            ["incident_energies"] = Dataset(showers.IncidentEnergies, 1000, [showers.Count, 1], compress),
            ["showers"] = Dataset(showers.Voxels, 1000, [showers.Count, showers.Dataset.Voxels], compress),
        };
        AtomicFile.WriteVia(path, tmp => file.Write(tmp));
    }

    private static bool IsChallenge(IH5Group file) => file.LinkExists("showers") && file.LinkExists("incident_energies");

    /// <summary>The showers and energies (GeV) of a CaloChallenge file and its voxels per shower (checked to be <paramref name="voxels"/> when given).</summary>
    private static (double[] Showers, double[] Energies, int Voxels) ReadChallengeArrays(IH5Group file, string path, int? voxels)
    {
        var (e, en) = ReadDataset(file, "incident_energies", path);
        if (en.Length == 2) CheckShape(path, "incident_energies", en, [-1, 1]);
        else CheckShape(path, "incident_energies", en, [-1]);
        var (s, sn) = ReadDataset(file, "showers", path);
        CheckShape(path, "showers", sn, [(long)en[0], voxels ?? -1]);
        for (int i = 0; i < s.Length; i++) s[i] /= 1000;
        for (int i = 0; i < e.Length; i++) e[i] /= 1000;
        return (s, e, (int)sn[1]);
    }

    private static T WithFile<T>(string path, Func<IH5Group, T> read)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!File.Exists(path)) throw new FileNotFoundException($"no such file: {path}", path);
        NativeFile file;
        try { file = H5File.OpenRead(path); }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            throw new DataFormatException(path, $"not a readable HDF5 file (truncated or another format: {e.Message})");
        }
        using (file)
        {
            try { return read(file); }
            catch (Exception e) when (e is not (DataFormatException or OutOfMemoryException))
            {
                throw new DataFormatException(path, $"the HDF5 structure is damaged ({e.Message})");
            }
        }
    }

    private static CaloShowers Validated(string path, double[] voxels, double[] energies)
    {
        Validated(path, voxels, energies, CaloGeometry.Voxels);
        return new CaloShowers(voxels, energies);
    }

    private static void Validated(string path, double[] voxels, double[] energies, int perShower)
    {
        for (int i = 0; i < energies.Length; i++)
            if (!(energies[i] > 0) || !double.IsFinite(energies[i])) throw new DataFormatException(path, $"shower {i}: incident energy {energies[i]} must be positive and finite");
        for (int k = 0; k < voxels.Length; k++)
            if (!double.IsFinite(voxels[k])) throw new DataFormatException(path, $"shower {k / perShower}: voxel {k % perShower} is {voxels[k]}");
    }

    private static void CheckShape(string path, string name, ulong[] dims, long[] expected)
    {
        bool ok = dims.Length == expected.Length;
        for (int i = 0; ok && i < dims.Length; i++) ok = expected[i] < 0 || (long)dims[i] == expected[i];
        if (!ok)
            throw new DataFormatException(path, $"dataset '{name}' has shape [{string.Join(", ", dims)}], expected [{string.Join(", ", expected.Select(e => e < 0 ? "N" : e.ToString(CultureInfo.InvariantCulture)))}]");
    }

    /// <summary>A float32 or float64 dataset as doubles, with its dimensions.</summary>
    private static (double[] Values, ulong[] Dims) ReadDataset(IH5Group file, string name, string path)
    {
        if (!file.LinkExists(name)) throw new DataFormatException(path, $"dataset '{name}' is missing");
        if (file.Get(name) is not IH5Dataset ds) throw new DataFormatException(path, $"'{name}' is not a dataset");
        var type = ds.Type;
        if (type.Class != H5DataTypeClass.FloatingPoint || type.Size is not (4 or 8))
            throw new DataFormatException(path, $"dataset '{name}' holds {type.Class} values of {type.Size} bytes; expected float32 or float64");
        var dims = ds.Space.Dimensions;
        double count = 1;
        foreach (var d in dims) count *= d;
        // deflate cannot compress more than about 1032:1, so a dataset that claims more cannot be in the file
        if (count > int.MaxValue || count * type.Size > 1032.0 * new FileInfo(path).Length)
            throw new DataFormatException(path, $"dataset '{name}' claims shape [{string.Join(", ", dims)}], more values than the file can hold (truncated?)");
        try
        {
            if (type.Size == 8) return (ds.Read<double[]>(), dims);
            var f = ds.Read<float[]>();
            var values = new double[f.Length];
            for (int i = 0; i < f.Length; i++) values[i] = f[i];
            return (values, dims);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            throw new DataFormatException(path, $"dataset '{name}' could not be read (truncated or damaged: {e.Message})");
        }
    }

    /// <summary>A float32 dataset of <paramref name="values"/> × <paramref name="scale"/> with the given shape; deflate-compressed in chunks of rows when <paramref name="compress"/>.</summary>
    private static H5Dataset Dataset(double[] values, double scale, int[] shape, bool compress)
    {
        var data = new float[values.Length];
        for (int i = 0; i < data.Length; i++) data[i] = (float)(values[i] * scale);
        var dims = shape.Select(d => (ulong)d).ToArray();
        if (!compress) return new H5Dataset(data, fileDims: dims);
        var chunks = shape.Select((d, i) => (uint)Math.Max(1, i == 0 ? Math.Min(d, RowsPerChunk) : d)).ToArray();
        return new H5Dataset(data, chunks: chunks, fileDims: dims,
            datasetCreation: new H5DatasetCreation(Filters: [DeflateFilter.Id]));
    }
}
