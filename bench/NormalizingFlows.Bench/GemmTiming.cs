using System.Diagnostics;

namespace NormalizingFlows.Bench;

/// <summary>
/// The timing rule of <c>bench gemm</c>, shared with bench/AnchorMm (which compiles this file in), so that our GEMM
/// and MKL's are timed the same way: one warm-up call, calls per batch chosen so a batch lasts ≈ 2 ms, then batches
/// until ≥ <c>minTime</c> s and ≥ 5 batches; the median (or with <c>best</c> the fastest) batch's GFLOP/s.
/// </summary>
internal static class GemmTiming
{
    /// <summary>FMA peak GFLOP/s of one core of the project's 2-core AMD machine (32 flop/cycle × 3.2 GHz), for <c>peak_fraction</c>.</summary>
    public const double PeakF32PerThread = 102.4, PeakF64PerThread = 51.2;

    public static double Rate(Action f, double flops, double minTime, bool best)
    {
        var sw = Stopwatch.StartNew();
        f();
        int calls = 0;
        sw.Restart();
        while (sw.Elapsed.TotalSeconds < 0.02 || calls < 3) { f(); calls++; }
        int perBatch = Math.Max(1, (int)(calls * 0.002 / sw.Elapsed.TotalSeconds));
        var rates = new List<double>();
        double total = 0;
        while (total < minTime || rates.Count < 5)
        {
            long t0 = Stopwatch.GetTimestamp();
            for (int i = 0; i < perBatch; i++) f();
            double dt = Stopwatch.GetElapsedTime(t0).TotalSeconds;
            total += dt;
            rates.Add(flops * perBatch / dt / 1e9);
            if (rates.Count > 2000) break;
        }
        rates.Sort();
        return best ? rates[^1] : rates[rates.Count / 2];
    }
}
