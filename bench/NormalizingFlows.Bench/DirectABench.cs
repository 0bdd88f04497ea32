using System.Diagnostics;
using NormalizingFlows.Tensors.Kernels;

namespace NormalizingFlows.Bench;

/// <summary>
/// The unpacked-A GEMM micro-kernel (full row panels of a row-major A read in place) against packing A, on the
/// linear-layer shapes of the flow workloads (y = x·Wᵀ, float32): medians of alternating runs, one JSON line per shape.
/// </summary>
internal static class DirectABench
{
    public static int Run(string[] args)
    {
        WorkerPool.MaxThreads = int.Parse(BenchUtil.Option(args, "--threads") ?? "1", System.Globalization.CultureInfo.InvariantCulture);
        (int m, int k, int n)[] shapes = [(10000, 9, 128), (10000, 128, 128), (4096, 128, 128), (512, 128, 128), (512, 18, 128)];
        var rng = new Random(1);
        foreach (var (m, k, n) in shapes)
        {
            float[] x = Fill(rng, m * k), w = Fill(rng, n * k), y = new float[m * n];
            int reps = Math.Max(20, (int)(2e9 / (2.0 * m * n * k)));
            var packed = new List<double>(); var direct = new List<double>();
            try
            {
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
                    if (r >= 5) { packed.Add(tp); direct.Add(td); }
                }
            }
            finally { Gemm.TuneDirectA = 0; }
            packed.Sort(); direct.Sort();
            double mp = packed[packed.Count / 2], md = direct[direct.Count / 2];
            Console.WriteLine($"{{\"bench\":\"direct_a\",\"m\":{m},\"k\":{k},\"n\":{n},\"packed_ms\":{BenchUtil.Num(mp, "F4")},\"direct_ms\":{BenchUtil.Num(md, "F4")},\"speedup\":{BenchUtil.Num(mp / md, "F3")},\"direct_gflops\":{BenchUtil.Num(2.0 * m * n * k / md / 1e6, "F1")}}}");
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
