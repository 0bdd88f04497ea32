using System.Runtime.InteropServices;
using System.Text;
using NormalizingFlows.Data;
using NormalizingFlows.IO;

namespace NormalizingFlows.Hep.Calorimeter;

/// <summary>
/// Reads and writes shower files in the CaloGAN and CaloChallenge HDF5 layouts through the system's HDF5 C library
/// (loaded at run time with <see cref="NativeLibrary"/>: Debian/Ubuntu <c>libhdf5-103-1</c> provides
/// libhdf5_serial.so.103), so that the real GEANT4 data sets can be used. Without the library every call throws an
/// <see cref="Hdf5UnavailableException"/> that names the package. Energies inside this project are in GeV; the files
/// use the layouts' units (see <see cref="CaloHdf5Layout"/>).
/// </summary>
public static unsafe class CaloHdf5
{
    private static readonly string[] Candidates =
        ["libhdf5_serial.so.103", "libhdf5.so.103", "libhdf5_serial.so", "libhdf5.so", "libhdf5.310.dylib", "libhdf5.dylib", "hdf5.dll"];

    private const uint AccessReadOnly = 0, AccessTruncate = 2;
    private static Api? _api;
    private static readonly Lock Gate = new();

    /// <summary>True when the HDF5 library can be loaded on this machine.</summary>
    public static bool IsAvailable
    {
        get
        {
            try { _ = Load(); return true; }
            catch (Hdf5UnavailableException) { return false; }
        }
    }

    /// <summary>The message of the exception thrown when HDF5 is missing.</summary>
    public static string MissingMessage =>
        "HDF5 files need the HDF5 C library, which is not installed: on Debian/Ubuntu run `apt-get install libhdf5-103-1` " +
        "(it provides libhdf5_serial.so.103); elsewhere install HDF5 1.10+ so that libhdf5 is on the library path. " +
        "Or convert the file to .npy (504 voxel columns in GeV, then E_inc in GeV).";

    /// <summary>True when <paramref name="path"/> names an HDF5 file by its extension (.h5, .hdf5, .hdf).</summary>
    public static bool IsHdf5Path(string path) =>
        Path.GetExtension(path).ToLowerInvariant() is ".h5" or ".hdf5" or ".hdf";

    /// <summary>
    /// Reads showers from a CaloGAN or CaloChallenge file (the layout is detected from the dataset names). Without the
    /// HDF5 library it throws <see cref="Hdf5UnavailableException"/> (before looking at the file).
    /// </summary>
    public static CaloShowers Read(string path) => Read(path, null);

    /// <summary>As <see cref="Read(string)"/> with the library searched under <paramref name="libraryNames"/> (null: the usual names); the test hook for a machine without HDF5.</summary>
    internal static CaloShowers Read(string path, IReadOnlyList<string>? libraryNames)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var api = Load(libraryNames);
        if (!File.Exists(path)) throw new FileNotFoundException($"no such file: {path}", path);
        lock (Gate)
        {
            long file = api.Fopen(path, AccessReadOnly, 0);
            if (file < 0) throw new DataFormatException(path, "not a readable HDF5 file");
            try
            {
                if (Exists(api, file, "showers") && Exists(api, file, "incident_energies"))
                {
                    var (e, en) = ReadDataset(api, file, "incident_energies", path);
                    var (s, sn) = ReadDataset(api, file, "showers", path);
                    CheckShape(path, "incident_energies", en, [-1, 1]);
                    CheckShape(path, "showers", sn, [-1, CaloGeometry.Voxels]);
                    if (sn[0] != en[0]) throw new DataFormatException(path, $"'showers' has {sn[0]} rows, 'incident_energies' {en[0]}");
                    for (int i = 0; i < s.Length; i++) s[i] /= 1000;
                    for (int i = 0; i < e.Length; i++) e[i] /= 1000;
                    return Validated(path, s, e);
                }
                if (Exists(api, file, "energy") && Exists(api, file, "layer_0"))
                {
                    var (e, en) = ReadDataset(api, file, "energy", path);
                    if (en.Length == 2) CheckShape(path, "energy", en, [-1, 1]);
                    else CheckShape(path, "energy", en, [-1]);
                    int n = (int)en[0];
                    var voxels = new double[n * CaloGeometry.Voxels];
                    for (int l = 0; l < 3; l++)
                    {
                        var g = CaloGeometry.Layers[l];
                        var (v, vn) = ReadDataset(api, file, $"layer_{l}", path);
                        CheckShape(path, $"layer_{l}", vn, [n, g.Rows, g.Columns]);
                        for (int i = 0; i < n; i++)
                            for (int k = 0; k < g.Voxels; k++) voxels[i * CaloGeometry.Voxels + g.Offset + k] = v[i * g.Voxels + k] / 1000;
                    }
                    return Validated(path, voxels, e);
                }
                throw new DataFormatException(path, "neither the CaloGAN layout (energy, layer_0, layer_1, layer_2) nor the CaloChallenge layout (incident_energies, showers) was found");
            }
            finally { api.Fclose(file); }
        }
    }

    /// <summary>Writes <paramref name="showers"/> in <paramref name="layout"/> (float32 datasets), atomically (<see cref="AtomicFile.WriteVia"/>).</summary>
    public static void Write(string path, CaloShowers showers, CaloHdf5Layout layout = CaloHdf5Layout.CaloGan) => Write(path, showers, layout, null);

    /// <summary>As <see cref="Write(string, CaloShowers, CaloHdf5Layout)"/> with the library searched under <paramref name="libraryNames"/> (null: the usual names).</summary>
    internal static void Write(string path, CaloShowers showers, CaloHdf5Layout layout, IReadOnlyList<string>? libraryNames)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(showers);
        var api = Load(libraryNames);
        int n = showers.Count;
        AtomicFile.WriteVia(path, tmp =>
        {
            lock (Gate)
            {
                long file = api.Fcreate(tmp, AccessTruncate, 0, 0);
                if (file < 0) throw new IOException($"{path}: HDF5 could not create the file");
                try
                {
                    if (layout == CaloHdf5Layout.CaloChallenge)
                    {
                        WriteDataset(api, file, "incident_energies", showers.IncidentEnergies.Select(e => e * 1000).ToArray(), [n, 1], path);
                        WriteDataset(api, file, "showers", showers.Voxels.Select(v => v * 1000).ToArray(), [n, CaloGeometry.Voxels], path);
                    }
                    else
                    {
                        WriteDataset(api, file, "energy", showers.IncidentEnergies, [n, 1], path);
                        for (int l = 0; l < 3; l++)
                        {
                            var g = CaloGeometry.Layers[l];
                            var v = new double[n * g.Voxels];
                            for (int i = 0; i < n; i++)
                                for (int k = 0; k < g.Voxels; k++) v[i * g.Voxels + k] = showers.Voxels[i * CaloGeometry.Voxels + g.Offset + k] * 1000;
                            WriteDataset(api, file, $"layer_{l}", v, [n, g.Rows, g.Columns], path);
                        }
                    }
                }
                finally { api.Fclose(file); }
            }
        });
    }

    private static CaloShowers Validated(string path, double[] voxels, double[] energies)
    {
        for (int i = 0; i < energies.Length; i++)
            if (!(energies[i] > 0) || !double.IsFinite(energies[i])) throw new DataFormatException(path, $"shower {i}: incident energy {energies[i]} must be positive and finite");
        for (int k = 0; k < voxels.Length; k++)
            if (!double.IsFinite(voxels[k])) throw new DataFormatException(path, $"shower {k / CaloGeometry.Voxels}: voxel {k % CaloGeometry.Voxels} is {voxels[k]}");
        return new CaloShowers(voxels, energies);
    }

    private static void CheckShape(string path, string name, ulong[] dims, long[] expected)
    {
        bool ok = dims.Length == expected.Length;
        for (int i = 0; ok && i < dims.Length; i++) ok = expected[i] < 0 || (long)dims[i] == expected[i];
        if (!ok)
            throw new DataFormatException(path, $"dataset '{name}' has shape [{string.Join(", ", dims)}], expected [{string.Join(", ", expected.Select(e => e < 0 ? "N" : e.ToString(System.Globalization.CultureInfo.InvariantCulture)))}]");
    }

    private static bool Exists(Api api, long file, string name) => api.Lexists(file, name, 0) > 0;

    private static (double[] Values, ulong[] Dims) ReadDataset(Api api, long file, string name, string path)
    {
        long ds = api.Dopen(file, name, 0);
        if (ds < 0) throw new DataFormatException(path, $"cannot open dataset '{name}'");
        try
        {
            long space = api.DgetSpace(ds);
            int rank = api.SgetNdims(space);
            var dims = new ulong[Math.Max(rank, 0)];
            fixed (ulong* d = dims) api.SgetDims(space, d, null);
            api.Sclose(space);
            ulong count = 1;
            foreach (var d in dims) count *= d;
            if (count > int.MaxValue) throw new DataFormatException(path, $"dataset '{name}' is too large ({count} values)");
            var values = new double[count];
            int status;
            fixed (double* p = values) status = api.Dread(ds, api.NativeDouble, 0, 0, 0, p);
            if (status < 0) throw new DataFormatException(path, $"dataset '{name}' could not be read as floating-point numbers");
            return (values, dims);
        }
        finally { api.Dclose(ds); }
    }

    private static void WriteDataset(Api api, long file, string name, double[] values, int[] shape, string path)
    {
        var dims = shape.Select(d => (ulong)d).ToArray();
        long space;
        fixed (ulong* d = dims) space = api.ScreateSimple(dims.Length, d, null);
        try
        {
            long ds = api.Dcreate(file, name, api.NativeFloat, space, 0, 0, 0);
            if (ds < 0) throw new IOException($"{path}: HDF5 could not create dataset '{name}'");
            try
            {
                int status;
                fixed (double* p = values) status = api.Dwrite(ds, api.NativeDouble, 0, 0, 0, p);
                if (status < 0) throw new IOException($"{path}: HDF5 could not write dataset '{name}'");
            }
            finally { api.Dclose(ds); }
        }
        finally { api.Sclose(space); }
    }

    private static Api Load(IReadOnlyList<string>? libraryNames = null)
    {
        if (libraryNames is not null) return LoadFrom(libraryNames);
        lock (Gate)
        {
            return _api ??= LoadFrom(Candidates);
        }
    }

    /// <summary>Loads the first of <paramref name="names"/> that exists, or throws <see cref="Hdf5UnavailableException"/> (the test hook for a machine without HDF5).</summary>
    internal static object LoadLibraryFrom(IEnumerable<string> names) => LoadFrom(names);

    private static Api LoadFrom(IEnumerable<string> names)
    {
        foreach (var name in names)
            if (NativeLibrary.TryLoad(name, out var handle))
            {
                try { return new Api(handle); }
                catch (EntryPointNotFoundException) { NativeLibrary.Free(handle); }
            }
        throw new Hdf5UnavailableException(MissingMessage);
    }

    /// <summary>The few HDF5 entry points used (HDF5 ≥ 1.10: hid_t is 64-bit).</summary>
    private sealed class Api
    {
        public readonly delegate* unmanaged<byte*, uint, long, long, long> FcreateRaw;
        public readonly delegate* unmanaged<byte*, uint, long, long> FopenRaw;
        public readonly delegate* unmanaged<long, int> Fclose;
        public readonly delegate* unmanaged<int, ulong*, ulong*, long> ScreateSimple;
        public readonly delegate* unmanaged<long, int> Sclose;
        public readonly delegate* unmanaged<long, int> SgetNdims;
        public readonly delegate* unmanaged<long, ulong*, ulong*, int> SgetDims;
        public readonly delegate* unmanaged<long, byte*, long, long, long, long, long, long> DcreateRaw;
        public readonly delegate* unmanaged<long, byte*, long, long> DopenRaw;
        public readonly delegate* unmanaged<long, long> DgetSpace;
        public readonly delegate* unmanaged<long, long, long, long, long, void*, int> Dread;
        public readonly delegate* unmanaged<long, long, long, long, long, void*, int> Dwrite;
        public readonly delegate* unmanaged<long, int> Dclose;
        public readonly delegate* unmanaged<long, byte*, long, int> LexistsRaw;
        public readonly long NativeDouble, NativeFloat;

        public Api(IntPtr lib)
        {
            IntPtr F(string name) => NativeLibrary.GetExport(lib, name);
            var open = (delegate* unmanaged<int>)F("H5open");
            if (open() < 0) throw new Hdf5UnavailableException("the HDF5 library failed to initialise (H5open)");
            // silence HDF5's own error-stack printing: failures are reported through our exceptions
            var eset = (delegate* unmanaged<long, IntPtr, IntPtr, int>)F("H5Eset_auto2");
            eset(0, IntPtr.Zero, IntPtr.Zero);
            FcreateRaw = (delegate* unmanaged<byte*, uint, long, long, long>)F("H5Fcreate");
            FopenRaw = (delegate* unmanaged<byte*, uint, long, long>)F("H5Fopen");
            Fclose = (delegate* unmanaged<long, int>)F("H5Fclose");
            ScreateSimple = (delegate* unmanaged<int, ulong*, ulong*, long>)F("H5Screate_simple");
            Sclose = (delegate* unmanaged<long, int>)F("H5Sclose");
            SgetNdims = (delegate* unmanaged<long, int>)F("H5Sget_simple_extent_ndims");
            SgetDims = (delegate* unmanaged<long, ulong*, ulong*, int>)F("H5Sget_simple_extent_dims");
            DcreateRaw = (delegate* unmanaged<long, byte*, long, long, long, long, long, long>)F("H5Dcreate2");
            DopenRaw = (delegate* unmanaged<long, byte*, long, long>)F("H5Dopen2");
            DgetSpace = (delegate* unmanaged<long, long>)F("H5Dget_space");
            Dread = (delegate* unmanaged<long, long, long, long, long, void*, int>)F("H5Dread");
            Dwrite = (delegate* unmanaged<long, long, long, long, long, void*, int>)F("H5Dwrite");
            Dclose = (delegate* unmanaged<long, int>)F("H5Dclose");
            LexistsRaw = (delegate* unmanaged<long, byte*, long, int>)F("H5Lexists");
            NativeDouble = *(long*)F("H5T_NATIVE_DOUBLE_g");
            NativeFloat = *(long*)F("H5T_NATIVE_FLOAT_g");
        }

        private static byte[] Utf8(string s) => Encoding.UTF8.GetBytes(s + "\0");

        public long Fcreate(string path, uint flags, long fcpl, long fapl) { fixed (byte* p = Utf8(path)) return FcreateRaw(p, flags, fcpl, fapl); }
        public long Fopen(string path, uint flags, long fapl) { fixed (byte* p = Utf8(path)) return FopenRaw(p, flags, fapl); }
        public long Dcreate(long loc, string name, long type, long space, long lcpl, long dcpl, long dapl) { fixed (byte* p = Utf8(name)) return DcreateRaw(loc, p, type, space, lcpl, dcpl, dapl); }
        public long Dopen(long loc, string name, long dapl) { fixed (byte* p = Utf8(name)) return DopenRaw(loc, p, dapl); }
        public int Lexists(long loc, string name, long lapl) { fixed (byte* p = Utf8(name)) return LexistsRaw(loc, p, lapl); }
    }
}
