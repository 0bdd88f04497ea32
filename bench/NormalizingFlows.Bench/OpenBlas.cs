using System.Runtime.InteropServices;

namespace NormalizingFlows.Bench;

/// <summary>Optional OpenBLAS bindings (comparison only; the library never uses BLAS). Fields are null when absent.</summary>
internal static unsafe class OpenBlas
{
    public const int RowMajor = 101, NoTrans = 111, Trans = 112;

    /// <summary>cblas_sgemm(order, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc).</summary>
    public static readonly delegate* unmanaged<int, int, int, int, int, int, float, float*, int, float*, int, float, float*, int, void> Sgemm;

    /// <summary>cblas_dgemm, same arguments in double.</summary>
    public static readonly delegate* unmanaged<int, int, int, int, int, int, double, double*, int, double*, int, double, double*, int, void> Dgemm;

    private static readonly delegate* unmanaged<int, void> SetThreads;

    public static bool Available => Sgemm != null;

    static OpenBlas()
    {
        if (!NativeLibrary.TryLoad("libopenblas.so.0", out nint h)) return;
        if (NativeLibrary.TryGetExport(h, "cblas_sgemm", out nint s))
            Sgemm = (delegate* unmanaged<int, int, int, int, int, int, float, float*, int, float*, int, float, float*, int, void>)s;
        if (NativeLibrary.TryGetExport(h, "cblas_dgemm", out nint d))
            Dgemm = (delegate* unmanaged<int, int, int, int, int, int, double, double*, int, double*, int, double, double*, int, void>)d;
        if (NativeLibrary.TryGetExport(h, "openblas_set_num_threads", out nint t))
            SetThreads = (delegate* unmanaged<int, void>)t;
    }

    /// <summary>Sets OpenBLAS's thread count (no-op when absent).</summary>
    public static void Threads(int n)
    {
        if (SetThreads != null) SetThreads(n);
    }
}
