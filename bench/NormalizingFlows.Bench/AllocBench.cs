using NormalizingFlows.Autograd;
using NormalizingFlows.Optim;
using NormalizingFlows.Tensors;
using NormalizingFlows.Tensors.Kernels;

namespace NormalizingFlows.Bench;

/// <summary>Managed bytes allocated per training step (all threads), per model, after warm-up (the fewest of several windows): the figure #16 asks to bring to zero.</summary>
internal static class AllocBench
{
    public static int Run(string[] args)
    {
        var models = (BenchUtil.Option(args, "--model") ?? "all") is var m && m == "all" ? FlowsBench.Models : m.Split(',');
        int threads = int.Parse(BenchUtil.Option(args, "--threads") ?? "1", System.Globalization.CultureInfo.InvariantCulture);
        int batch = int.Parse(BenchUtil.Option(args, "--batch") ?? "512", System.Globalization.CultureInfo.InvariantCulture);
        int d = int.Parse(BenchUtil.Option(args, "--features") ?? "18", System.Globalization.CultureInfo.InvariantCulture);
        WorkerPool.MaxThreads = threads;
        foreach (var model in models)
        {
            var rng = new Rng(1);
            var flow = FlowsBench.Build(model, d, rng);
            var opt = new Adam<float>(flow.Parameters(), 1e-3);
            var x = Tensor<float>.Empty(batch, d).Untrack();
            rng.Normal(x.Span);
            flow.Train();
            var xv = new Var<float>(x); // a constant over the untracked batch serves every step
            void Step()
            {
                using (TensorScope.BeginRecycling()) // as the flows bench's training step
                {
                    opt.ZeroGrad();
                    var loss = Ops.Neg(Ops.Mean(flow.LogProb(xv)));
                    loss.Backward();
                    opt.Step();
                }
            }
            // the fewest bytes over windows after warm-up: the tiered JIT allocates in bursts for a few hundred steps
            for (int i = 0; i < 150; i++) Step();
            const int windows = 10, steps = 20;
            long bytes = long.MaxValue;
            for (int w = 0; w < windows; w++)
            {
                long before = GC.GetTotalAllocatedBytes(precise: true);
                for (int i = 0; i < steps; i++) Step();
                bytes = Math.Min(bytes, (GC.GetTotalAllocatedBytes(precise: true) - before) / steps);
            }
            if (args.Contains("--types"))
            {
                // sampled allocation ticks (one per ~100 KB allocated) by type: where the bytes come from
                using var listener = new AllocationTypes();
                for (int i = 0; i < 2000; i++) Step();
                foreach (var (type, count) in listener.Counts.OrderByDescending(kv => kv.Value).Take(15).Select(kv => (kv.Key, kv.Value)))
                    Console.WriteLine($"  {count,5} × ~100 KB  {type}");
            }
            Console.WriteLine($"{{\"bench\":\"alloc\",\"model\":\"{model}\",\"features\":{d},\"threads\":{threads},\"batch\":{batch},\"bytes_per_step\":{bytes}}}");
        }
        return 0;
    }
}

internal sealed class AllocationTypes : System.Diagnostics.Tracing.EventListener
{
    public readonly System.Collections.Concurrent.ConcurrentDictionary<string, int> Counts = new();

    protected override void OnEventSourceCreated(System.Diagnostics.Tracing.EventSource source)
    {
        if (source.Name == "Microsoft-Windows-DotNETRuntime")
            EnableEvents(source, System.Diagnostics.Tracing.EventLevel.Verbose, (System.Diagnostics.Tracing.EventKeywords)0x1); // GC keyword
    }

    protected override void OnEventWritten(System.Diagnostics.Tracing.EventWrittenEventArgs e)
    {
        if (e.EventName is not null && e.EventName.StartsWith("GCAllocationTick", StringComparison.Ordinal) && e.Payload is { } p && e.PayloadNames is { } names)
        {
            int i = names.IndexOf("TypeName");
            if (i >= 0) Counts.AddOrUpdate(p[i]?.ToString() ?? "?", 1, (_, c) => c + 1);
        }
    }
}
