using System.Diagnostics;
using NormalizingFlows.Tensors.Kernels;

namespace NormalizingFlows.Bench;

/// <summary>
/// The fused bias + ReLU GEMM epilogue against GEMM followed by a separate bias + ReLU pass, on the linear-layer
/// shapes of the flow workloads (y = x·Wᵀ, float32, 1 thread). Runs the two alternately and prints the medians and
/// their ratio (one JSON line per shape).
/// </summary>
internal static class EpilogueBench
{
    public static int Run(string[] args)
    {
        WorkerPool.MaxThreads = int.Parse(BenchUtil.Option(args, "--threads") ?? "1", System.Globalization.CultureInfo.InvariantCulture);
        (int m, int k, int n)[] shapes = [(10000, 9, 128), (10000, 128, 128), (4096, 128, 128), (512, 128, 128), (512, 18, 128)];
        var rng = new Random(1);
        if (args.Contains("--tile")) return TileOnly();
        foreach (var (m, k, n) in shapes)
        {
            float[] x = Fill(rng, m * k), w = Fill(rng, n * k), b = Fill(rng, n), y = new float[m * n];
            int reps = Math.Max(20, (int)(2e9 / (2.0 * m * n * k)));
            var separate = new List<double>(); var fused = new List<double>();
            for (int r = 0; r < reps + 5; r++)
            {
                long t0 = Stopwatch.GetTimestamp();
                Gemm.Compute(false, true, m, n, k, 1f, x, k, w, k, 0f, y, n);
                SeparatePass(y, b, m, n);
                double ts = Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
                t0 = Stopwatch.GetTimestamp();
                Gemm.ComputeBiasRelu<float>(false, true, m, n, k, x, k, w, k, b, y, n);
                double tf = Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
                if (r >= 5) { separate.Add(ts); fused.Add(tf); }
            }
            separate.Sort(); fused.Sort();
            double ms = separate[separate.Count / 2], mf = fused[fused.Count / 2];
            Console.WriteLine($"{{\"bench\":\"epilogue\",\"m\":{m},\"k\":{k},\"n\":{n},\"separate_ms\":{BenchUtil.Num(ms, "F4")},\"fused_ms\":{BenchUtil.Num(mf, "F4")},\"speedup\":{BenchUtil.Num(ms / mf, "F3")}}}");
            // A read in place (unpacked) against A packed, same GEMM, alternately
            var packedT = new List<double>(); var directT = new List<double>();
            for (int r = 0; r < reps + 5; r++)
            {
                Gemm.TuneDirectA = 1;
                long t0 = Stopwatch.GetTimestamp();
                Gemm.Compute(false, true, m, n, k, 1f, x, k, w, k, 0f, y, n);
                double tp = Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
                Gemm.TuneDirectA = 0;
                t0 = Stopwatch.GetTimestamp();
                Gemm.Compute(false, true, m, n, k, 1f, x, k, w, k, 0f, y, n);
                double td = Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
                if (r >= 5) { packedT.Add(tp); directT.Add(td); }
            }
            packedT.Sort(); directT.Sort();
            double mp = packedT[packedT.Count / 2], md = directT[directT.Count / 2];
            Console.WriteLine($"{{\"bench\":\"direct_a\",\"m\":{m},\"k\":{k},\"n\":{n},\"packed_ms\":{BenchUtil.Num(mp, "F4")},\"direct_ms\":{BenchUtil.Num(md, "F4")},\"speedup\":{BenchUtil.Num(mp / md, "F3")},\"direct_gflops\":{BenchUtil.Num(2.0 * m * n * k / md / 1e6, "F1")}}}");
        }
        return 0;
    }

    // the pre-fusion epilogue: one vectorised bias + ReLU pass per row after the GEMM
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    private static void SeparatePass(float[] y, float[] b, int m, int n)
    {
        var bs = b.AsSpan();
        for (int i = 0; i < m; i++)
        {
            var row = y.AsSpan(i * n, n);
            System.Numerics.Tensors.TensorPrimitives.Add(row, bs, row);
            System.Numerics.Tensors.TensorPrimitives.Max(row, 0f, row);
        }
    }

    // diagnostics: the epilogue alone on one L1-resident 12×32 tile
    private static unsafe int TileOnly()
    {
        float[] c = Fill(new Random(2), 12 * 128), b = Fill(new Random(3), 32);
        fixed (float* pc = c, pb = b)
        {
            var ep = new GemmEpilogue<float> { Active = true, Bias = pb };
            for (int rep = 0; rep < 3; rep++)
            {
                long t0 = Stopwatch.GetTimestamp();
                const int N = 2_000_000;
                for (int i = 0; i < N; i++) GemmDriver<float>.ApplyEpilogue(pc, 128, 1, 12, 32, ep);
                double ns = Stopwatch.GetElapsedTime(t0).TotalMilliseconds * 1e6 / N;
                Console.WriteLine($"{{\"bench\":\"epilogue_tile\",\"ns_per_12x32_tile\":{BenchUtil.Num(ns, "F1")}}}");
            }
        }
        return 0;
    }

    private static float[] Fill(Random rng, int n)
    {
        var a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float)(rng.NextDouble() * 2 - 1);
        return a;
    }
}
