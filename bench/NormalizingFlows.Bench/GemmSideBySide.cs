using System.Globalization;
using System.Text.Json.Nodes;

namespace NormalizingFlows.Bench;

/// <summary>
/// <c>gemm --side-by-side</c>: our float32 GEMM (<c>bench gemm</c> in a child process) and MKL's SGEMM through
/// TorchSharp's <c>torch.mm</c> (bench/AnchorMm, once per MKL instruction set, the faster per shape), one process each
/// per group of shapes, alternating, in one run. Each round pairs our GFLOP/s with the anchor's of the same round; a
/// line per (shape, transpose, threads) reports the median of the per-round ratios ours / MKL with their range, then
/// a summary per thread count (shapes below 1×, geometric mean) and a table.
/// </summary>
internal static class GemmSideBySide
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    public static int Run(string[] args)
    {
        string? anchor = SideBySide.Anchor(args, "gemm --side-by-side", "--anchor-mm", "NFLOW_ANCHOR_MM", "AnchorMm.dll", "cd bench/AnchorMm && dotnet build -c Release");
        if (anchor is null) return 2;
        var threads = FlowsBench.ThreadCounts(BenchUtil.Option(args, "--threads") ?? "1,2");
        int rounds = SideBySide.Count(args, "--rounds", 2);
        int group = SideBySide.Count(args, "--group", 15); // shapes per process
        // MKL_ENABLE_INSTRUCTIONS values; "default" leaves MKL's own dispatch.
        string[] caps = (BenchUtil.Option(args, "--mkl-caps") ?? "default,AVX2").Split(',', StringSplitOptions.RemoveEmptyEntries);
        bool quick = args.Contains("--quick");
        string? outPath = BenchUtil.Option(args, "--out");
        var shapes = new List<string>();
        for (int i = 0; i < args.Length - 1; i++)
            if (args[i] == "--shape") shapes.Add(args[i + 1]);
        if (shapes.Count == 0)
            shapes.AddRange(GemmBench.Shapes(BenchUtil.Option(args, "--shapes") ?? "mkl", quick).Select(s => string.Create(Inv, $"{s.m},{s.k},{s.n},{s.trans}")));

        void Emit(JsonObject o)
        {
            string line = o.ToJsonString();
            Console.WriteLine(line);
            if (outPath is not null) File.AppendAllText(outPath, line + "\n");
        }

        foreach (string cap in caps) Emit(Probe(anchor, cap));
        var cells = new List<Cell>();
        foreach (int t in threads)
            foreach (var chunk in shapes.Chunk(group))
            {
                var (ours, theirs) = SideBySide.Alternate(rounds, () => Ours(chunk, t, quick), () => Anchor(anchor, caps, chunk, t, quick));
                foreach (string key in chunk.Where(k => ours.All(d => d.Records.ContainsKey(k)) && theirs.All(d => d.Records.ContainsKey(k))))
                {
                    var cell = new Cell(key, t, ours[0].Records[key]["isa"]!.GetValue<string>(), ours.Select(d => Rate(d.Records[key])).ToArray(),
                        theirs.Select(d => Rate(d.Records[key])).ToArray(), theirs.Select(d => d.Records[key]["isa"]!.GetValue<string>()).ToArray(),
                        ours.Zip(theirs, (o, a) => Math.Max(o.ForeignCores, a.ForeignCores)).ToArray());
                    cells.Add(cell);
                    Emit(cell.ToJson());
                }
            }
        foreach (var sel in threads.Select(t => (Name: t.ToString(Inv), Cells: cells.Where(c => c.Threads == t).ToList())).Append((Name: "all", Cells: cells)))
            if (sel.Cells.Count > 0) Emit(Summary(sel.Name, sel.Cells));
        PrintTable(cells, rounds, caps);
        return 0;
    }

    private static double Rate(JsonObject rec) => rec["gflops"]!.GetValue<double>();

    private static string Key(JsonObject rec) => string.Create(Inv,
        $"{rec["m"]!.GetValue<int>()},{rec["k"]!.GetValue<int>()},{rec["n"]!.GetValue<int>()},{rec["trans"]!.GetValue<string>()}");

    private static IEnumerable<string> ShapeArgs(string[] shapes) => shapes.SelectMany(s => new[] { "--shape", s });

    private static Side Ours(string[] shapes, int threads, bool quick)
    {
        var psi = SideBySide.OurProcess(["gemm", "--threads", threads.ToString(Inv), "--no-blas", .. ShapeArgs(shapes)]);
        if (quick) psi.ArgumentList.Add("--quick");
        var (rc, records, _, foreign) = SideBySide.RunChild(psi, "gflops");
        if (rc != 0) throw new InvalidOperationException($"our gemm bench exited with {rc} at {threads} threads");
        return new Side(records.ToDictionary(Key), foreign);
    }

    /// <summary>AnchorMm once per MKL instruction set; per shape the faster.</summary>
    private static Side Anchor(string dll, string[] caps, string[] shapes, int threads, bool quick)
    {
        var best = new Dictionary<string, JsonObject>();
        double foreignMax = 0;
        foreach (string cap in caps)
        {
            // addmm_ into a preallocated C, as ours writes into a given C (torch.mm would allocate the result per call)
            var psi = AnchorProcess(dll, cap, ["--threads", threads.ToString(Inv), "--op", "addmm_", .. ShapeArgs(shapes)]);
            if (quick) psi.ArgumentList.Add("--quick");
            var (rc, records, _, foreign) = SideBySide.RunChild(psi, "gflops");
            if (rc != 0) throw new InvalidOperationException($"the anchor {dll} exited with {rc} at {threads} threads (MKL_ENABLE_INSTRUCTIONS={cap})");
            SideBySide.KeepBest(best, records, Key, Rate);
            foreignMax = Math.Max(foreignMax, foreign);
        }
        return new Side(best, foreignMax);
    }

    private static System.Diagnostics.ProcessStartInfo AnchorProcess(string dll, string cap, IEnumerable<string> args)
    {
        var psi = SideBySide.DotnetProcess(dll, args);
        if (cap != "default") psi.Environment["MKL_ENABLE_INSTRUCTIONS"] = cap;
        else psi.Environment.Remove("MKL_ENABLE_INSTRUCTIONS");
        psi.Environment.Remove("MKL_VERBOSE");
        return psi;
    }

    /// <summary>
    /// MKL_VERBOSE's account of the anchor under one instruction set: MKL's version and code path, and the transpose
    /// flags of its SGEMM calls for NN, NT, TN, TT (distinct flags: the .t() views reach MKL without a copy).
    /// </summary>
    private static JsonObject Probe(string dll, string cap)
    {
        var psi = AnchorProcess(dll, cap, ["--probe"]);
        psi.Environment["MKL_VERBOSE"] = "1";
        var (rc, _, other, _) = SideBySide.RunChild(psi, "gflops");
        if (rc != 0) throw new InvalidOperationException($"the anchor {dll} --probe exited with {rc} (MKL_ENABLE_INSTRUCTIONS={cap})");
        string header = other.FirstOrDefault(l => l.StartsWith("MKL_VERBOSE", StringComparison.Ordinal) && !l.Contains("GEMM(", StringComparison.Ordinal)) ?? "";
        var flags = other.Where(l => l.StartsWith("MKL_VERBOSE SGEMM(", StringComparison.Ordinal)).Select(l => l["MKL_VERBOSE SGEMM(".Length..].Split(',')).Select(f => f[0] + f[1]).ToArray();
        return new JsonObject
        {
            ["bench"] = "gemm-side-by-side-probe", ["mkl_enable_instructions"] = cap, ["mkl_verbose"] = header.Replace("MKL_VERBOSE ", "", StringComparison.Ordinal),
            ["sgemm_flags_nn_nt_tn_tt"] = new JsonArray(flags.Select(f => (JsonNode)f).ToArray()),
            ["transposes_passed_as_flags"] = flags.Length == 4 && flags.Distinct().Count() == 4,
        };
    }

    private static JsonObject Summary(string threads, List<Cell> cells)
    {
        var medians = cells.Select(c => SideBySide.Median(c.Ratios)).ToArray();
        var worst = cells.MinBy(c => SideBySide.Median(c.Ratios))!;
        return new JsonObject
        {
            ["bench"] = "gemm-side-by-side-summary", ["threads"] = threads, ["cells"] = cells.Count,
            ["below_1x"] = medians.Count(r => r < 1), ["geomean_ratio"] = Math.Round(Math.Exp(medians.Average(Math.Log)), 3),
            ["min_ratio"] = Math.Round(medians.Min(), 3), ["min_at"] = $"{worst.Shape}/{worst.Threads}", ["max_ratio"] = Math.Round(medians.Max(), 3),
        };
    }

    /// <summary>One side's records of a round by shape key, and the cores other processes kept busy while it ran.</summary>
    private sealed record Side(Dictionary<string, JsonObject> Records, double ForeignCores);

    private sealed record Cell(string Shape, int Threads, string OursIsa, double[] Ours, double[] Anchor, string[] AnchorTags, double[] ForeignCores)
    {
        public double[] Ratios => SideBySide.Ratios(Ours, Anchor);

        public JsonObject ToJson()
        {
            string[] f = Shape.Split(',');
            var o = new JsonObject
            {
                ["bench"] = "gemm-side-by-side", ["dtype"] = "float32", ["m"] = int.Parse(f[0], Inv), ["k"] = int.Parse(f[1], Inv), ["n"] = int.Parse(f[2], Inv),
                ["trans"] = f[3], ["threads"] = Threads, ["isa"] = OursIsa,
                ["ours_gflops"] = new JsonArray(Ours.Select(v => (JsonNode)Math.Round(v, 2)).ToArray()),
                ["anchor_gflops"] = new JsonArray(Anchor.Select(v => (JsonNode)Math.Round(v, 2)).ToArray()),
                ["anchor_tags"] = new JsonArray(AnchorTags.Select(v => (JsonNode)v).ToArray()),
                // per round, the larger of the two sides' figures: cores other processes kept busy (this machine has 2)
                ["foreign_cores"] = new JsonArray(ForeignCores.Select(v => (JsonNode)Math.Round(v, 2)).ToArray()),
            };
            SideBySide.AddRatios(o, Ratios);
            return o;
        }
    }

    private static void PrintTable(List<Cell> cells, int rounds, string[] caps)
    {
        Console.WriteLine();
        Console.WriteLine($"ours / MKL (torch.mm, TorchSharp 0.107 = libtorch 2.10; faster of MKL_ENABLE_INSTRUCTIONS {string.Join(", ", caps)}), float32 GFLOP/s, {rounds} alternating rounds; ratio = median of the per-round ratios [min–max]");
        Console.WriteLine("| m | k | n | trans | threads | ours | MKL | ratio | other load (cores) |");
        Console.WriteLine("|---|---|---|---|---|---|---|---|---|");
        foreach (var c in cells)
            Console.WriteLine(string.Create(Inv, $"| {c.Shape.Replace(",", " | ", StringComparison.Ordinal)} | {c.Threads} | {SideBySide.Median(c.Ours):F1} | {SideBySide.Median(c.Anchor):F1} | {SideBySide.RatioCell(c.Ratios)} | {c.ForeignCores.Max():F1} |"));
    }
}
