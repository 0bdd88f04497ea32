using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.Json.Nodes;

namespace NormalizingFlows.Bench;

/// <summary>
/// What the side-by-side modes (<c>side-by-side</c> for the flows, <c>gemm --side-by-side</c>) share: child processes
/// of our bench and of an anchor whose JSON lines are collected, rounds that alternate which side runs first, the best
/// of an anchor's kernel sets per record, and the per-round ratio ours / anchor summarised as median [min–max].
/// </summary>
internal static class SideBySide
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    /// <summary>
    /// The anchor build named by <paramref name="option"/> (or the environment variable <paramref name="envVar"/>), or
    /// null after telling on stderr how to build it when it is not named or does not exist.
    /// </summary>
    public static string? Anchor(string[] args, string mode, string option, string envVar, string file, string build)
    {
        string? anchor = BenchUtil.Option(args, option) ?? Environment.GetEnvironmentVariable(envVar);
        if (anchor is not null && File.Exists(anchor)) return anchor;
        Console.Error.WriteLine(anchor is null
            ? $"{mode}: name the anchor's build with {option} PATH/{file} (or {envVar}); build it with: {build}"
            : $"{mode}: the anchor build '{anchor}' does not exist (build it with: {build})");
        return null;
    }

    /// <summary>A positive count option (<c>--rounds</c>, <c>--group</c>), or its default.</summary>
    public static int Count(string[] args, string option, int fallback)
    {
        int v = int.Parse(BenchUtil.Option(args, option) ?? fallback.ToString(Inv), Inv);
        return v >= 1 ? v : throw new ArgumentException($"{option} must be ≥ 1, got {v}");
    }

    /// <summary>Runs <paramref name="rounds"/> rounds, ours first in odd rounds (1st, 3rd, …) and the anchor first in even ones.</summary>
    public static (List<TOurs> Ours, List<TAnchor> Anchor) Alternate<TOurs, TAnchor>(int rounds, Func<TOurs> ours, Func<TAnchor> anchor)
    {
        var o = new List<TOurs>();
        var a = new List<TAnchor>();
        for (int r = 0; r < rounds; r++)
        {
            if (r % 2 == 0) { o.Add(ours()); a.Add(anchor()); }
            else { a.Add(anchor()); o.Add(ours()); }
        }
        return (o, a);
    }

    /// <summary>A child process of this bench (through <c>dotnet</c> when we run as a .dll) with the given arguments.</summary>
    public static ProcessStartInfo OurProcess(IEnumerable<string> args)
    {
        var psi = new ProcessStartInfo(Environment.ProcessPath!) { UseShellExecute = false, RedirectStandardOutput = true };
        if (Path.GetFileNameWithoutExtension(Environment.ProcessPath!) == "dotnet") psi.ArgumentList.Add(typeof(SideBySide).Assembly.Location);
        foreach (var a in args) psi.ArgumentList.Add(a);
        return psi;
    }

    /// <summary><c>dotnet DLL args…</c> as a child process (an anchor build).</summary>
    public static ProcessStartInfo DotnetProcess(string dll, IEnumerable<string> args)
    {
        var psi = new ProcessStartInfo("dotnet") { UseShellExecute = false, RedirectStandardOutput = true };
        psi.ArgumentList.Add(dll);
        foreach (var a in args) psi.ArgumentList.Add(a);
        return psi;
    }

    /// <summary>
    /// Runs the child: its stdout lines that are JSON objects with the field <paramref name="field"/>, its other lines,
    /// its exit code, and the cores other processes kept busy meanwhile (machine-wide busy time from /proc/stat less the
    /// child's and this process's CPU time, over the wall time; NaN where /proc/stat is missing).
    /// </summary>
    public static (int ExitCode, List<JsonObject> Records, List<string> Other, double ForeignCores) RunChild(ProcessStartInfo psi, string field)
    {
        double busy0 = BusySeconds(), children0 = ChildrenCpuSeconds(), self0 = Process.GetCurrentProcess().TotalProcessorTime.TotalSeconds;
        long t0 = Stopwatch.GetTimestamp();
        using var p = Process.Start(psi)!;
        var records = new List<JsonObject>();
        var other = new List<string>();
        string? line;
        while ((line = p.StandardOutput.ReadLine()) is not null)
            if (line.StartsWith('{') && JsonNode.Parse(line) is JsonObject o && o[field] is not null) records.Add(o);
            else other.Add(line);
        p.WaitForExit();
        double wall = Stopwatch.GetElapsedTime(t0).TotalSeconds;
        double own = ChildrenCpuSeconds() - children0 + Process.GetCurrentProcess().TotalProcessorTime.TotalSeconds - self0;
        double foreign = Math.Max(0, (BusySeconds() - busy0 - own) / wall);
        return (p.ExitCode, records, other, foreign);
    }

    /// <summary>CPU seconds all processors spent busy since boot (/proc/stat: user, nice, system, irq, softirq, steal at 100 ticks/s).</summary>
    private static double BusySeconds()
    {
        try
        {
            string[] f = File.ReadLines("/proc/stat").First().Split(' ', StringSplitOptions.RemoveEmptyEntries);
            return new[] { 1, 2, 3, 6, 7, 8 }.Sum(i => double.Parse(f[i], Inv)) / 100.0;
        }
        catch (IOException) { return double.NaN; }
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct RUsage
    {
        public long UserSec, UserUsec, SysSec, SysUsec;
        public long Rest0, Rest1, Rest2, Rest3, Rest4, Rest5, Rest6, Rest7, Rest8, Rest9, Rest10, Rest11, Rest12, Rest13;
    }

    [DllImport("libc", EntryPoint = "getrusage")]
    private static extern int GetRUsage(int who, out RUsage usage);

    /// <summary>User + system seconds of this process's finished (waited-for) children: getrusage(RUSAGE_CHILDREN).</summary>
    private static double ChildrenCpuSeconds()
    {
        if (!OperatingSystem.IsLinux() || GetRUsage(-1, out var u) != 0) return double.NaN;
        return u.UserSec + u.SysSec + (u.UserUsec + u.SysUsec) * 1e-6;
    }

    /// <summary>Keeps in <paramref name="best"/> the record of each key with the highest rate (the anchor's best kernel set).</summary>
    public static void KeepBest(Dictionary<string, JsonObject> best, IEnumerable<JsonObject> records, Func<JsonObject, string> key, Func<JsonObject, double> rate)
    {
        foreach (var rec in records)
        {
            string k = key(rec);
            if (!best.TryGetValue(k, out var have) || rate(rec) > rate(have)) best[k] = rec;
        }
    }

    public static double Median(IEnumerable<double> values)
    {
        var s = values.Order().ToArray();
        return s.Length % 2 == 1 ? s[s.Length / 2] : 0.5 * (s[s.Length / 2 - 1] + s[s.Length / 2]);
    }

    /// <summary>Per-round ratios ours / anchor.</summary>
    public static double[] Ratios(double[] ours, double[] anchor) => ours.Zip(anchor, (o, a) => o / a).ToArray();

    /// <summary>Adds <c>ratio_median</c>, <c>ratio_min</c>, <c>ratio_max</c> of the per-round ratios to a JSON record.</summary>
    public static void AddRatios(JsonObject o, double[] ratios)
    {
        o["ratio_median"] = Math.Round(Median(ratios), 3);
        o["ratio_min"] = Math.Round(ratios.Min(), 3);
        o["ratio_max"] = Math.Round(ratios.Max(), 3);
    }

    /// <summary>"**1.23×** [1.10–1.30]": the median of the per-round ratios and their range, for the tables.</summary>
    public static string RatioCell(double[] ratios) => string.Create(Inv, $"**{Median(ratios):F2}×** [{ratios.Min():F2}–{ratios.Max():F2}]");

    public static bool CpuHasAvx512()
    {
        try { return File.ReadLines("/proc/cpuinfo").Any(l => l.StartsWith("flags", StringComparison.Ordinal) && l.Split(' ').Contains("avx512f")); }
        catch (IOException) { return false; }
    }
}
