using System.Diagnostics;
using NormalizingFlows.Autograd;
using NormalizingFlows.Flows;
using NormalizingFlows.Optim;
using NormalizingFlows.Tensors;
using NormalizingFlows.Tensors.Kernels;
using NormalizingFlows.Training;

namespace NormalizingFlows.Bench;

/// <summary>
/// The flow workloads of shared/bench/README.md: train (Adam 1e-3, −mean log p on a fresh random batch, median step
/// time over 200 steps after 20 warm-up, 100 after 10 at batch 4096), log_prob and sample (100 000 rows in batches
/// of 10 000, no gradients), float32, 1 or 2 threads. One JSON line per measurement. With several models or data
/// sets each combination runs in its own process, so that rss_peak_mb is that workload's.
/// </summary>
internal static class FlowsBench
{
    public static readonly string[] Models = ["realnvp", "nsf_c", "maf", "maf_rqs", "naf", "umnn", "cnf", "flow_matching"];
    public static readonly string[] DataSets = ["tab18", "moons2d"];

    public static Flow<float> Build(string model, int d, Rng rng) => model switch
    {
        "realnvp" => FlowBuilders.RealNvp<float>(d, rng: rng),
        "nsf_c" => FlowBuilders.NeuralSplineFlow<float>(d, rng: rng),
        "maf" => FlowBuilders.Maf<float>(d, rng: rng),
        "maf_rqs" => FlowBuilders.MafRqs<float>(d, rng: rng),
        "naf" => FlowBuilders.Naf<float>(d, rng: rng),
        "umnn" => FlowBuilders.Umnn<float>(d, rng: rng),
        // one continuous flow, trained two ways: cnf by −log p through the solver, flow_matching by the matching loss
        "cnf" or "flow_matching" => FlowBuilders.ContinuousFlow<float>(d, layers: 3, hidden: 128, rng: rng),
        _ => throw new ArgumentException($"unknown model '{model}' ({string.Join(", ", Models)})"),
    };

    public static int Run(string[] args)
    {
        string model = BenchUtil.Option(args, "--model") ?? "all";
        string data = BenchUtil.Option(args, "--data") ?? "all";
        string threadsArg = BenchUtil.Option(args, "--threads") ?? "all";
        string? phases = BenchUtil.Option(args, "--phase");
        bool quick = args.Contains("--quick");
        var models = model == "all" ? Models : [model];
        var sets = data == "all" ? DataSets : [data];
        var threads = ThreadCounts(threadsArg);
        if (models.Length * sets.Length * threads.Length > 1)
        {
            // one child process per workload: peak RSS is then the workload's own
            foreach (var m in models)
                foreach (var s in sets)
                    foreach (var t in threads)
                    {
                        var childArgs = new List<string> { "flows", "--model", m, "--data", s, "--threads", t.ToString(System.Globalization.CultureInfo.InvariantCulture) };
                        if (quick) childArgs.Add("--quick");
                        if (phases is not null) { childArgs.Add("--phase"); childArgs.Add(phases); }
                        if (BenchUtil.Option(args, "--batches") is { } bs) { childArgs.Add("--batches"); childArgs.Add(bs); }
                        if (BenchUtil.Option(args, "--data-dir") is { } dd) { childArgs.Add("--data-dir"); childArgs.Add(dd); }
                        var psi = new ProcessStartInfo(Environment.ProcessPath!) { UseShellExecute = false };
                        // started as 'dotnet NormalizingFlows.Bench.dll': the child needs the assembly path first
                        if (Path.GetFileNameWithoutExtension(Environment.ProcessPath!) == "dotnet")
                            psi.ArgumentList.Add(typeof(FlowsBench).Assembly.Location);
                        foreach (var a in childArgs) psi.ArgumentList.Add(a);
                        using var p = Process.Start(psi)!;
                        p.WaitForExit();
                        if (p.ExitCode != 0) return p.ExitCode;
                    }
            return 0;
        }
        WorkerPool.MaxThreads = threads[0];
        var bench = BenchData.Load(sets[0], BenchData.Locate(BenchUtil.Option(args, "--data-dir")));
        var want = (phases ?? "train,log_prob,sample").Split(',');
        var rng = new Rng(1);
        var flow = Build(models[0], bench.Features, rng);
        if (want.Contains("train"))
            foreach (int batch in (BenchUtil.Option(args, "--batches") ?? "512,4096").Split(',').Select(b => int.Parse(b, System.Globalization.CultureInfo.InvariantCulture)))
            {
                int warm = batch == 4096 ? 10 : 20, steps = batch == 4096 ? 100 : 200;
                if (quick) { warm = 3; steps = 10; }
                double median = TrainStepSeconds(flow, models[0] == "flow_matching" ? new FlowMatchingLoss<float>(flow) : null, bench, batch, warm, steps, rng, quick);
                Emit(models[0], bench.Name, threads[0], "train", batch, batch / median);
            }
        if (want.Contains("log_prob"))
        {
            // a continuous flow's exact log-density solves the ODE with D tangents per row: 10 000 rows in batches of
            // 1 000 (the tangents of a 10 000-row batch take gigabytes)
            bool continuous = models[0] is "cnf" or "flow_matching";
            int batch = continuous ? 1_000 : 10_000, rows = continuous ? (quick ? 2_000 : 10_000) : (quick ? 20_000 : 100_000);
            Emit(models[0], bench.Name, threads[0], "log_prob", batch, LogProbRate(flow, bench, rows, batch));
        }
        if (want.Contains("sample")) Emit(models[0], bench.Name, threads[0], "sample", 10_000, SampleRate(flow, quick ? 20_000 : 100_000, rng));
        return 0;
    }

    /// <summary>"1,2,16" → {1, 2, 16}; "all" → {1, every core} (1 and 2 on a 2-core machine).</summary>
    public static int[] ThreadCounts(string value)
    {
        if (value == "all") return new[] { 1, Environment.ProcessorCount }.Distinct().ToArray();
        var counts = value.Split(',', StringSplitOptions.RemoveEmptyEntries).Select(v => int.Parse(v, System.Globalization.CultureInfo.InvariantCulture)).ToArray();
        if (counts.Length == 0 || counts.Any(c => c < 1)) throw new ArgumentException($"--threads takes counts ≥ 1 (e.g. 1,2,16) or 'all', got '{value}'");
        return counts;
    }

    private static void Emit(string model, string data, int threads, string phase, int batch, double rate) =>
        Console.WriteLine($"{{\"bench\":\"flows\",\"model\":\"{model}\",\"data\":\"{data}\",\"threads\":{threads},\"phase\":\"{phase}\",\"batch\":{batch},\"samples_per_s\":{BenchUtil.Num(rate, "F0")},\"rss_peak_mb\":{BenchUtil.Num(BenchUtil.PeakRssMb(), "F1")}}}");

    /// <summary>Median step time; the loss is −mean log p(x), or <paramref name="loss"/> (flow matching) when given.</summary>
    private static double TrainStepSeconds(Flow<float> flow, TrainingLoss<float>? loss, BenchData data, int batch, int warmup, int steps, Rng rng, bool quick)
    {
        var opt = new Adam<float>(flow.Parameters(), 1e-3);
        var x = Tensor<float>.Empty(batch, data.Features).Untrack();
        var times = new double[steps];
        flow.Train();
        // the tiered JIT recompiles the hot paths on a background thread for several seconds, which on a 2-core
        // machine takes a core from the kernels' worker (2-thread step times were bimodal, 1.5x apart, with a fixed
        // warm-up): warm up until it has gone quiet
        if (!quick) WarmUp(() => Step(flow, loss, opt, data, x, batch, rng, -1), minSeconds: 2.0);
        for (int s = 0; s < warmup + steps; s++)
        {
            double t = Step(flow, loss, opt, data, x, batch, rng, s);
            if (s >= warmup) times[s - warmup] = t;
        }
        Array.Sort(times);
        return times[steps / 2];
    }

    /// <summary>One training step on a fresh random batch; returns its time in seconds (batch assembly excluded).</summary>
    private static double Step(Flow<float> flow, TrainingLoss<float>? loss, Adam<float> opt, BenchData data, Tensor<float> x, int batch, Rng rng, long step)
    {
        for (int r = 0; r < batch; r++)
            data.Train.AsSpan(rng.NextInt(data.TrainRows) * data.Features, data.Features).CopyTo(x.Row(r));
        long t0 = Stopwatch.GetTimestamp();
        using (TensorScope.BeginRecycling()) // the step keeps nothing: its tensors and nodes serve the next step
        {
            opt.ZeroGrad();
            var value = loss is null ? Ops.Neg(Ops.Mean(flow.LogProb(new Var<float>(x)))) : loss.Compute(new TrainingBatch<float>(step, 1, x, null, null, default))!;
            value.Backward();
            opt.Step();
        }
        return Stopwatch.GetElapsedTime(t0).TotalSeconds;
    }

    /// <summary>
    /// log_prob throughput as the anchor measures it: ≥ 1 s of warm-up, then the median of <see cref="Passes"/> passes
    /// over <paramref name="rows"/> rows in batches of <paramref name="batch"/>.
    /// </summary>
    private static double LogProbRate(Flow<float> flow, BenchData data, int rows, int batch)
    {
        flow.Eval();
        var x = Tensor<float>.Empty(batch, data.Features).Untrack();
        data.Train.AsSpan(0, batch * data.Features).CopyTo(x.Span);
        using (GradMode.Disable())
        {
            WarmUp(() => { using (TensorScope.Begin()) flow.LogProb(new Var<float>(x)); });
            return MedianRate(rows, () =>
            {
                for (int start = 0; start < rows; start += batch)
                {
                    data.Train.AsSpan((start % data.TrainRows) * data.Features, batch * data.Features).CopyTo(x.Span);
                    using (TensorScope.Begin()) flow.LogProb(new Var<float>(x));
                }
            });
        }
    }

    /// <summary>Sampling throughput as the anchor measures it: ≥ 1 s of warm-up, then the median of <see cref="Passes"/> passes of <paramref name="rows"/> samples in batches of 10 000.</summary>
    private static double SampleRate(Flow<float> flow, int rows, Rng rng)
    {
        flow.Eval();
        const int batch = 10_000;
        WarmUp(() => { using (TensorScope.Begin()) flow.Sample(batch, rng); });
        return MedianRate(rows, () =>
        {
            for (int start = 0; start < rows; start += batch)
                using (TensorScope.Begin()) flow.Sample(batch, rng);
        });
    }

    /// <summary>
    /// Timed passes of the log_prob and sample workloads: the anchor reports the median of 3 passes (its lp-reps and
    /// sample-max-reps), so ours does too. One pass right after warm-up still overlaps the tiered JIT's background
    /// recompilation, which on 2 cores takes a core from the second worker.
    /// </summary>
    private const int Passes = 3;

    /// <summary>
    /// Runs <paramref name="batch"/> for at least <paramref name="minSeconds"/> and until the JIT has compiled no
    /// method for 0.5 s and 30 calls (tier-up waits for 30 calls per tier), at most 30 s: steady state, as the
    /// anchor's native kernels are from the start.
    /// </summary>
    private static void WarmUp(Action batch, double minSeconds = 1.0)
    {
        var clock = Stopwatch.StartNew();
        long compiled = System.Runtime.JitInfo.GetCompiledMethodCount();
        double quietSince = 0;
        int quietCalls = 0;
        while (clock.Elapsed.TotalSeconds < 30)
        {
            batch();
            long now = System.Runtime.JitInfo.GetCompiledMethodCount();
            double t = clock.Elapsed.TotalSeconds;
            if (now != compiled) { compiled = now; quietSince = t; quietCalls = 0; }
            else quietCalls++;
            if (t >= minSeconds && t - quietSince >= 0.5 && quietCalls >= 30) return;
        }
    }

    private static double MedianRate(int rows, Action pass)
    {
        var seconds = new double[Passes];
        for (int p = 0; p < Passes; p++)
        {
            long t0 = Stopwatch.GetTimestamp();
            pass();
            seconds[p] = Stopwatch.GetElapsedTime(t0).TotalSeconds;
        }
        Array.Sort(seconds);
        return rows / seconds[Passes / 2];
    }
}
