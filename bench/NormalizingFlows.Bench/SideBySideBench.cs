using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;

namespace NormalizingFlows.Bench;

/// <summary>
/// Our flow workloads and the TorchSharp anchor's (../shared/bench/torchsharp: libtorch + MKL, the same workloads),
/// one process each, alternating (ours first in odd rounds, the anchor first in even ones), on this machine in one
/// run. Each round pairs our rate with the anchor's best kernel set of the same round; a cell reports the median of
/// those per-round ratios with their range, and both peak RSS figures. One JSON line per cell, then a table.
/// </summary>
internal static class SideBySideBench
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;
    private static readonly string[] AnchorModels = ["realnvp", "nsf_c", "maf", "maf_rqs"];

    public static int Run(string[] args)
    {
        string? anchor = SideBySide.Anchor(args, "side-by-side", "--anchor", "NFLOW_ANCHOR", "TsBench.dll",
            "cp -r ../shared/bench/torchsharp /tmp/ts && cd /tmp/ts/TsBench && dotnet build -c Release");
        if (anchor is null) return 2;
        // the anchor implements the four workloads of ../shared/bench/README.md; the newer models have no anchor
        var models = List(BenchUtil.Option(args, "--model"), AnchorModels);
        if (models.FirstOrDefault(m => !AnchorModels.Contains(m)) is { } other)
        {
            Console.Error.WriteLine($"side-by-side: the anchor has no model '{other}' (it runs {string.Join(", ", AnchorModels)})");
            return 2;
        }
        var sets = List(BenchUtil.Option(args, "--data"), FlowsBench.DataSets);
        var threads = FlowsBench.ThreadCounts(BenchUtil.Option(args, "--threads") ?? "1,2");
        int rounds = SideBySide.Count(args, "--rounds", 3);
        string[] caps = (BenchUtil.Option(args, "--caps") ?? (SideBySide.CpuHasAvx512() ? "auto,avx2" : "auto")).Split(',', StringSplitOptions.RemoveEmptyEntries);
        string phases = BenchUtil.Option(args, "--phase") ?? "train,log_prob,sample";
        bool quick = args.Contains("--quick");
        string dataDir = BenchData.Locate(BenchUtil.Option(args, "--data-dir"));
        string foreign = BenchUtil.Option(args, "--foreign-threshold") ?? "0.05";
        string? outPath = BenchUtil.Option(args, "--out");

        var cells = new List<Cell>();
        foreach (var model in models)
            foreach (var data in sets)
                foreach (int t in threads)
                {
                    var (ours, theirs) = SideBySide.Alternate(rounds, // theirs: per round, the best cap of each key
                        () => Ours(model, data, t, phases, quick, dataDir),
                        () => Anchor(anchor, caps, model, data, t, phases, quick, dataDir, foreign));
                    foreach (var key in ours[0].Keys.Where(k => theirs.All(d => d.ContainsKey(k)) && ours.All(d => d.ContainsKey(k))))
                    {
                        var cell = new Cell(model, data, t, key,
                            ours.Select(d => Rate(d[key])).ToArray(), theirs.Select(d => Rate(d[key])).ToArray(),
                            theirs.Select(d => d[key]["tag"]?.GetValue<string>() ?? "").ToArray(),
                            theirs.Any(d => d[key]["contaminated"]?.GetValue<bool>() ?? false),
                            ours.Max(d => Rss(d[key])), theirs.Max(d => Rss(d[key])));
                        cells.Add(cell);
                        string line = cell.ToJson();
                        Console.WriteLine(line);
                        if (outPath is not null) File.AppendAllText(outPath, line + "\n");
                    }
                }
        PrintTable(cells, rounds, caps);
        return 0;
    }

    private static string[] List(string? value, string[] all) => value is null or "all" ? all : value.Split(',', StringSplitOptions.RemoveEmptyEntries);

    /// <summary>"train/512", "log_prob", "sample": the key pairing a record of ours with the anchor's.</summary>
    private static string Key(JsonObject rec)
    {
        string phase = rec["phase"]!.GetValue<string>();
        return phase == "train" ? $"train/{rec["batch"]!.GetValue<int>()}" : phase;
    }

    private static double Rate(JsonObject rec) => rec["samples_per_s"]!.GetValue<double>();

    private static double Rss(JsonObject rec) => rec["rss_peak_mb"] is JsonValue v ? v.GetValue<double>() : double.NaN;

    private static Dictionary<string, JsonObject> Ours(string model, string data, int threads, string phases, bool quick, string dataDir)
    {
        var psi = SideBySide.OurProcess(["flows", "--model", model, "--data", data, "--threads", threads.ToString(Inv), "--phase", phases, "--data-dir", dataDir]);
        if (quick) psi.ArgumentList.Add("--quick");
        var (rc, records, _, _) = SideBySide.RunChild(psi, "samples_per_s");
        if (rc != 0) throw new InvalidOperationException($"our bench exited with {rc} on {model}/{data}/{threads} threads");
        return records.ToDictionary(Key);
    }

    private static Dictionary<string, JsonObject> Anchor(string dll, string[] caps, string model, string data, int threads, string phases, bool quick, string dataDir, string foreign)
    {
        var best = new Dictionary<string, JsonObject>();
        foreach (var cap in caps)
        {
            for (int attempt = 1; ; attempt++)
            {
                string tag = cap == "auto" ? "mkl" : "mkl-" + cap;
                var psi = SideBySide.DotnetProcess(dll, ["--mode", "throughput", "--model", model, "--data", data, "--threads", threads.ToString(Inv), "--phases", phases,
                    "--data-dir", dataDir, "--tag", tag, "--foreign-threshold", foreign, "--out", Path.Combine(Path.GetTempPath(), "nflow-anchor.jsonl")]);
                if (cap != "auto") psi.Environment["ATEN_CPU_CAPABILITY"] = cap;
                if (quick)
                    foreach (var a in new[] { "--steps", "10", "--warmup", "3", "--steps-large", "10", "--warmup-large", "3", "--lp-n", "20000", "--sample-n", "20000", "--sample-max-reps", "1" })
                        psi.ArgumentList.Add(a);
                var (rc, records, _, _) = SideBySide.RunChild(psi, "samples_per_s");
                if (rc == 3 && attempt < 3) continue; // another process took CPU during a phase: run it again
                if (rc is not (0 or 3)) throw new InvalidOperationException($"the anchor exited with {rc} on {model}/{data}/{threads} threads (cap {cap})");
                SideBySide.KeepBest(best, records.Where(r => r["phase"] is not null), Key, Rate);
                break;
            }
        }
        return best;
    }

    private sealed record Cell(string Model, string Data, int Threads, string Key, double[] Ours, double[] Anchor, string[] AnchorTags,
        bool Contaminated, double RssOurs, double RssAnchor)
    {
        public double[] Ratios => SideBySide.Ratios(Ours, Anchor);

        public string ToJson()
        {
            var o = new JsonObject
            {
                ["bench"] = "side-by-side", ["model"] = Model, ["data"] = Data, ["threads"] = Threads, ["workload"] = Key,
                ["ours_samples_per_s"] = new JsonArray(Ours.Select(v => (JsonNode)Math.Round(v)).ToArray()),
                ["anchor_samples_per_s"] = new JsonArray(Anchor.Select(v => (JsonNode)Math.Round(v)).ToArray()),
                ["anchor_tags"] = new JsonArray(AnchorTags.Select(v => (JsonNode)v).ToArray()),
                ["rss_peak_mb_ours"] = Math.Round(RssOurs, 1), ["rss_peak_mb_anchor"] = Math.Round(RssAnchor, 1), ["anchor_contaminated"] = Contaminated,
            };
            SideBySide.AddRatios(o, Ratios);
            return o.ToJsonString();
        }
    }

    private static void PrintTable(List<Cell> cells, int rounds, string[] caps)
    {
        Console.WriteLine();
        Console.WriteLine($"ours / anchor (TorchSharp, best of kernel sets {string.Join(", ", caps)}), samples/s, {rounds} alternating rounds; ratio = median of the per-round ratios [min–max]");
        Console.WriteLine("| model | data | threads | workload | ours | anchor | ratio | RSS MB ours / anchor |");
        Console.WriteLine("|---|---|---|---|---|---|---|---|");
        foreach (var c in cells)
            Console.WriteLine(string.Create(Inv, $"| {c.Model} | {c.Data} | {c.Threads} | {c.Key} | {SideBySide.Median(c.Ours):F0} | {SideBySide.Median(c.Anchor):F0}{(c.Contaminated ? "*" : "")} | {SideBySide.RatioCell(c.Ratios)} | {c.RssOurs:F0} / {c.RssAnchor:F0} |"));
        if (cells.Any(c => c.Contaminated)) Console.WriteLine("* the anchor flagged another process using CPU during that phase (after 3 tries)");
    }
}
