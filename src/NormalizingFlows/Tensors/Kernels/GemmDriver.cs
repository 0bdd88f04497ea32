using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace NormalizingFlows.Tensors.Kernels;

/// <summary>Micro-kernel and blocking parameters of one ISA path for one element type.</summary>
internal unsafe struct GemmConfig<T> where T : unmanaged
{
    public int MR, NR, KC, MC, NC;
    public delegate*<nint, T*, T*, T*, nint, T, T, void> Kernel;
    /// <summary>Optional 4×NR kernel for problems with few rows (narrow outputs computed as Cᵀ).</summary>
    public delegate*<nint, T*, T*, T*, nint, T, T, void> Kernel4;
    /// <summary>Optional 6×NR kernel (when MR &gt; 6) for problems with few rows.</summary>
    public delegate*<nint, T*, T*, T*, nint, T, T, void> Kernel6;

    /// <summary>Rows computed (including padding) for an m-row problem with the row tile chosen for it.</summary>
    public readonly int PaddedRows(int m) => PaddedRows(m, out _);

    /// <summary>Picks the row tile (MR, or the 6- or 4-row kernel) that pads an m-row problem least; ties go to the larger tile.</summary>
    public readonly int PaddedRows(int m, out int mr)
    {
        mr = MR;
        int best = (m + MR - 1) / MR * MR;
        if (m >= 4 * MR) return best; // many tiles: the main kernel's padding is negligible
        if (Kernel6 != null && MR > 6)
        {
            int p6 = (m + 5) / 6 * 6;
            if (p6 < best) { best = p6; mr = 6; }
        }
        if (Kernel4 != null && MR > 4)
        {
            int p4 = (m + 3) / 4 * 4;
            if (p4 < best) { best = p4; mr = 4; }
        }
        return best;
    }
    public bool VectorPack;
    public GemmIsa Isa;
    /// <summary>
    /// Optional MR×NR kernel reading A's rows in place (row-major A, contiguous along k): full row panels of such an
    /// A are not packed. Same FMA order as <see cref="Kernel"/>, so results are bit-identical.
    /// </summary>
    public delegate*<nint, T*, nint, T*, T*, nint, T, T, void> DirectKernel;
    /// <summary>
    /// Optional <see cref="DirectKernel"/> with the bias+ReLU epilogue (C = max(acc + bias, 0), NaN kept; alpha = 1,
    /// beta = 0): the fused forward of a linear+ReLU layer.
    /// </summary>
    public delegate*<nint, T*, nint, T*, T*, nint, T*, void> DirectBiasReluKernel;
}

/// <summary>A GEMM problem on strided operands: op(A)[i,p] = A[i·Ars + p·Acs], op(B)[p,j] = B[p·Brs + j·Bcs], C[i,j] = C[i·Crs + j·Ccs].</summary>
internal unsafe struct GemmJob<T> where T : unmanaged
{
    public GemmConfig<T> Cfg;
    public T* A, B, C, Scratch;
    public nint Ars, Acs, Brs, Bcs, Crs, Ccs;
    public int M, N, K;
    public T Alpha, Beta;
    public int Parts;
    public int Mode; // 0: split M, 1: split N, 2: split K (part 0 into C, part q > 0 into Scratch + (q − 1)·M·N)
    public T* Bias; // non-null: the bias+ReLU epilogue (one bias per column of C)
}

/// <summary>Per-thread packing buffers (native, 64-byte aligned), grown on demand and freed with the thread.</summary>
internal sealed unsafe class GemmBuffers
{
    [ThreadStatic] private static GemmBuffers? t_current;
    private void* _a, _b, _s;
    private nuint _aBytes, _bBytes, _sBytes;

    public static GemmBuffers Current => t_current ??= new GemmBuffers();

    public void* A(nuint bytes) => Ensure(ref _a, ref _aBytes, bytes);
    public void* B(nuint bytes) => Ensure(ref _b, ref _bBytes, bytes);
    public void* S(nuint bytes) => Ensure(ref _s, ref _sBytes, bytes);

    private static void* Ensure(ref void* p, ref nuint have, nuint bytes)
    {
        if (have >= bytes) return p;
        if (p != null) NativeMemory.AlignedFree(p);
        nuint size = Math.Max(bytes, have * 2);
        p = NativeMemory.AlignedAlloc(size, 64);
        have = size;
        return p;
    }

    ~GemmBuffers()
    {
        if (_a != null) NativeMemory.AlignedFree(_a);
        if (_b != null) NativeMemory.AlignedFree(_b);
        if (_s != null) NativeMemory.AlignedFree(_s);
    }
}

/// <summary>The BLIS loop nest (NC → KC → pack B → MC → pack A → NR → MR → micro-kernel), threading and the direct small path.</summary>
internal static unsafe class GemmDriver<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>
    /// True when <see cref="Run"/> can apply the bias+ReLU epilogue to this problem inside the micro-kernels: a
    /// float ISA with the fused kernel, A row-major (read in place), k within one cache block, the problem not
    /// transposed (<see cref="Swaps"/>), threaded along M or N. Otherwise the caller runs the plain product and a
    /// separate bias+ReLU pass.
    /// </summary>
    public static bool CanFuseBiasRelu(in GemmConfig<T> cfg, nint acs, int m, int n, int k) =>
        cfg.DirectBiasReluKernel != null && acs == 1 && k <= cfg.KC && (long)m * n * k > Gemm.DirectMaxVolume
        && n > 1 && m > 1 && !Swaps(in cfg, acs, m, n) && KParts(m, n, k, cfg) == 1;

    /// <summary>
    /// Whether a problem is computed transposed, Cᵀ = op(B)ᵀ·op(A)ᵀ: when that pads the register tiles less. Where
    /// the untransposed A would be read in place (row-major, the direct kernel), the transposed form must pack that
    /// large operand as B instead; measured on the bench's narrow outputs (m = 512–10 000, k = 64–256, AVX-512)
    /// that packing costs about as much as 45 % of the multiply, so the transposed form must pad at least ~2× less
    /// to pay (n = 4: transposing is 1.6–1.9× faster; n = 12: 1.3×; n = 18, 23, 46: 7–25 % slower).
    /// </summary>
    internal static bool Swaps(in GemmConfig<T> cfg, nint acs, int m, int n)
    {
        if (Gemm.TuneSwap == 2) return false;
        double straight = m / (double)cfg.PaddedRows(m, out int mr) * Efficiency(n, cfg.NR);
        double swapped = n / (double)cfg.PaddedRows(n) * Efficiency(m, cfg.NR);
        bool readsAInPlace = cfg.DirectKernel != null && acs == 1 && mr == cfg.MR && m > n;
        if (readsAInPlace && Gemm.TuneSwap != 1) swapped *= 0.55;
        return swapped > 1.05 * straight;
    }

    // Weight-gradient shape (small M·N, long K): K is split into a shape-determined number of parts so that the
    // result does not depend on the thread count.
    private static int KParts(int m, int n, int k, in GemmConfig<T> cfg)
    {
        double minFlops = Gemm.ParallelMinFlops * (cfg.Isa == GemmIsa.Avx512 ? 2 : 1);
        if (Environment.ProcessorCount > 1 && k >= 16 * Math.Max(m, n) && 2.0 * m * n * k >= minFlops)
            return Math.Clamp(k / (8 * Math.Max(m, n)), 1, Environment.ProcessorCount);
        return 1;
    }

    /// <summary>
    /// Runs a validated problem (pointers fixed by the caller). With <paramref name="bias"/> (only where
    /// <see cref="CanFuseBiasRelu"/>; alpha = 1, beta = 0), C = max(op(A)·op(B) + bias, 0) per column.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Run(in GemmConfig<T> cfg, T* a, nint ars, nint acs, T* b, nint brs, nint bcs, T* c, nint crs, nint ccs,
        int m, int n, int k, T alpha, T beta, T* bias = null)
    {
        System.Diagnostics.Debug.Assert(bias == null || (CanFuseBiasRelu(in cfg, acs, m, n, k) && ccs == 1 && alpha == T.One && beta == T.Zero),
            "the bias+ReLU epilogue needs a problem that can fuse it (Gemm.TryComputeBiasRelu checks)");
        if ((long)m * n * k <= Gemm.DirectMaxVolume)
        {
            Direct(a, ars, acs, b, brs, bcs, c, crs, ccs, m, n, k, alpha, beta);
            return;
        }
        if (n == 1)
        {
            Gemv(a, ars, acs, b, brs, c, crs, m, k, alpha, beta);
            return;
        }
        if (m == 1)
        {
            // C row = op(B)ᵀ·a: a matrix-vector product with op(B)ᵀ (n×k) and the vector a.
            Gemv(b, bcs, brs, a, acs, c, ccs, n, k, alpha, beta);
            return;
        }
        // Narrow N: compute Cᵀ = op(B)ᵀ·op(A)ᵀ when it wastes less of the register tiles.
        if (Swaps(in cfg, acs, m, n))
        {
            T* tp = a; a = b; b = tp;
            (ars, acs, brs, bcs) = (bcs, brs, acs, ars);
            (crs, ccs) = (ccs, crs);
            (m, n) = (n, m);
        }

        GemmConfig<T> cfgUsed = cfg;
        cfg.PaddedRows(m, out int mrUsed);
        if (mrUsed != cfg.MR)
        {
            cfgUsed.MR = mrUsed;
            cfgUsed.MC = Math.Max(mrUsed, cfg.MC / mrUsed * mrUsed);
            cfgUsed.Kernel = mrUsed == 6 ? cfg.Kernel6 : cfg.Kernel4;
            cfgUsed.DirectKernel = null;
        }
        var job = new GemmJob<T>
        {
            Cfg = cfgUsed, A = a, B = b, C = c, Ars = ars, Acs = acs, Brs = brs, Bcs = bcs, Crs = crs, Ccs = ccs,
            M = m, N = n, K = k, Alpha = alpha, Beta = beta, Bias = bias,
        };
        double flops = 2.0 * m * n * k;
        // AVX-512 cores finish a given problem twice as fast, so they need twice the work to amortise a fork/join.
        double minFlops = Gemm.ParallelMinFlops * (cfg.Isa == GemmIsa.Avx512 ? 2 : 1);
        int threads = flops >= minFlops ? Math.Min(WorkerPool.MaxThreads, Environment.ProcessorCount) : 1;

        // Weight-gradient shape: K in parts; the partial products are added in a fixed order.
        int kParts = KParts(m, n, k, in cfg);
        if (kParts > 1)
        {
            job.Mode = 2;
            job.Parts = kParts;
            nuint scratchBytes = (nuint)((long)(kParts - 1) * m * n * sizeof(T));
            job.Scratch = (T*)GemmBuffers.Current.S(scratchBytes);
            WorkerPool.For(kParts, &RunPart, &job);
            // C += Σ_q Scratch_q, in order.
            for (int q = 1; q < kParts; q++)
            {
                T* s = job.Scratch + (nint)(q - 1) * m * n;
                for (int i = 0; i < m; i++)
                {
                    T* ci = c + i * crs;
                    T* si = s + (nint)i * n;
                    if (ccs == 1) for (int j = 0; j < n; j++) ci[j] += si[j];
                    else for (int j = 0; j < n; j++) ci[j * ccs] += si[j];
                }
            }
            return;
        }

        int tilesM = (m + cfgUsed.MR - 1) / cfgUsed.MR, tilesN = (n + cfgUsed.NR - 1) / cfgUsed.NR;
        job.Mode = tilesM >= tilesN ? 0 : 1;
        job.Parts = Math.Min(threads, Math.Max(tilesM, tilesN));
        if (job.Parts <= 1) RunPart(&job, 0);
        else WorkerPool.For(job.Parts, &RunPart, &job);
    }

    private static double Efficiency(int size, int tile) => size / (double)((size + tile - 1) / tile * tile);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void RunPart(void* state, int part)
    {
        ref GemmJob<T> j = ref Unsafe.AsRef<GemmJob<T>>(state);
        ref GemmConfig<T> cfg = ref j.Cfg;
        switch (j.Mode)
        {
            case 0:
            {
                int tiles = (j.M + cfg.MR - 1) / cfg.MR;
                int t0 = (int)((long)tiles * part / j.Parts), t1 = (int)((long)tiles * (part + 1) / j.Parts);
                int i0 = t0 * cfg.MR, i1 = Math.Min(j.M, t1 * cfg.MR);
                if (i1 > i0)
                    Blocked(in cfg, j.A + i0 * j.Ars, j.Ars, j.Acs, j.B, j.Brs, j.Bcs, j.C + i0 * j.Crs, j.Crs, j.Ccs,
                        i1 - i0, j.N, j.K, j.Alpha, j.Beta, j.Bias);
                break;
            }
            case 1:
            {
                int tiles = (j.N + cfg.NR - 1) / cfg.NR;
                int t0 = (int)((long)tiles * part / j.Parts), t1 = (int)((long)tiles * (part + 1) / j.Parts);
                int j0 = t0 * cfg.NR, j1 = Math.Min(j.N, t1 * cfg.NR);
                if (j1 > j0)
                    Blocked(in cfg, j.A, j.Ars, j.Acs, j.B + j0 * j.Bcs, j.Brs, j.Bcs, j.C + j0 * j.Ccs, j.Crs, j.Ccs,
                        j.M, j1 - j0, j.K, j.Alpha, j.Beta, j.Bias == null ? null : j.Bias + j0);
                break;
            }
            default:
            {
                int k0 = (int)((long)j.K * part / j.Parts), k1 = (int)((long)j.K * (part + 1) / j.Parts);
                if (part == 0)
                    Blocked(in cfg, j.A, j.Ars, j.Acs, j.B, j.Brs, j.Bcs, j.C, j.Crs, j.Ccs, j.M, j.N, k1 - k0, j.Alpha, j.Beta);
                else
                    Blocked(in cfg, j.A + k0 * j.Acs, j.Ars, j.Acs, j.B + k0 * j.Brs, j.Brs, j.Bcs,
                        j.Scratch + (nint)(part - 1) * j.M * j.N, j.N, 1, j.M, j.N, k1 - k0, j.Alpha, T.Zero);
                break;
            }
        }
    }

    /// <summary>
    /// Single-threaded blocked GEMM on one sub-problem; with <paramref name="bias"/> (one K block, alpha = 1,
    /// beta = 0, ccs = 1) the tiles end with the bias+ReLU epilogue.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void Blocked(in GemmConfig<T> cfg, T* a, nint ars, nint acs, T* b, nint brs, nint bcs, T* c, nint crs, nint ccs,
        int m, int n, int k, T alpha, T beta, T* bias = null)
    {
        int MR = cfg.MR, NR = cfg.NR;
        if (k == 0)
        {
            ScaleC(c, crs, ccs, m, n, beta);
            return;
        }
        var kernel = cfg.Kernel;
        bool vec = cfg.VectorPack;
        bool direct = cfg.DirectKernel != null && acs == 1;
        // Balanced K chunks so that the last one is not tiny.
        int nkc = (k + cfg.KC - 1) / cfg.KC;
        int kcMax = (k + nkc - 1) / nkc;
        int ncMax = (Math.Min(cfg.NC, n) + NR - 1) / NR * NR;
        int mcMax = (Math.Min(cfg.MC, m) + MR - 1) / MR * MR;
        var bufs = GemmBuffers.Current;
        T* pb = (T*)bufs.B((nuint)(((long)kcMax * ncMax + 64) * sizeof(T)));
        // A micro-panels are PanelPad elements further apart than their size, so that writing many panels at once
        // (row-by-row packing) does not map them all onto the same L1 sets when kc·MR·size is a multiple of 4 KiB.
        const int PanelPad = 16;
        T* pa = (T*)bufs.A((nuint)(((long)(kcMax * MR + PanelPad) * (mcMax / MR) + 64) * sizeof(T)));
        T* tmp = stackalloc T[MR * NR];

        for (int jc = 0; jc < n; jc += cfg.NC)
        {
            int nc = Math.Min(cfg.NC, n - jc);
            int pc = 0;
            for (int kb = 0; kb < nkc; kb++)
            {
                int kc = Math.Min(kcMax, k - pc);
                nint aps = (nint)kc * MR + PanelPad;
                T betaEff = kb == 0 ? beta : T.One;
                // Pack the kc×nc panel of op(B).
                for (int jr = 0; jr < nc; jr += NR)
                {
                    int nr = Math.Min(NR, nc - jr);
                    T* src = b + pc * brs + (jc + jr) * bcs;
                    T* dst = pb + (nint)jr * kc;
                    if (bcs == 1) GemmPacking.PackRows(src, brs, nr, kc, NR, dst, vec, n - jc - jr);
                    else GemmPacking.PackStreams(src, bcs, nr, kc, NR, dst, vec);
                }
                for (int ic = 0; ic < m; ic += cfg.MC)
                {
                    int mc = Math.Min(cfg.MC, m - ic);
                    int packed = 0;
                    if (acs != 1 && ars == 1 && vec)
                        packed = GemmPacking.PackRowsBlock(a + ic + pc * acs, acs, mc / MR, kc, MR, pa, aps, m - ic);
                    else if (direct)
                        packed = mc / MR * MR; // full row panels are read in place; only a last partial one is packed
                    for (int ir = packed; ir < mc; ir += MR)
                    {
                        int mr = Math.Min(MR, mc - ir);
                        T* src = a + (ic + ir) * ars + pc * acs;
                        T* dst = pa + ir / MR * aps;
                        if (acs == 1) GemmPacking.PackStreams(src, ars, mr, kc, MR, dst, vec);
                        else GemmPacking.PackRows(src, acs, mr, kc, MR, dst, vec, m - ic - ir);
                    }
                    for (int jr = 0; jr < nc; jr += NR)
                    {
                        int nr = Math.Min(NR, nc - jr);
                        T* bp = pb + (nint)jr * kc;
                        T* cc = c + (ic) * crs + (jc + jr) * ccs;
                        for (int ir = 0; ir < mc; ir += MR)
                        {
                            int mr = Math.Min(MR, mc - ir);
                            T* ap = pa + ir / MR * aps;
                            T* ct = cc + ir * crs;
                            // full row panels of an A readable in place go to the unpacked kernel; edge tiles through tmp
                            bool inPlace = direct && mr == MR;
                            T* ar = a + (ic + ir) * ars + pc * acs;
                            if (bias != null)
                            {
                                T* bt = bias + jc + jr;
                                if (inPlace && nr == NR) cfg.DirectBiasReluKernel(kc, ar, ars, bp, ct, crs, bt);
                                else
                                {
                                    if (inPlace) cfg.DirectKernel(kc, ar, ars, bp, tmp, NR, T.One, T.Zero);
                                    else kernel(kc, ap, bp, tmp, NR, T.One, T.Zero);
                                    BiasReluTile(tmp, NR, mr, nr, bt);
                                    WriteTile(tmp, NR, ct, crs, ccs, mr, nr, T.One, T.Zero);
                                }
                            }
                            else if (mr == MR && nr == NR && ccs == 1)
                            {
                                if (inPlace) cfg.DirectKernel(kc, ar, ars, bp, ct, crs, alpha, betaEff);
                                else kernel(kc, ap, bp, ct, crs, alpha, betaEff);
                            }
                            else
                            {
                                if (inPlace) cfg.DirectKernel(kc, ar, ars, bp, tmp, NR, T.One, T.Zero);
                                else kernel(kc, ap, bp, tmp, NR, T.One, T.Zero);
                                if (crs == 1 && vec) GemmWriteOut.Transposed(tmp, NR, ct, ccs, mr, nr, alpha, betaEff);
                                else WriteTile(tmp, NR, ct, crs, ccs, mr, nr, alpha, betaEff);
                            }
                        }
                    }
                }
                pc += kc;
            }
        }
    }

    /// <summary>acc = max(acc + bias, 0) on an mr×nr tile, NaN kept: the fused kernels' epilogue for edge tiles.</summary>
    private static void BiasReluTile(T* acc, int ldacc, int mr, int nr, T* bias)
    {
        for (int i = 0; i < mr; i++)
            for (int j = 0; j < nr; j++)
            {
                T y = acc[i * ldacc + j] + bias[j];
                acc[i * ldacc + j] = y > T.Zero || T.IsNaN(y) ? y : T.Zero;
            }
    }

    /// <summary>C tile = alpha·acc + beta·C with exactly the rounding of the micro-kernels' write-out.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void WriteTile(T* acc, int ldacc, T* c, nint crs, nint ccs, int mr, int nr, T alpha, T beta)
    {
        bool scale = alpha != T.One;
        if (crs == 1 && ccs != 1)
        {
            for (int j = 0; j < nr; j++)
            {
                T* cj = c + j * ccs;
                for (int i = 0; i < mr; i++)
                {
                    T v = acc[i * ldacc + j];
                    if (scale) v *= alpha;
                    if (beta == T.Zero) cj[i] = v;
                    else if (beta == T.One) cj[i] = v + cj[i];
                    else cj[i] = v + cj[i] * beta;
                }
            }
            return;
        }
        if (ccs == 1 && Vector.IsHardwareAccelerated && nr >= Vector<T>.Count)
        {
            // rows contiguous: whole vectors per row, the same operations (scale, then + C or + C·beta) as the kernels
            int W = Vector<T>.Count;
            var va = new Vector<T>(alpha); var vb = new Vector<T>(beta);
            for (int i = 0; i < mr; i++)
            {
                T* ai = acc + i * ldacc;
                T* ci = c + i * crs;
                int j = 0;
                for (; j + W <= nr; j += W)
                {
                    var v = Vector.Load(ai + j);
                    if (scale) v *= va;
                    if (beta == T.Zero) v.Store(ci + j);
                    else if (beta == T.One) (v + Vector.Load(ci + j)).Store(ci + j);
                    else (v + Vector.Load(ci + j) * vb).Store(ci + j);
                }
                for (; j < nr; j++)
                {
                    T v = ai[j];
                    if (scale) v *= alpha;
                    if (beta == T.Zero) ci[j] = v;
                    else if (beta == T.One) ci[j] = v + ci[j];
                    else ci[j] = v + ci[j] * beta;
                }
            }
            return;
        }
        for (int i = 0; i < mr; i++)
        {
            T* ai = acc + i * ldacc;
            T* ci = c + i * crs;
            for (int j = 0; j < nr; j++)
            {
                T v = ai[j];
                if (scale) v *= alpha;
                T* cp = ci + j * ccs;
                if (beta == T.Zero) *cp = v;
                else if (beta == T.One) *cp = v + *cp;
                else *cp = v + *cp * beta;
            }
        }
    }

    /// <summary>C = beta·C (beta = 0 stores zeros, ignoring NaNs in C).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void ScaleC(T* c, nint crs, nint ccs, int m, int n, T beta)
    {
        if (beta == T.One) return;
        for (int i = 0; i < m; i++)
        {
            T* ci = c + i * crs;
            for (int j = 0; j < n; j++)
            {
                T* cp = ci + j * ccs;
                *cp = beta == T.Zero ? T.Zero : *cp * beta;
            }
        }
    }

    /// <summary>
    /// y[i·ys] = alpha·Σ_p M[i·mrs + p·mcs]·x[p·xs] + beta·y[i·ys]: row dot products when M's rows are contiguous,
    /// otherwise column-wise axpy into a buffer; vectorised with <c>Vector&lt;T&gt;</c>, accumulation order fixed by the shape.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void Gemv(T* mat, nint mrs, nint mcs, T* x, nint xs, T* y, nint ys, int m, int k, T alpha, T beta)
    {
        int w = Vector<T>.Count;
        var bufs = GemmBuffers.Current;
        if (mcs == 1)
        {
            T* xv = x;
            if (xs != 1)
            {
                xv = (T*)bufs.A((nuint)(k * sizeof(T)));
                for (int p = 0; p < k; p++) xv[p] = x[p * xs];
            }
            for (int i = 0; i < m; i++)
            {
                T* row = mat + i * mrs;
                Vector<T> s0 = Vector<T>.Zero, s1 = Vector<T>.Zero, s2 = Vector<T>.Zero, s3 = Vector<T>.Zero;
                int p = 0;
                for (; p + 4 * w <= k; p += 4 * w)
                {
                    s0 += Unsafe.ReadUnaligned<Vector<T>>(row + p) * Unsafe.ReadUnaligned<Vector<T>>(xv + p);
                    s1 += Unsafe.ReadUnaligned<Vector<T>>(row + p + w) * Unsafe.ReadUnaligned<Vector<T>>(xv + p + w);
                    s2 += Unsafe.ReadUnaligned<Vector<T>>(row + p + 2 * w) * Unsafe.ReadUnaligned<Vector<T>>(xv + p + 2 * w);
                    s3 += Unsafe.ReadUnaligned<Vector<T>>(row + p + 3 * w) * Unsafe.ReadUnaligned<Vector<T>>(xv + p + 3 * w);
                }
                for (; p + w <= k; p += w)
                    s0 += Unsafe.ReadUnaligned<Vector<T>>(row + p) * Unsafe.ReadUnaligned<Vector<T>>(xv + p);
                T sum = Vector.Sum((s0 + s1) + (s2 + s3));
                for (; p < k; p++) sum += row[p] * xv[p];
                Store(y + i * ys, sum, alpha, beta);
            }
            return;
        }
        // Columns of M contiguous (mrs == 1): acc[0..m) += M[:, p]·x[p] for each p in order.
        T* acc = (T*)bufs.A((nuint)(m * sizeof(T)));
        new Span<T>(acc, m).Clear();
        for (int p = 0; p < k; p++)
        {
            T* col = mat + p * mcs;
            T xp = x[p * xs];
            var vx = new Vector<T>(xp);
            int i = 0;
            for (; i + w <= m; i += w)
                Unsafe.WriteUnaligned(acc + i, Unsafe.ReadUnaligned<Vector<T>>(acc + i) + Unsafe.ReadUnaligned<Vector<T>>(col + i) * vx);
            for (; i < m; i++) acc[i] += col[i] * xp;
        }
        for (int i = 0; i < m; i++) Store(y + i * ys, acc[i], alpha, beta);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store(T* cp, T s, T alpha, T beta)
    {
        if (alpha != T.One) s *= alpha;
        if (beta == T.Zero) *cp = s;
        else if (beta == T.One) *cp = s + *cp;
        else *cp = s + *cp * beta;
    }

    /// <summary>Direct loop for tiny problems (no packing).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void Direct(T* a, nint ars, nint acs, T* b, nint brs, nint bcs, T* c, nint crs, nint ccs,
        int m, int n, int k, T alpha, T beta)
    {
        bool scale = alpha != T.One;
        for (int i = 0; i < m; i++)
        {
            T* ai = a + i * ars;
            for (int j = 0; j < n; j++)
            {
                T* bj = b + j * bcs;
                T s = T.Zero;
                for (int p = 0; p < k; p++) s += ai[p * acs] * bj[p * brs];
                if (scale) s *= alpha;
                T* cp = c + i * crs + j * ccs;
                if (beta == T.Zero) *cp = s;
                else if (beta == T.One) *cp = s + *cp;
                else *cp = s + *cp * beta;
            }
        }
    }
}
