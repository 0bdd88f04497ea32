using System.Numerics;
using NormalizingFlows.Autograd;
using NormalizingFlows.Tensors.Kernels;

namespace NormalizingFlows.Tests.Tensors;

[Collection("Kernels")]
public class GemmTests
{
    public static IEnumerable<object[]> Isas()
    {
        yield return ["Portable"];
        if (Gemm.Avx2Supported) yield return ["Avx2"];
        if (Gemm.Avx512Supported) yield return ["Avx512"];
    }

    private static readonly (bool, bool)[] Variants = [(false, false), (false, true), (true, false), (true, true)];

    private static T[] Random<T>(Random rng, int len) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var x = new T[len];
        for (int i = 0; i < len; i++) x[i] = T.CreateTruncating(rng.NextDouble() * 2 - 1);
        return x;
    }

    /// <summary>Runs one case against the reference, with padded leading dimensions whose padding must stay untouched.</summary>
    private static void Check<T>(GemmIsa isa, bool ta, bool tb, int m, int n, int k, double alpha, double beta, int pad, int seed = 1)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var rng = new Random(seed + m * 7919 + n * 104729 + k * 13);
        int ar = ta ? k : m, ac = ta ? m : k, br = tb ? n : k, bc = tb ? k : n;
        int lda = ac + pad, ldb = bc + pad, ldc = n + pad;
        T[] a = Random<T>(rng, Math.Max(0, ar * lda)), b = Random<T>(rng, Math.Max(0, br * ldb));
        T[] c = Random<T>(rng, m * ldc);
        T sentinel = T.CreateTruncating(12345.5);
        for (int i = 0; i < m; i++) for (int j = n; j < ldc; j++) c[i * ldc + j] = sentinel;
        if (beta == 0) for (int i = 0; i < m; i++) for (int j = 0; j < n; j++) c[i * ldc + j] = T.NaN;
        T[] expect = (T[])c.Clone();
        Gemm.Reference(ta, tb, m, n, k, T.CreateTruncating(alpha), a, lda, b, ldb, T.CreateTruncating(beta), expect, ldc);
        Gemm.ForcedIsa = isa;
        try { Gemm.Compute(ta, tb, m, n, k, T.CreateTruncating(alpha), a, lda, b, ldb, T.CreateTruncating(beta), c, ldc); }
        finally { Gemm.ForcedIsa = GemmIsa.Auto; }

        double rel = typeof(T) == typeof(float) ? 1e-5 * Math.Sqrt(Math.Max(k, 1)) : 1e-12;
        for (int i = 0; i < m; i++)
        {
            for (int j = 0; j < n; j++)
            {
                double scale = 0;
                for (int p = 0; p < k; p++)
                {
                    double av = double.CreateTruncating(ta ? a[p * lda + i] : a[i * lda + p]);
                    double bv = double.CreateTruncating(tb ? b[j * ldb + p] : b[p * ldb + j]);
                    scale += Math.Abs(av * bv);
                }
                scale = Math.Abs(alpha) * scale + (beta == 0 ? 0 : Math.Abs(beta)) + 1e-30;
                double got = double.CreateTruncating(c[i * ldc + j]), want = double.CreateTruncating(expect[i * ldc + j]);
                if (!(Math.Abs(got - want) <= rel * scale))
                    Assert.Fail($"{typeof(T).Name} {isa} {(ta ? 'T' : 'N')}{(tb ? 'T' : 'N')} m={m} n={n} k={k} alpha={alpha} beta={beta}: C[{i},{j}] = {got}, expected {want}");
            }
            for (int j = n; j < ldc; j++)
                Assert.True(c[i * ldc + j] == sentinel, $"padding of C row {i} column {j} was overwritten");
        }
    }

    private static readonly int[] Sizes = [1, 5, 6, 7, 15, 16, 17, 33, 127, 129];

    [Theory]
    [MemberData(nameof(Isas))]
    public void AwkwardSizesAllVariantsFloat(string isaName)
    {
        var isa = Enum.Parse<GemmIsa>(isaName);
        int idx = 0;
        foreach (var (ta, tb) in Variants)
            foreach (int m in Sizes)
            {
                // A deterministic spread of n and k for each m keeps the test fast but covers every size.
                int n = Sizes[(idx * 3 + 1) % Sizes.Length], k = Sizes[(idx * 7 + 2) % Sizes.Length];
                idx++;
                Check<float>(isa, ta, tb, m, n, k, 1, 0, 0);
                Check<float>(isa, ta, tb, n, m, k, -1.5, 1, 3);
                Check<float>(isa, ta, tb, k, n, m, 0.5, -0.75, 1);
            }
    }

    [Theory]
    [MemberData(nameof(Isas))]
    public void AwkwardSizesAllVariantsDouble(string isaName)
    {
        var isa = Enum.Parse<GemmIsa>(isaName);
        int idx = 0;
        foreach (var (ta, tb) in Variants)
            foreach (int m in Sizes)
            {
                int n = Sizes[(idx * 3 + 1) % Sizes.Length], k = Sizes[(idx * 7 + 2) % Sizes.Length];
                idx++;
                Check<double>(isa, ta, tb, m, n, k, 1, 0, 0);
                Check<double>(isa, ta, tb, n, m, k, -1.5, 1, 3);
                Check<double>(isa, ta, tb, k, n, m, 0.5, -0.75, 1);
            }
    }

    [Theory]
    [MemberData(nameof(Isas))]
    public void LargerShapesCrossBlockBoundaries(string isaName)
    {
        var isa = Enum.Parse<GemmIsa>(isaName);
        // k > KC (several K blocks), m > MC, narrow n (Cᵀ path), long k (K split), flow-like shapes.
        foreach (var (ta, tb) in Variants)
        {
            Check<float>(isa, ta, tb, 300, 129, 300, 1, 0, 2);
            Check<double>(isa, ta, tb, 300, 129, 300, 1, 0.5, 2);
        }
        Check<float>(isa, false, true, 517, 36, 128, 1, 0, 1);
        Check<float>(isa, false, false, 517, 2, 128, 1, 1, 1);
        Check<float>(isa, false, true, 600, 18, 128, 1, 0, 0);
        Check<double>(isa, false, false, 301, 18, 70, 1, 0.5, 1);
        Check<float>(isa, true, false, 30, 18, 900, 1, 1, 0);
        Check<float>(isa, false, false, 300, 130, 18, 1, 0, 0);
        Check<float>(isa, true, false, 36, 18, 1100, 1, 1, 3);
        Check<double>(isa, true, false, 20, 30, 1000, 1, 1, 3);
        Check<float>(isa, false, true, 3, 300, 40, 2, 0, 0);
        // Vector shapes (matrix-vector paths).
        foreach (var (ta, tb) in Variants)
        {
            Check<float>(isa, ta, tb, 300, 1, 129, 1, 0, 2);
            Check<float>(isa, ta, tb, 1, 300, 129, -1, 0.5, 1);
            Check<double>(isa, ta, tb, 130, 1, 67, 0.5, 1, 0);
            Check<double>(isa, ta, tb, 1, 130, 67, 1, 0, 3);
        }
    }

    [Theory]
    [MemberData(nameof(Isas))]
    public void ZeroSizesAndKZero(string isaName)
    {
        var isa = Enum.Parse<GemmIsa>(isaName);
        Gemm.ForcedIsa = isa;
        try
        {
            var c = new float[] { 1, 2, 3, 4, float.NaN, 6 };
            Gemm.Compute(false, false, 2, 3, 0, 1f, ReadOnlySpan<float>.Empty, 0, ReadOnlySpan<float>.Empty, 3, 2f, c, 3);
            Assert.Equal(new float[] { 2, 4, 6, 8, float.NaN, 12 }, c);
            Gemm.Compute(false, false, 2, 3, 0, 1f, ReadOnlySpan<float>.Empty, 0, ReadOnlySpan<float>.Empty, 3, 0f, c, 3);
            Assert.Equal(new float[6], c);
            var d = new double[] { 1, 2 };
            Gemm.Compute(true, true, 0, 2, 5, 1.0, ReadOnlySpan<double>.Empty, 0, new double[10], 5, 0.0, d, 2);
            Gemm.Compute(false, false, 1, 0, 5, 1.0, new double[5], 5, ReadOnlySpan<double>.Empty, 0, 0.0, d, 0);
            Assert.Equal(new double[] { 1, 2 }, d);
        }
        finally { Gemm.ForcedIsa = GemmIsa.Auto; }
        Check<float>(isa, false, false, 4, 5, 0, 1, 0.5, 1);
    }

    [Fact]
    public void ValidatesArguments()
    {
        var a = new float[12];
        var b = new float[12];
        var c = new float[12];
        Assert.Throws<ArgumentException>(() => Gemm.Compute(false, false, -1, 3, 4, 1f, a, 4, b, 3, 0f, c, 3));
        Assert.Throws<ArgumentException>(() => Gemm.Compute(false, false, 3, 3, 4, 1f, a, 3, b, 3, 0f, c, 3)); // lda < k
        var ex = Assert.Throws<ArgumentException>(() => Gemm.Compute(false, false, 3, 4, 4, 1f, a, 4, b, 4, 0f, c, 4)); // b too short
        Assert.Contains("b", ex.ParamName);
        ex = Assert.Throws<ArgumentException>(() => Gemm.Compute(false, false, 5, 3, 4, 1f, new float[20], 4, b, 3, 0f, c, 3)); // c too short
        Assert.Equal("c", ex.ParamName);
        ex = Assert.Throws<ArgumentException>(() => Gemm.Compute(true, false, 4, 3, 3, 1f, a, 3, b, 3, 0f, c, 3)); // transA: lda ≥ m
        Assert.Equal("lda", ex.ParamName);
    }

    [Theory]
    [MemberData(nameof(Isas))]
    public void OneAndTwoThreadsBitIdentical(string isaName)
    {
        var isa = Enum.Parse<GemmIsa>(isaName);
        // Shapes that take the M split, N split, Cᵀ and K-split paths.
        (bool, bool, int, int, int)[] shapes =
        [
            (false, true, 512, 128, 128), (false, false, 40, 700, 64), (false, false, 600, 4, 128),
            (true, false, 128, 18, 4096), (true, false, 36, 128, 2048), (true, true, 257, 255, 300),
        ];
        int saved = WorkerPool.MaxThreads;
        Gemm.ForcedIsa = isa;
        try
        {
            foreach (var (ta, tb, m, n, k) in shapes)
            {
                var rng = new Random(m + n + k);
                float[] a = Random<float>(rng, m * k), b = Random<float>(rng, k * n), c0 = Random<float>(rng, m * n);
                double[] ad = Random<double>(rng, m * k), bd = Random<double>(rng, k * n), cd0 = Random<double>(rng, m * n);
                int lda = ta ? m : k, ldb = tb ? k : n;
                float[] c1 = (float[])c0.Clone(), c2 = (float[])c0.Clone();
                double[] d1 = (double[])cd0.Clone(), d2 = (double[])cd0.Clone();
                WorkerPool.MaxThreads = 1;
                Gemm.Compute(ta, tb, m, n, k, 0.7f, a, lda, b, ldb, 0.3f, c1, n);
                Gemm.Compute(ta, tb, m, n, k, 0.7, ad, lda, bd, ldb, 0.3, d1, n);
                WorkerPool.MaxThreads = 2;
                Gemm.Compute(ta, tb, m, n, k, 0.7f, a, lda, b, ldb, 0.3f, c2, n);
                Gemm.Compute(ta, tb, m, n, k, 0.7, ad, lda, bd, ldb, 0.3, d2, n);
                Assert.True(c1.AsSpan().SequenceEqual(c2), $"float {m}×{n}×{k} differs between 1 and 2 threads");
                Assert.True(d1.AsSpan().SequenceEqual(d2), $"double {m}×{n}×{k} differs between 1 and 2 threads");
            }
        }
        finally
        {
            WorkerPool.MaxThreads = saved;
            Gemm.ForcedIsa = GemmIsa.Auto;
        }
    }

    [Theory]
    [MemberData(nameof(Isas))]
    public void BiasReluEpilogueIsBitIdenticalToTheSeparatePass(string isaName)
    {
        var isa = Enum.Parse<GemmIsa>(isaName);
        // full tiles, edge rows and columns, n below one tile, small m (6-/4-row kernels), padded lda; k > KC and
        // n = 1 cannot fuse; 1 and 2 threads (M and N splits)
        (int m, int n, int k, int pad, bool fusable)[] shapes =
        [
            (1000, 128, 9, 0, true), (2000, 128, 128, 0, true), (700, 64, 1, 0, true), (37, 40, 128, 5, true), (13, 200, 18, 1, true),
            (600, 18, 128, 0, true), (30, 700, 64, 2, true), (250, 70, 300, 0, false), (500, 1, 64, 0, false),
        ];
        int saved = WorkerPool.MaxThreads;
        Gemm.ForcedIsa = isa;
        try
        {
            foreach (var (m, n, k, pad, fusable) in shapes)
                foreach (int threads in new[] { 1, 2 })
                {
                    WorkerPool.MaxThreads = threads;
                    var rng = new Random(m * 3 + n * 5 + k);
                    int lda = k + pad;
                    float[] a = Random<float>(rng, m * lda), w = Random<float>(rng, n * k), bias = Random<float>(rng, n);
                    a[5 * lda % a.Length] = float.NaN; // a NaN input row stays NaN through the ReLU
                    float[] fused = Random<float>(rng, m * n), separate = new float[m * n];
                    bool didFuse = Gemm.TryComputeBiasRelu<float>(m, n, k, a, lda, w, k, bias, fused, n);
                    Gemm.Compute(false, true, m, n, k, 1f, a, lda, w, k, 0f, separate, n);
                    if (!didFuse) BiasRelu.Apply<float>(fused, m, n, bias);
                    BiasRelu.Apply<float>(separate, m, n, bias);
                    Assert.True(didFuse == (fusable && isa != GemmIsa.Portable), $"{isa} {m}×{n}×{k}: fused {didFuse}");
                    for (int i = 0; i < fused.Length; i++)
                        if (BitConverter.SingleToInt32Bits(fused[i]) != BitConverter.SingleToInt32Bits(separate[i]))
                            Assert.Fail($"{isa} {m}×{n}×{k} lda={lda} threads={threads}: C[{i / n},{i % n}] = {fused[i]} fused, {separate[i]} separate");
                    Assert.Contains(fused, float.IsNaN);
                    Assert.Contains(fused, v => v == 0);
                }
        }
        finally
        {
            WorkerPool.MaxThreads = saved;
            Gemm.ForcedIsa = GemmIsa.Auto;
        }
    }

    [Fact]
    public void NarrowOutputsOfARowMajorAAreComputedUntransposedUnlessVeryNarrow()
    {
        foreach (var isa in new[] { GemmIsa.Avx2, GemmIsa.Avx512 })
        {
            if (isa == GemmIsa.Avx2 ? !Gemm.Avx2Supported : !Gemm.Avx512Supported) continue;
            var cfg = Gemm.ConfigF32(isa);
            // A read in place (acs = 1): n = 18 is not transposed (the transposed form would pack all of A) ...
            Assert.False(GemmDriver<float>.Swaps(in cfg, 1, 10_000, 18), $"{isa}: 10000×18 with A in place");
            Assert.False(GemmDriver<float>.Swaps(in cfg, 1, 4096, 46), $"{isa}: 4096×46 with A in place");
            // ... a very narrow n still is, and so is n = 18 when A is transposed (packed either way)
            Assert.True(GemmDriver<float>.Swaps(in cfg, 1, 10_000, isa == GemmIsa.Avx2 ? 2 : 4), $"{isa}: very narrow n");
            Assert.True(GemmDriver<float>.Swaps(in cfg, 10_000, 10_000, 18), $"{isa}: 10000×18 with A transposed");
        }
    }

    [Theory]
    [MemberData(nameof(Isas))]
    public void UnpackedAKernelIsBitIdenticalToPackedPath(string isaName)
    {
        var isa = Enum.Parse<GemmIsa>(isaName);
        // row-major A (not transposed): full MR panels read in place, partial panels, K blocks, padded lda
        (int m, int n, int k, int pad)[] shapes = [(1000, 128, 9, 0), (250, 70, 300, 3), (37, 33, 128, 5), (12, 32, 600, 0), (13, 200, 18, 1)];
        Gemm.ForcedIsa = isa;
        try
        {
            foreach (var (m, n, k, pad) in shapes)
                foreach (bool tb in new[] { true, false })
                {
                    var rng = new Random(m * 3 + n * 5 + k);
                    int lda = k + pad, ldb = tb ? k : n;
                    float[] a = Random<float>(rng, m * lda), b = Random<float>(rng, (tb ? n : k) * ldb), c0 = Random<float>(rng, m * n);
                    float[] packed = (float[])c0.Clone(), direct = (float[])c0.Clone();
                    Gemm.TuneDirectA = 1;
                    try { Gemm.Compute(false, tb, m, n, k, 0.9f, a, lda, b, ldb, 0.4f, packed, n); }
                    finally { Gemm.TuneDirectA = 0; }
                    Gemm.Compute(false, tb, m, n, k, 0.9f, a, lda, b, ldb, 0.4f, direct, n);
                    Assert.True(packed.AsSpan().SequenceEqual(direct), $"{isa} {m}×{n}×{k} lda={lda} tb={tb}: unpacked-A result differs from packed");
                    var want = (float[])c0.Clone();
                    Gemm.Reference(false, tb, m, n, k, 0.9f, a, lda, b, ldb, 0.4f, want, n);
                    for (int i = 0; i < want.Length; i++)
                        Assert.True(Math.Abs(want[i] - direct[i]) <= 1e-4f * (1 + Math.Abs(want[i])) * Math.Sqrt(k), $"{isa} {m}×{n}×{k}: C[{i}] = {direct[i]}, reference {want[i]}");
                }
        }
        finally { Gemm.ForcedIsa = GemmIsa.Auto; }
    }

    [Fact]
    public void ConcurrentCallersGetCorrectResults()
    {
        // Several user threads share the worker pool (and each has its own packing buffers).
        const int m = 200, n = 150, k = 120;
        var rng = new Random(5);
        float[] a = Random<float>(rng, m * k), b = Random<float>(rng, k * n);
        var expect = new float[m * n];
        Gemm.Compute(false, false, m, n, k, 1f, a, k, b, n, 0f, expect, n);
        Exception? error = null;
        var threads = new Thread[3];
        for (int t = 0; t < threads.Length; t++)
        {
            threads[t] = new Thread(() =>
            {
                try
                {
                    var c = new float[m * n];
                    for (int r = 0; r < 30; r++)
                    {
                        Gemm.Compute(false, false, m, n, k, 1f, a, k, b, n, 0f, c, n);
                        if (!c.AsSpan().SequenceEqual(expect)) throw new Exception("concurrent GEMM result differs");
                    }
                }
                catch (Exception e) { error = e; }
            });
            threads[t].Start();
        }
        foreach (var t in threads) t.Join();
        Assert.Null(error);
    }

    [Fact]
    public void GenericEntryDispatches()
    {
        var a = new float[] { 1, 2, 3, 4 };
        var b = new float[] { 5, 6, 7, 8 };
        var c = new float[4];
        Gemm.Compute<float>(false, false, 2, 2, 2, 1f, a, 2, b, 2, 0f, c, 2);
        Assert.Equal(new float[] { 19, 22, 43, 50 }, c);
    }
}
