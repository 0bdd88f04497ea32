using System.Runtime.InteropServices;
using NormalizingFlows.Training;

namespace NormalizingFlows.Distributed;

/// <summary>
/// The processes of an <c>mpirun</c> job (MPI_COMM_WORLD) as an <see cref="IDataParallel"/> group, through the few MPI
/// calls it needs (init, rank, size, allreduce with MPI_SUM, abort, finalize) bound at run time to Open MPI's
/// <c>libmpi.so.40</c>. Nothing needs MPI until <see cref="Start"/> is called; without Open MPI it throws a
/// <see cref="NotSupportedException"/> with one line saying so. (MPI.NET 1.4.0 binds to Microsoft MPI's msmpi.dll and
/// its integer handles, which Open MPI on Linux does not have: hence this binding.)
/// </summary>
public sealed unsafe class MpiGroup : IDataParallel, IDisposable
{
    /// <summary>The library loaded when none is named: Open MPI's (Debian: openmpi-bin, libopenmpi-dev).</summary>
    public static readonly string[] DefaultLibraries = ["libmpi.so.40", "libmpi.so"];

    private static readonly Lock Gate = new();
    private static Api? s_api;
    private static bool s_initializedHere, s_finalized;

    private readonly Api _api;

    private MpiGroup(Api api, int rank, int size)
    {
        _api = api;
        Rank = rank;
        Size = size;
    }

    /// <inheritdoc/>
    public int Rank { get; }

    /// <inheritdoc/>
    public int Size { get; }

    /// <summary>
    /// Joins the MPI job this process was started in (a process started without <c>mpirun</c> is a job of one),
    /// initialising MPI once per process; <paramref name="library"/> names the MPI library (default:
    /// <see cref="DefaultLibraries"/>). A <see cref="NotSupportedException"/> with one line when it cannot be loaded,
    /// is not Open MPI, or MPI was already finalised in this process.
    /// </summary>
    public static MpiGroup Start(string? library = null)
    {
        lock (Gate)
        {
            if (s_finalized) throw new NotSupportedException("MPI was finalised in this process and cannot start again");
            var api = s_api ??= Api.Load(library);
            int flag = 0;
            Check(api.Initialized(&flag), "MPI_Initialized");
            if (flag == 0)
            {
                Check(api.Init(null, null), "MPI_Init");
                s_initializedHere = true;
            }
            int rank = 0, size = 0;
            Check(api.CommRank(api.CommWorld, &rank), "MPI_Comm_rank");
            Check(api.CommSize(api.CommWorld, &size), "MPI_Comm_size");
            return new MpiGroup(api, rank, size);
        }
    }

    /// <inheritdoc/>
    public void AllReduceSum(Span<float> values)
    {
        fixed (float* p = values) Sum(p, values.Length, _api.Float);
    }

    /// <inheritdoc/>
    public void AllReduceSum(Span<double> values)
    {
        fixed (double* p = values) Sum(p, values.Length, _api.Double);
    }

    private void Sum(void* data, int count, nint type)
    {
        // MPI_IN_PLACE is (void*)1 in Open MPI
        Check(_api.Allreduce((void*)1, data, count, type, _api.OpSum, _api.CommWorld), "MPI_Allreduce");
    }

    /// <summary>Ends every process of the job with <paramref name="exitCode"/> (MPI_Abort): one process failing must not leave the others waiting in a sum.</summary>
    public void Abort(int exitCode) => _api.Abort(_api.CommWorld, exitCode);

    /// <summary>Finalises MPI if <see cref="Start"/> initialised it (once per process; MPI cannot start again after).</summary>
    public void Dispose()
    {
        lock (Gate)
        {
            if (!s_initializedHere || s_finalized) return;
            s_finalized = true;
            _api.FinalizeMpi();
        }
    }

    private static void Check(int code, string call)
    {
        if (code != 0) throw new InvalidOperationException($"{call} failed with MPI error code {code}");
    }

    /// <summary>The entry points and predefined handles of Open MPI's libmpi.</summary>
    private sealed class Api
    {
        public delegate* unmanaged<int*, int> Initialized;
        public delegate* unmanaged<int*, byte***, int> Init;
        public delegate* unmanaged<nint, int*, int> CommRank, CommSize;
        public delegate* unmanaged<void*, void*, int, nint, nint, nint, int> Allreduce;
        public delegate* unmanaged<nint, int, int> Abort;
        public delegate* unmanaged<int> FinalizeMpi;
        public nint CommWorld, Float, Double, OpSum;

        [DllImport("libc.so.6", EntryPoint = "dlopen")]
        private static extern nint DlOpen(string file, int mode);

        [DllImport("libc.so.6", EntryPoint = "dlerror")]
        private static extern nint DlError();

        public static Api Load(string? library)
        {
            if (!OperatingSystem.IsLinux()) throw new NotSupportedException("--distributed needs Open MPI on Linux");
            var tried = new List<string>();
            nint handle = 0;
            foreach (string name in library is null ? DefaultLibraries : [library])
            {
                // RTLD_NOW | RTLD_GLOBAL: Open MPI's plugins resolve their symbols against the library loaded here
                handle = DlOpen(name, 0x2 | 0x100);
                if (handle != 0) break;
                tried.Add(Marshal.PtrToStringUTF8(DlError()) ?? name);
            }
            if (handle == 0)
                throw new NotSupportedException($"MPI is not installed ({string.Join("; ", tried)}): install Open MPI (Debian: apt-get install openmpi-bin libopenmpi-dev) and start with mpirun -np N");
            nint Export(string symbol) => NativeLibrary.TryGetExport(handle, symbol, out nint p) ? p
                : throw new NotSupportedException($"the MPI library {library ?? DefaultLibraries[0]} lacks '{symbol}': this binding needs Open MPI");
            return new Api
            {
                Initialized = (delegate* unmanaged<int*, int>)Export("MPI_Initialized"),
                Init = (delegate* unmanaged<int*, byte***, int>)Export("MPI_Init"),
                CommRank = (delegate* unmanaged<nint, int*, int>)Export("MPI_Comm_rank"),
                CommSize = (delegate* unmanaged<nint, int*, int>)Export("MPI_Comm_size"),
                Allreduce = (delegate* unmanaged<void*, void*, int, nint, nint, nint, int>)Export("MPI_Allreduce"),
                Abort = (delegate* unmanaged<nint, int, int>)Export("MPI_Abort"),
                FinalizeMpi = (delegate* unmanaged<int>)Export("MPI_Finalize"),
                CommWorld = Export("ompi_mpi_comm_world"),
                Float = Export("ompi_mpi_float"),
                Double = Export("ompi_mpi_double"),
                OpSum = Export("ompi_mpi_op_sum"),
            };
        }
    }
}
