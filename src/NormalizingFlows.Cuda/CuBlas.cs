using System.Reflection;
using System.Runtime.InteropServices;

namespace NormalizingFlows.Cuda;

/// <summary>
/// cuBLAS by P/Invoke on ILGPU buffers: SGEMM on the accelerator's stream. The library is resolved at run time
/// (libcublas.so.13, then .so.12, then libcublas.so); no CUDA toolkit is needed at build time.
/// </summary>
internal sealed class CuBlas : IDisposable
{
    private const string Library = "cublas";
    private static readonly string[] Candidates = ["libcublas.so.13", "libcublas.so.12", "libcublas.so", "cublas64_13.dll", "cublas64_12.dll"];
    private static readonly object Gate = new();
    private static bool _resolverSet;
    private static string? _loadError;
    private IntPtr _handle;

    [DllImport(Library)] private static extern int cublasCreate_v2(out IntPtr handle);
    [DllImport(Library)] private static extern int cublasDestroy_v2(IntPtr handle);
    [DllImport(Library)] private static extern int cublasSetStream_v2(IntPtr handle, IntPtr stream);
    [DllImport(Library)] private static extern int cublasSetMathMode(IntPtr handle, int mode);
    [DllImport(Library)] private static extern int cublasSetWorkspace_v2(IntPtr handle, IntPtr workspace, nuint bytes);
    [DllImport(Library)]
    private static extern int cublasSgemm_v2(IntPtr handle, int transA, int transB, int m, int n, int k, ref float alpha,
        IntPtr a, int lda, IntPtr b, int ldb, ref float beta, IntPtr c, int ldc);

    /// <summary>A cuBLAS handle bound to <paramref name="stream"/>; TF32 tensor-core math when <paramref name="tf32"/>.</summary>
    public CuBlas(IntPtr stream, bool tf32)
    {
        EnsureResolver();
        int status;
        try { status = cublasCreate_v2(out _handle); }
        catch (DllNotFoundException e)
        {
            throw new InvalidOperationException($"no cuBLAS: tried {string.Join(", ", Candidates)} ({_loadError ?? e.Message})", e);
        }
        Check(status, "cublasCreate");
        Check(cublasSetStream_v2(_handle, stream), "cublasSetStream");
        // CUBLAS_DEFAULT_MATH = 0, CUBLAS_TF32_TENSOR_OP_MATH = 3
        Check(cublasSetMathMode(_handle, tf32 ? 3 : 0), "cublasSetMathMode");
    }

    /// <summary>Gives cuBLAS a workspace of its own (so that no call allocates one: CUDA graph capture).</summary>
    public void SetWorkspace(IntPtr workspace, int bytes) => Check(cublasSetWorkspace_v2(_handle, workspace, (nuint)bytes), "cublasSetWorkspace");

    /// <summary>Row-major C[M, N] = alpha·op(A)·op(B) + beta·C as the column-major product Cᵀ = op(B)ᵀ·op(A)ᵀ.</summary>
    public void Sgemm(IntPtr a, IntPtr b, IntPtr c, GemmArgs g)
    {
        float alpha = g.Alpha, beta = g.Beta;
        int lda = g.TransA != 0 ? g.M : g.K, ldb = g.TransB != 0 ? g.K : g.N;
        // CUBLAS_OP_N = 0, CUBLAS_OP_T = 1
        Check(cublasSgemm_v2(_handle, g.TransB != 0 ? 1 : 0, g.TransA != 0 ? 1 : 0, g.N, g.M, g.K, ref alpha, b, ldb, a, lda, ref beta, c, g.N), "cublasSgemm");
    }

    private static void Check(int status, string call)
    {
        if (status != 0) throw new InvalidOperationException($"cuBLAS: {call} failed with status {status}");
    }

    private static void EnsureResolver()
    {
        lock (Gate)
        {
            if (_resolverSet) return;
            _resolverSet = true;
            NativeLibrary.SetDllImportResolver(typeof(CuBlas).Assembly, Resolve);
        }
    }

    private static IntPtr Resolve(string name, Assembly assembly, DllImportSearchPath? path)
    {
        if (name != Library) return IntPtr.Zero;
        foreach (var candidate in Candidates)
            if (NativeLibrary.TryLoad(candidate, assembly, path, out var handle)) return handle;
        _loadError = "none of them loads";
        return IntPtr.Zero;
    }

    public void Dispose()
    {
        if (_handle == IntPtr.Zero) return;
        cublasDestroy_v2(_handle);
        _handle = IntPtr.Zero;
    }
}
