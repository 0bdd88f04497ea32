using System.Numerics;

namespace NormalizingFlows.Tensors.Kernels;

/// <summary>
/// General matrix multiply on row-major storage: C = alpha·op(A)·op(B) + beta·C, where op(A) is m×k and op(B) is k×n.
/// A is stored m×k (lda ≥ k) when not transposed, k×m (lda ≥ m) when transposed; likewise B. beta = 0 ignores
/// the previous contents of C (NaNs included). (Skeleton reference implementation; the fast kernels replace it.)
/// </summary>
public static class Gemm
{
    /// <summary>Single-precision GEMM.</summary>
    public static void Compute(bool transA, bool transB, int m, int n, int k, float alpha,
        ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> b, int ldb, float beta, Span<float> c, int ldc)
        => Reference(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);

    /// <summary>Double-precision GEMM.</summary>
    public static void Compute(bool transA, bool transB, int m, int n, int k, double alpha,
        ReadOnlySpan<double> a, int lda, ReadOnlySpan<double> b, int ldb, double beta, Span<double> c, int ldc)
        => Reference(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);

    /// <summary>Generic entry: dispatches to the float or double kernel.</summary>
    public static void Compute<T>(bool transA, bool transB, int m, int n, int k, T alpha,
        ReadOnlySpan<T> a, int lda, ReadOnlySpan<T> b, int ldb, T beta, Span<T> c, int ldc)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (typeof(T) == typeof(float))
            Compute(transA, transB, m, n, k, float.CreateTruncating(alpha),
                System.Runtime.InteropServices.MemoryMarshal.Cast<T, float>(a), lda,
                System.Runtime.InteropServices.MemoryMarshal.Cast<T, float>(b), ldb, float.CreateTruncating(beta),
                System.Runtime.InteropServices.MemoryMarshal.Cast<T, float>(c), ldc);
        else if (typeof(T) == typeof(double))
            Compute(transA, transB, m, n, k, double.CreateTruncating(alpha),
                System.Runtime.InteropServices.MemoryMarshal.Cast<T, double>(a), lda,
                System.Runtime.InteropServices.MemoryMarshal.Cast<T, double>(b), ldb, double.CreateTruncating(beta),
                System.Runtime.InteropServices.MemoryMarshal.Cast<T, double>(c), ldc);
        else
            Reference(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    }

    /// <summary>Straightforward triple loop (double accumulation); the yardstick for tests.</summary>
    public static void Reference<T>(bool transA, bool transB, int m, int n, int k, T alpha,
        ReadOnlySpan<T> a, int lda, ReadOnlySpan<T> b, int ldb, T beta, Span<T> c, int ldc)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                double s = 0;
                for (int p = 0; p < k; p++)
                {
                    T av = transA ? a[p * lda + i] : a[i * lda + p];
                    T bv = transB ? b[j * ldb + p] : b[p * ldb + j];
                    s += double.CreateTruncating(av) * double.CreateTruncating(bv);
                }
                T prev = beta == T.Zero ? T.Zero : beta * c[i * ldc + j];
                c[i * ldc + j] = alpha * T.CreateTruncating(s) + prev;
            }
    }
}
