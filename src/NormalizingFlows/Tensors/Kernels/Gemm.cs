using System.Numerics;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace NormalizingFlows.Tensors.Kernels;

/// <summary>Instruction-set path of the GEMM kernels.</summary>
internal enum GemmIsa
{
    /// <summary>Pick the fastest supported path (or the one NFLOW_GEMM_ISA names).</summary>
    Auto,
    /// <summary><c>Vector&lt;T&gt;</c> micro-kernels with scalar packing; runs anywhere.</summary>
    Portable,
    /// <summary>AVX2 + FMA, <c>Vector256</c> micro-kernels (float 6×16, double 6×8).</summary>
    Avx2,
    /// <summary>AVX-512F, <c>Vector512</c> micro-kernels.</summary>
    Avx512,
}

/// <summary>
/// General matrix multiply on row-major storage: C = alpha·op(A)·op(B) + beta·C, where op(A) is m×k and op(B) is k×n.
/// A is stored m×k (lda ≥ k) when not transposed, k×m (lda ≥ m) when transposed; likewise B. beta = 0 ignores
/// the previous contents of C (NaNs included).
/// </summary>
/// <remarks>
/// BLIS-style implementation: both operands are packed into micro-panels (transposes are handled while packing,
/// with 8×8 / 4×4 AVX transposes), cache-blocked (KC = 256; MC = 240/144 rows for float AVX-512/AVX2; NC = 4096)
/// and multiplied by register-tiled micro-kernels chosen at run time: AVX-512 (float 12×32, double 12×16, with
/// 6- and 4-row variants for problems with few rows), AVX2/FMA (float 6×16, double 6×8, plus 4-row variants) or
/// portable <c>Vector&lt;T&gt;</c> (4 × 2 vectors). <c>NFLOW_GEMM_ISA=avx2|avx512|portable</c> forces a path.
/// Narrow outputs are computed as Cᵀ = op(B)ᵀ·op(A)ᵀ when that pads the tiles less (where a row-major A would be
/// read in place, enough less to pay for packing it); the float forward of a linear+ReLU layer can end in the
/// micro-kernels with bias and ReLU (<see cref="TryComputeBiasRelu{T}"/>); m = 1 or n = 1 use a
/// matrix-vector loop and tiny problems a direct loop. Work is split over <see cref="WorkerPool"/> threads along the
/// dimension with more tiles, or along K (a shape-determined number of parts, added in order) for weight-gradient
/// shapes; results are bit-identical for any thread count.
/// </remarks>
public static unsafe class Gemm
{
    /// <summary>Problems with m·n·k at most this use the direct loop (no packing).</summary>
    internal static long DirectMaxVolume = 2048;

    /// <summary>Problems with at least this many flops (2·m·n·k) are threaded.</summary>
    internal static double ParallelMinFlops = 100_000;

    private static readonly GemmIsa EnvIsa = ParseEnv(Environment.GetEnvironmentVariable("NFLOW_GEMM_ISA"));

    [ThreadStatic] private static GemmIsa t_forcedIsa;

    /// <summary>Forces an ISA path for calls made from the current thread (tests, benchmarks); <see cref="GemmIsa.Auto"/> restores the default choice.</summary>
    internal static GemmIsa ForcedIsa { get => t_forcedIsa; set => t_forcedIsa = value; }

    /// <summary>Blocking overrides for tuning (0 = default; TuneSwap 2: never compute Cᵀ, 1: ignore the packing saved by reading A in place).</summary>
    internal static int TuneKC, TuneMC, TuneNC, TuneTile, TuneSwap;

    /// <summary>1 disables the unpacked-A micro-kernels (benchmark comparison); 0 uses them where available.</summary>
    internal static int TuneDirectA;

    private static GemmIsa ParseEnv(string? s) => s?.Trim().ToLowerInvariant() switch
    {
        "avx2" => GemmIsa.Avx2,
        "avx512" => GemmIsa.Avx512,
        "portable" => GemmIsa.Portable,
        _ => GemmIsa.Auto,
    };

    /// <summary>True when the AVX2/FMA path can run here.</summary>
    internal static bool Avx2Supported => Avx2.IsSupported && Fma.IsSupported;

    /// <summary>True when the AVX-512 path can run here.</summary>
    internal static bool Avx512Supported => Vector512.IsHardwareAccelerated && Avx512F.IsSupported && Avx2Supported;

    /// <summary>The ISA the next call will use.</summary>
    internal static GemmIsa ActiveIsa
    {
        get
        {
            GemmIsa want = ForcedIsa != GemmIsa.Auto ? ForcedIsa : EnvIsa;
            if (want == GemmIsa.Avx512 && Avx512Supported) return GemmIsa.Avx512;
            if (want == GemmIsa.Avx2 && Avx2Supported) return GemmIsa.Avx2;
            if (want == GemmIsa.Portable) return GemmIsa.Portable;
            // Default: AVX-512 where present (measured faster on Zen5), else AVX2, else portable.
            if (Avx512Supported) return GemmIsa.Avx512;
            if (Avx2Supported) return GemmIsa.Avx2;
            return GemmIsa.Portable;
        }
    }

    internal static GemmConfig<float> ConfigF32(GemmIsa isa)
    {
        GemmConfig<float> c = isa switch
        {
            GemmIsa.Avx512 => TuneTile switch
            {
                1 => new() { MR = 8, NR = 32, KC = 256, MC = 144, NC = 4096, Kernel = &GemmMicroKernels.F32Avx512_8x32, VectorPack = true },
                _ => new() { MR = 12, NR = 32, KC = 256, MC = 240, NC = 4096, Kernel = &GemmMicroKernels.F32Avx512_12x32, VectorPack = true },
            },
            GemmIsa.Avx2 => new() { MR = 6, NR = 16, KC = 256, MC = 144, NC = 4096, Kernel = &GemmMicroKernels.F32Avx2_6x16, VectorPack = true },
            _ => new() { MR = 4, NR = 2 * Vector<float>.Count, KC = 256, MC = 128, NC = 4096, Kernel = &GemmMicroKernels.F32Portable_4x2V, VectorPack = false },
        };
        c.Isa = isa;
        if (TuneDirectA == 0)
        {
            if (isa == GemmIsa.Avx512 && c.MR == 12)
            {
                c.DirectKernel = &GemmMicroKernels.F32Avx512_12x32Direct;
                c.DirectBiasReluKernel = &GemmMicroKernels.F32Avx512_12x32DirectBiasRelu;
            }
            else if (isa == GemmIsa.Avx2)
            {
                c.DirectKernel = &GemmMicroKernels.F32Avx2_6x16Direct;
                c.DirectBiasReluKernel = &GemmMicroKernels.F32Avx2_6x16DirectBiasRelu;
            }
        }
        if (isa == GemmIsa.Avx512) c.Kernel6 = &GemmMicroKernels.F32Avx512_6x32;
        c.Kernel4 = isa switch
        {
            GemmIsa.Avx512 => &GemmMicroKernels.F32Avx512_4x32,
            GemmIsa.Avx2 => &GemmMicroKernels.F32Avx2_4x16,
            _ => null,
        };
        return Tune(c);
    }

    internal static GemmConfig<double> ConfigF64(GemmIsa isa)
    {
        GemmConfig<double> c = isa switch
        {
            GemmIsa.Avx512 => TuneTile == 1
                ? new() { MR = 8, NR = 16, KC = 256, MC = 96, NC = 4096, Kernel = &GemmMicroKernels.F64Avx512_8x16, VectorPack = true }
                : new() { MR = 12, NR = 16, KC = 256, MC = 96, NC = 4096, Kernel = &GemmMicroKernels.F64Avx512_12x16, VectorPack = true },
            GemmIsa.Avx2 => new() { MR = 6, NR = 8, KC = 256, MC = 96, NC = 4096, Kernel = &GemmMicroKernels.F64Avx2_6x8, VectorPack = true },
            _ => new() { MR = 4, NR = 2 * Vector<double>.Count, KC = 256, MC = 128, NC = 4096, Kernel = &GemmMicroKernels.F64Portable_4x2V, VectorPack = false },
        };
        c.Isa = isa;
        if (isa == GemmIsa.Avx512) c.Kernel6 = &GemmMicroKernels.F64Avx512_6x16;
        c.Kernel4 = isa switch
        {
            GemmIsa.Avx512 => &GemmMicroKernels.F64Avx512_4x16,
            GemmIsa.Avx2 => &GemmMicroKernels.F64Avx2_4x8,
            _ => null,
        };
        return Tune(c);
    }

    private static GemmConfig<T> Tune<T>(GemmConfig<T> c) where T : unmanaged
    {
        if (TuneKC > 0) c.KC = TuneKC;
        if (TuneMC > 0) c.MC = TuneMC;
        if (TuneNC > 0) c.NC = TuneNC;
        c.MC = Math.Max(c.MR, c.MC / c.MR * c.MR); // whole micro-panels per block
        c.NC = Math.Max(c.NR, c.NC / c.NR * c.NR);
        return c;
    }

    /// <summary>Single-precision GEMM.</summary>
    public static void Compute(bool transA, bool transB, int m, int n, int k, float alpha,
        ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> b, int ldb, float beta, Span<float> c, int ldc) =>
        Run(&ConfigF32, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);

    /// <summary>Double-precision GEMM.</summary>
    public static void Compute(bool transA, bool transB, int m, int n, int k, double alpha,
        ReadOnlySpan<double> a, int lda, ReadOnlySpan<double> b, int ldb, double beta, Span<double> c, int ldc) =>
        Run(&ConfigF64, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);

    /// <summary>
    /// C = max(A·Bᵀ + bias, 0) for row-major A [m, k], B [n, k] and one bias per column of C (NaN kept): the forward
    /// of a linear+ReLU layer, with the bias and the ReLU applied in the micro-kernels' registers where the problem
    /// allows it (float, a row-major A read in place, k within one cache block). Returns false where it does not,
    /// having written the plain product A·Bᵀ into C; the caller then applies the bias and the ReLU.
    /// </summary>
    internal static bool TryComputeBiasRelu<T>(int m, int n, int k, ReadOnlySpan<T> a, int lda, ReadOnlySpan<T> b, int ldb,
        ReadOnlySpan<T> bias, Span<T> c, int ldc) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (typeof(T) == typeof(float) && bias.Length == n && k > 0)
        {
            Validate(false, true, m, n, k, a.Length, lda, b.Length, ldb, c.Length, ldc);
            var cfg = ConfigF32(ActiveIsa);
            if (GemmDriver<float>.CanFuseBiasRelu(in cfg, 1, m, n, k))
            {
                fixed (T* pa = a, pb = b, pc = c, pbias = bias)
                    GemmDriver<float>.Run(in cfg, (float*)pa, lda, 1, (float*)pb, 1, ldb, (float*)pc, ldc, 1, m, n, k, 1f, 0f, (float*)pbias);
                return true;
            }
        }
        Compute(false, true, m, n, k, T.One, a, lda, b, ldb, T.Zero, c, ldc);
        return false;
    }

    /// <summary>Validates, then runs the blocked driver with the configuration <paramref name="config"/> gives for the active ISA.</summary>
    private static void Run<T>(delegate*<GemmIsa, GemmConfig<T>> config, bool transA, bool transB, int m, int n, int k, T alpha,
        ReadOnlySpan<T> a, int lda, ReadOnlySpan<T> b, int ldb, T beta, Span<T> c, int ldc)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        Validate(transA, transB, m, n, k, a.Length, lda, b.Length, ldb, c.Length, ldc);
        if (m == 0 || n == 0) return;
        var cfg = config(ActiveIsa);
        fixed (T* pa = a, pb = b, pc = c)
        {
            if (k == 0 || alpha == T.Zero)
            {
                GemmDriver<T>.ScaleC(pc, ldc, 1, m, n, beta);
                return;
            }
            GemmDriver<T>.Run(in cfg, pa, transA ? 1 : lda, transA ? lda : 1, pb, transB ? 1 : ldb, transB ? ldb : 1,
                pc, ldc, 1, m, n, k, alpha, beta);
        }
    }

    private static void Validate(bool transA, bool transB, int m, int n, int k, int aLen, int lda, int bLen, int ldb, int cLen, int ldc)
    {
        if (m < 0) throw new ArgumentException($"Gemm: m must be non-negative, got {m}", nameof(m));
        if (n < 0) throw new ArgumentException($"Gemm: n must be non-negative, got {n}", nameof(n));
        if (k < 0) throw new ArgumentException($"Gemm: k must be non-negative, got {k}", nameof(k));
        CheckOperand("a", "lda", transA ? k : m, transA ? m : k, aLen, lda);
        CheckOperand("b", "ldb", transB ? n : k, transB ? k : n, bLen, ldb);
        CheckOperand("c", "ldc", m, n, cLen, ldc);
    }

    private static void CheckOperand(string name, string ldName, int rows, int cols, int length, int ld)
    {
        if (ld < cols || ld < 0)
            throw new ArgumentException($"Gemm: {ldName} = {ld} is smaller than the {cols} columns of {name} as stored ({rows}×{cols})", ldName);
        long need = rows == 0 || cols == 0 ? 0 : (long)(rows - 1) * ld + cols;
        if (length < need)
            throw new ArgumentException($"Gemm: {name} has {length} elements, but a {rows}×{cols} matrix with {ldName} = {ld} needs {need}", name);
    }

    /// <summary>Generic entry: dispatches to the float or double kernel.</summary>
    public static void Compute<T>(bool transA, bool transB, int m, int n, int k, T alpha,
        ReadOnlySpan<T> a, int lda, ReadOnlySpan<T> b, int ldb, T beta, Span<T> c, int ldc)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (typeof(T) == typeof(float))
            Compute(transA, transB, m, n, k, float.CreateTruncating(alpha),
                MemoryMarshal.Cast<T, float>(a), lda,
                MemoryMarshal.Cast<T, float>(b), ldb, float.CreateTruncating(beta),
                MemoryMarshal.Cast<T, float>(c), ldc);
        else if (typeof(T) == typeof(double))
            Compute(transA, transB, m, n, k, double.CreateTruncating(alpha),
                MemoryMarshal.Cast<T, double>(a), lda,
                MemoryMarshal.Cast<T, double>(b), ldb, double.CreateTruncating(beta),
                MemoryMarshal.Cast<T, double>(c), ldc);
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
