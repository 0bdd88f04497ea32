using System.Diagnostics;
using NormalizingFlows.Tensors.Kernels;

namespace NormalizingFlows.Bench;

/// <summary>
/// The bias + ReLU GEMM epilogue (as a row pass after the GEMM, and applied per tile right after the micro-kernel)
/// against GEMM followed by TensorPrimitives passes, on the linear-layer shapes of the flow workloads (y = x·Wᵀ,
/// float32), with outputs rotating over cold buffers; and the unpacked-A micro-kernel against packing. Medians of
/// alternating runs, one JSON line per shape.
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
            // outputs rotate over buffers larger than the caches together, as pooled activations do in a flow
            var ys = Enumerable.Range(0, Math.Max(2, (int)(64_000_000L / (4L * m * n)))).Select(_ => new float[m * n]).ToArray();
            int reps = Math.Max(20, (int)(2e9 / (2.0 * m * n * k)));
            var separate = new List<double>(); var rowPass = new List<double>(); var perTile = new List<double>();
            for (int r = 0; r < reps + 5; r++)
            {
                var yr = ys[r % ys.Length];
                long t0 = Stopwatch.GetTimestamp();
                Gemm.Compute(false, true, m, n, k, 1f, x, k, w, k, 0f, yr, n);
                SeparatePass(yr, b, m, n);
                double ts = Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
                yr = ys[(r + 1) % ys.Length];
                Gemm.TuneSeparateEpilogue = 1;
                t0 = Stopwatch.GetTimestamp();
                Gemm.ComputeBiasRelu<float>(false, true, m, n, k, x, k, w, k, b, yr, n);
                double tr = Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
                yr = ys[(r + 2) % ys.Length];
                Gemm.TuneSeparateEpilogue = 0;
                t0 = Stopwatch.GetTimestamp();
                Gemm.ComputeBiasRelu<float>(false, true, m, n, k, x, k, w, k, b, yr, n);
                double tt = Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
                Gemm.TuneSeparateEpilogue = 1;
                if (r >= 5) { separate.Add(ts); rowPass.Add(tr); perTile.Add(tt); }
            }
            separate.Sort(); rowPass.Sort(); perTile.Sort();
            double ms = separate[separate.Count / 2], mr = rowPass[rowPass.Count / 2], mt = perTile[perTile.Count / 2];
            Console.WriteLine($"{{\"bench\":\"epilogue\",\"m\":{m},\"k\":{k},\"n\":{n},\"gemm_then_tensorprimitives_ms\":{BenchUtil.Num(ms, "F4")},\"bias_relu_row_pass_ms\":{BenchUtil.Num(mr, "F4")},\"bias_relu_per_tile_ms\":{BenchUtil.Num(mt, "F4")}}}");
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
