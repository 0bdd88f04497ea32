using System.Diagnostics;

namespace NormalizingFlows.Hep.Calorimeter;

/// <summary>Seconds per shower of a generation run: wall clock and CPU time of the process (all threads).</summary>
/// <param name="WallSeconds">Elapsed time per shower.</param>
/// <param name="CpuSeconds">Process CPU time per shower (user + system, summed over threads).</param>
public sealed record GenerationTiming(double WallSeconds, double CpuSeconds)
{
    /// <summary>
    /// Runs <paramref name="generate"/> (which makes <paramref name="count"/> showers) <paramref name="repeats"/> times and
    /// divides the fastest run's times by the count (the minimum is the steadiest estimate on a loaded machine).
    /// </summary>
    public static GenerationTiming Measure(int count, Action generate, int repeats = 1)
    {
        ArgumentNullException.ThrowIfNull(generate);
        double bestWall = double.PositiveInfinity, bestCpu = double.PositiveInfinity;
        for (int r = 0; r < Math.Max(1, repeats); r++)
        {
            var process = Process.GetCurrentProcess();
            var cpu0 = process.TotalProcessorTime;
            var clock = Stopwatch.StartNew();
            generate();
            double wall = clock.Elapsed.TotalSeconds;
            process.Refresh();
            double cpu = (process.TotalProcessorTime - cpu0).TotalSeconds;
            bestWall = Math.Min(bestWall, wall);
            bestCpu = Math.Min(bestCpu, cpu);
        }
        return new GenerationTiming(bestWall / Math.Max(1, count), bestCpu / Math.Max(1, count));
    }
}
