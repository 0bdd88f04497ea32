using System.Diagnostics;
using System.Globalization;
using NormalizingFlows.Tensors.Kernels;

namespace NormalizingFlows.Bench;

/// <summary>GEMM throughput benchmark: one JSON line per (shape, variant, dtype, threads, ISA).</summary>
internal static unsafe class GemmBench
{
    private static bool noBlas, best;

    public static int Run(string[] args)
    {
        if (args.Contains("--side-by-side")) return GemmSideBySide.Run(args);
        var threads = new List<int> { 1, 2 };
        var dtypes = new List<string> { "float32" };
        var isas = new List<GemmIsa> { GemmIsa.Auto };
        bool quick = false;
        var custom = new List<(int m, int k, int n, string trans)>();
        string shapesSel = "all";
        for (int i = 0; i < args.Length; i++)
        {
            string v = i + 1 < args.Length ? args[i + 1] : "";
            switch (args[i])
            {
                case "--threads":
                    threads = v == "all" ? [1, 2] : [int.Parse(v, CultureInfo.InvariantCulture)];
                    i++;
                    break;
                case "--dtype":
                    dtypes = v == "all" ? ["float32", "float64"] : [v];
                    i++;
                    break;
                case "--isa":
                    isas = v switch
                    {
                        "all" => AllIsas(),
                        "avx2" => [GemmIsa.Avx2],
                        "avx512" => [GemmIsa.Avx512],
                        "portable" => [GemmIsa.Portable],
                        _ => [GemmIsa.Auto],
                    };
                    i++;
                    break;
                case "--shapes":
                    shapesSel = v;
                    i++;
                    break;
                case "--kc": Gemm.TuneKC = int.Parse(v, CultureInfo.InvariantCulture); i++; break;
                case "--mc": Gemm.TuneMC = int.Parse(v, CultureInfo.InvariantCulture); i++; break;
                case "--swap": Gemm.TuneSwap = int.Parse(v, CultureInfo.InvariantCulture); i++; break;
                case "--tile": Gemm.TuneTile = int.Parse(v, CultureInfo.InvariantCulture); i++; break;
                case "--nc": Gemm.TuneNC = int.Parse(v, CultureInfo.InvariantCulture); i++; break;
                case "--shape":
                {
                    // m,k,n,TRANS (tuning): replaces the shape list.
                    string[] f = v.Split(',');
                    custom.Add((int.Parse(f[0], CultureInfo.InvariantCulture), int.Parse(f[1], CultureInfo.InvariantCulture),
                        int.Parse(f[2], CultureInfo.InvariantCulture), f[3]));
                    i++;
                    break;
                }
                case "--no-blas": noBlas = true; break;
                case "--best": best = true; break;
                case "--pool-overhead": PoolOverhead(); return 0;
                case "--split-probe": SplitProbe(v.Length > 0 ? int.Parse(v, CultureInfo.InvariantCulture) : 18); return 0;
                case "--quick":
                    quick = true;
                    break;
                default:
                    Console.Error.WriteLine($"gemm: unknown option {args[i]}");
                    return 2;
            }
        }
        foreach (string d in dtypes)
            if (d != "float32" && d != "float64")
            {
                Console.Error.WriteLine($"gemm: unknown dtype {d}");
                return 2;
            }

        var shapes = new List<(int m, int k, int n, string trans)>(custom);
        if (custom.Count == 0) shapes.AddRange(Shapes(shapesSel, quick));

        // Warm-up so that tiered compilation has optimised the whole call path before the first measurement.
        WarmUp();
        foreach (string dtype in dtypes)
            foreach (var s in shapes)
                foreach (int th in threads)
                    foreach (GemmIsa isa in isas)
                    {
                        if (dtype == "float32") Measure<float>(s.m, s.k, s.n, s.trans, th, isa, quick);
                        else Measure<double>(s.m, s.k, s.n, s.trans, th, isa, quick);
                    }
        return 0;
    }

    /// <summary>
    /// The shape lists: <c>main</c> (square-ish, all four transposes), <c>flow</c> (the flows' layer shapes),
    /// <c>wgrad</c> (weight gradients, k = batch), <c>mkl</c> (issue 16's: m = 512 … 10 000, k, n = 18 … 256, NN/NT/TN),
    /// <c>all</c> (main, flow and wgrad) or <c>none</c>.
    /// </summary>
    public static List<(int m, int k, int n, string trans)> Shapes(string sel, bool quick)
    {
        if (sel is not ("all" or "main" or "flow" or "wgrad" or "mkl" or "none"))
            throw new ArgumentException($"gemm: --shapes wants main, flow, wgrad, mkl, all or none, got '{sel}'");
        var shapes = new List<(int m, int k, int n, string trans)>();
        if (sel is "all" or "main")
            foreach (var (m, k, n) in new[] { (512, 128, 128), (4096, 256, 256), (1024, 1024, 1024) })
                foreach (string t in new[] { "NN", "NT", "TN", "TT" })
                    if (!quick || m != 1024) shapes.Add((m, k, n, t));
        if (sel is "all" or "flow")
            foreach (int m in quick ? new[] { 512 } : new[] { 512, 4096 })
                foreach (var (k, n) in new[] { (18, 128), (128, 128), (128, 36), (128, 414), (2, 128), (128, 4) })
                    foreach (string t in new[] { "NN", "NT", "TN" })
                        shapes.Add((m, k, n, t));
        if (sel is "all" or "wgrad")
            // Weight gradients as they occur in backward: dW = gyᵀ·x (TN), k = batch.
            foreach (int batch in quick ? new[] { 512 } : new[] { 512, 4096 })
                foreach (var (outF, inF) in new[] { (128, 18), (128, 128), (36, 128), (414, 128), (128, 2), (4, 128) })
                    shapes.Add((outF, batch, inF, "TN"));
        if (sel is "mkl")
            foreach (int m in quick ? new[] { 512, 4096 } : new[] { 512, 4096, 10000 })
                foreach (var (k, n) in new[] { (18, 128), (128, 18), (128, 36), (128, 128), (256, 256) })
                    foreach (string t in new[] { "NN", "NT", "TN" })
                        shapes.Add((m, k, n, t));
        return shapes;
    }

    private static void WarmUp()
    {
        var a = new float[96 * 96];
        var c = new float[96 * 96];
        var ad = new double[96 * 96];
        var cd = new double[96 * 96];
        var sw = Stopwatch.StartNew();
        while (sw.Elapsed.TotalSeconds < 0.5)
            foreach (bool t in new[] { false, true })
            {
                Gemm.Compute(t, !t, 96, 90, 96, 1f, a, 96, a, 96, 0.5f, c, 96);
                Gemm.Compute(t, t, 96, 3, 96, 1f, a, 96, a, 96, 0f, c, 96);
                Gemm.Compute(t, !t, 96, 90, 96, 1.0, ad, 96, ad, 96, 0.5, cd, 96);
                Gemm.Compute(t, t, 96, 3, 96, 1.0, ad, 96, ad, 96, 0.0, cd, 96);
            }
    }

    private struct Probe
    {
        public float* A, B, C;
        public int M, N, K;
        public long T0, T1, E0, E1;
    }

    private static void ProbePart(void* state, int part)
    {
        var s = (Probe*)state;
        long t = Stopwatch.GetTimestamp();
        int h = s->M / 2;
        int r0 = part == 0 ? 0 : h, rows = part == 0 ? h : s->M - h;
        Gemm.Compute(false, true, rows, s->N, s->K, 1f, new ReadOnlySpan<float>(s->A + r0 * s->K, rows * s->K), s->K,
            new ReadOnlySpan<float>(s->B, s->N * s->K), s->K, 0f, new Span<float>(s->C + r0 * s->N, rows * s->N), s->N);
        long e = Stopwatch.GetTimestamp();
        if (part == 0) { s->T0 = t; s->E0 = e; } else { s->T1 = t; s->E1 = e; }
    }

    /// <summary>Diagnostic: per-part durations and the second part's start lag for a 2-way row split of 512×k×128 NT
    /// (a lag close to the first part's duration means the worker did not get a core in time).</summary>
    private static void SplitProbe(int k)
    {
        int m = 512, n = 128;
        var a = new float[m * k]; var b = new float[n * k]; var c = new float[m * n];
        fixed (float* pa = a, pb = b, pc = c)
        {
            var pr = new Probe { A = pa, B = pb, C = pc, M = m, N = n, K = k };
            foreach (int threads in new[] { 1, 2, 1, 2 })
            {
                WorkerPool.MaxThreads = threads;
                var tot = new List<double>(); var d0 = new List<double>(); var d1 = new List<double>(); var lag = new List<double>();
                for (int r = 0; r < 20000; r++)
                {
                    long t = Stopwatch.GetTimestamp();
                    WorkerPool.For(2, &ProbePart, &pr);
                    long e = Stopwatch.GetTimestamp();
                    tot.Add((e - t) * 1e6 / Stopwatch.Frequency);
                    d0.Add((pr.E0 - pr.T0) * 1e6 / Stopwatch.Frequency);
                    d1.Add((pr.E1 - pr.T1) * 1e6 / Stopwatch.Frequency);
                    lag.Add((pr.T1 - t) * 1e6 / Stopwatch.Frequency);
                }
                tot.Sort(); d0.Sort(); d1.Sort(); lag.Sort();
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"threads={threads}: total {tot[10000]:F2} us, part0 {d0[10000]:F2}, part1 {d1[10000]:F2}, part1 start lag p10 {lag[2000]:F2} p50 {lag[10000]:F2} p90 {lag[18000]:F2}"));
            }
        }
    }

    private static void Empty(void* state, int part) { }

    private static void Busy(void* state, int part)
    {
        long n = *(long*)state;
        double x = 1;
        for (long i = 0; i < n; i++) x = x * 0.999999 + 1e-7;
        if (x == 12345) Console.WriteLine();
    }

    /// <summary>Fork/join cost of <see cref="WorkerPool.For"/> with an empty body (µs per call, median of batches).</summary>
    private static void PoolOverhead()
    {
        foreach (int threads in new[] { 1, 2 })
        {
            WorkerPool.MaxThreads = threads;
            var rates = new List<double>();
            for (int r = 0; r < 50; r++)
            {
                long t0 = Stopwatch.GetTimestamp();
                for (int i = 0; i < 10000; i++) WorkerPool.For(2, &Empty, null);
                rates.Add(Stopwatch.GetElapsedTime(t0).TotalMicroseconds / 10000);
            }
            rates.Sort();
            foreach (long iters in new long[] { 1000, 3000, 10000, 30000 })
            {
                var ts = new List<double>();
                long it = iters;
                for (int r = 0; r < 200; r++)
                {
                    long t0 = Stopwatch.GetTimestamp();
                    for (int i = 0; i < 20; i++) WorkerPool.For(2, &Busy, &it);
                    ts.Add(Stopwatch.GetElapsedTime(t0).TotalMicroseconds / 20);
                }
                ts.Sort();
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"busy threads={threads} iters={iters}: best {ts[0]:F2} us median {ts[100]:F2} us"));
            }
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{{\"bench\":\"pool\",\"threads\":{threads},\"us_per_call_median\":{rates[25]:F3},\"us_per_call_best\":{rates[0]:F3}}}"));
        }
    }

    private static List<GemmIsa> AllIsas()
    {
        var l = new List<GemmIsa> { GemmIsa.Portable };
        if (Gemm.Avx2Supported) l.Add(GemmIsa.Avx2);
        if (Gemm.Avx512Supported) l.Add(GemmIsa.Avx512);
        return l;
    }

    private static void Measure<T>(int m, int k, int n, string trans, int threads, GemmIsa isa, bool quick)
        where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        bool ta = trans[0] == 'T', tb = trans[1] == 'T';
        int lda = ta ? m : k, ldb = tb ? k : n, ldc = n;
        var rng = new Random(42);
        var a = new T[(long)m * k];
        var b = new T[(long)k * n];
        var c = new T[(long)m * n];
        for (int i = 0; i < a.Length; i++) a[i] = T.CreateTruncating(rng.NextDouble() - 0.5);
        for (int i = 0; i < b.Length; i++) b[i] = T.CreateTruncating(rng.NextDouble() - 0.5);
        double flops = 2.0 * m * n * k;
        double minTime = quick ? 0.05 : 0.2;

        int savedThreads = WorkerPool.MaxThreads;
        WorkerPool.MaxThreads = threads;
        Gemm.ForcedIsa = isa;
        string isaName = Gemm.ActiveIsa.ToString().ToLowerInvariant();
        double ours = Time(() => Gemm.Compute(ta, tb, m, n, k, T.One, a, lda, b, ldb, T.Zero, c, ldc), flops, minTime);
        Gemm.ForcedIsa = GemmIsa.Auto;
        WorkerPool.MaxThreads = savedThreads;

        double? blas = null;
        if (OpenBlas.Available && !noBlas)
        {
            OpenBlas.Threads(threads);
            int tA = ta ? OpenBlas.Trans : OpenBlas.NoTrans, tB = tb ? OpenBlas.Trans : OpenBlas.NoTrans;
            fixed (T* pa = a, pb = b, pc = c)
            {
                T* xa = pa, xb = pb, xc = pc;
                if (typeof(T) == typeof(float))
                    blas = Time(() => OpenBlas.Sgemm(OpenBlas.RowMajor, tA, tB, m, n, k, 1f, (float*)xa, lda, (float*)xb, ldb, 0f, (float*)xc, ldc), flops, minTime);
                else
                    blas = Time(() => OpenBlas.Dgemm(OpenBlas.RowMajor, tA, tB, m, n, k, 1.0, (double*)xa, lda, (double*)xb, ldb, 0.0, (double*)xc, ldc), flops, minTime);
            }
        }
        string dtype = typeof(T) == typeof(float) ? "float32" : "float64";
        double peak = (typeof(T) == typeof(float) ? GemmTiming.PeakF32PerThread : GemmTiming.PeakF64PerThread) * threads;
        var ci = CultureInfo.InvariantCulture;
        Console.WriteLine(string.Create(ci,
            $"{{\"bench\":\"gemm\",\"dtype\":\"{dtype}\",\"m\":{m},\"k\":{k},\"n\":{n},\"trans\":\"{trans}\",\"threads\":{threads},\"isa\":\"{isaName}\",\"gflops\":{ours:F2},\"peak_fraction\":{ours / peak:F3},\"openblas_gflops\":{(blas is double x ? x.ToString("F2", ci) : "null")}}}"));
    }

    private static double Time(Action f, double flops, double minTime) => GemmTiming.Rate(f, flops, minTime, best);
}
