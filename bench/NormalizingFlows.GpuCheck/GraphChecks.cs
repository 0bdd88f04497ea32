using System.Diagnostics;
using NormalizingFlows.Cuda;
using NormalizingFlows.Flows;
using NormalizingFlows.Tensors;
using NormalizingFlows.Training;

namespace NormalizingFlows.GpuCheck;

/// <summary>
/// CUDA graphs (<c>ComputeDevice.Cuda(graphs: true)</c>) on the GPU: the check <c>graph_vs_eager</c> (20 training steps
/// of each bench model with graphs on and off from the same start: losses and weights equal within float rounding,
/// the steps replayed from a captured graph) and the training workloads at batch 512 and 4096 with graphs on
/// (<c>"workload":"train_cuda_graphs"</c>, beside the eager <c>train</c> lines of the same run). A second CUDA device
/// (context) with graphs is opened beside the eager one; graph_vs_eager runs both sides on it, its capture switched
/// off for the eager side (the same stream and cuBLAS workspace). On the CPU accelerator there is no capture:
/// graph_vs_eager runs on a CPU accelerator with <see cref="LaunchRecorder"/>'s emulated capture (a smoke test of this
/// program), and the timings are skipped with one line.
/// </summary>
internal static class GraphChecks
{
    private const int D = 18, Steps = 20;

    private static ComputeDevice? OpenGraphs(ComputeDevice device, Outcome outcome, string what, bool emulate = false)
    {
        if (!device.IsCuda && emulate)
        {
            // the CPU accelerator has no capture: the tests' emulation (launches recorded, then replayed), which runs this check's code
            var cpu = ComputeDevice.CpuAccelerator();
            LaunchRecorder.Install(cpu, graphs: true);
            Json.Line(("check", what), ("capture", "emulated on the CPU accelerator (LaunchRecorder): checks this program, not CUDA"), ("device", cpu.Name));
            return cpu;
        }
        if (!device.IsCuda)
        {
            Json.Line(("check", what), ("skipped", "CUDA graphs need a CUDA device (timings of an emulated capture would say nothing)"), ("device", device.Name));
            return null;
        }
        ComputeDevice? graphs = null;
        outcome.Run("all", "check", $"{what}_device", () => { graphs = ComputeDevice.Cuda(graphs: true); return graphs.CudaGraphs; });
        return graphs;
    }

    public static void Check(ComputeDevice device, CheckOptions o, Outcome outcome)
    {
        using var graphs = OpenGraphs(device, outcome, "graph_vs_eager", emulate: true);
        if (graphs is null) return;
        foreach (var model in o.Models) outcome.Run(model, "check", "graph_vs_eager", () => GraphVsEager(model, graphs, o.Quick));
        outcome.Run("flow_matching", "check", "graph_vs_eager", () => FlowMatchingGraphVsEager(graphs, o.Quick));
    }

    /// <summary>
    /// Flow matching with its draws on the device (<see cref="FlowMatchingLoss{T}.DeviceDraws"/>), the one training
    /// step whose graph draws its own values each replay: two epochs of the "cnf" flow (D = 18) by
    /// <see cref="TrainingLoop{T}"/> on the graph device with its capture switched off and on, from the same start with
    /// the same seed; every epoch's loss and the final weights within float rounding, the warm steps replayed
    /// (counted by a wrapper around the device's capture), and the loss falling.
    /// </summary>
    private static bool FlowMatchingGraphVsEager(ComputeDevice graphs, bool quick)
    {
        int rows = quick ? 32 : 512, batches = 10;
        var data = new TrainingData<float>(Correlated(new Rng(5).Normal<float>(rows * batches, D)));
        (float[] Epochs, float[] Weights) Run()
        {
            var flow = BenchFlows.Build("cnf", D, new Rng(1));
            BenchFlows.Perturb(flow, 0.05, 3);
            var options = new TrainingOptions { Epochs = 3, BatchSize = rows, LearningRate = 3e-3, Seed = 3, ReportEverySteps = int.MaxValue, ClipNorm = 5, Device = graphs };
            var history = new TrainingLoop<float>(flow, options).Fit(new FlowMatchingLoss<float>(flow) { DeviceDraws = true }, data, null);
            return ([.. history.Epochs.Select(e => (float)e.TrainLoss)], [.. flow.Parameters().SelectMany(p => p.Value.ToArray())]);
        }
        var capture = graphs.GraphCapture;
        graphs.GraphCapture = null;
        var (el, ew) = Run();
        var counting = capture is null ? null : new CountingCapture(capture);
        graphs.GraphCapture = counting;
        (float[] gl, float[] gw) = ([], []);
        try { (gl, gw) = Run(); }
        finally { graphs.GraphCapture = capture; }
        int steps = 3 * batches;
        bool replayed = counting is not null && counting.Replays >= steps - 3 && graphs.GraphFallback is null;
        bool trained = el.Length == 3 && el[^1] < el[0];
        Json.Line(("check", "graph_vs_eager_replays"), ("model", "flow_matching"), ("replayed_steps", counting?.Replays ?? 0), ("captures", counting?.Captures ?? 0), ("steps", steps),
            ("fallback", graphs.GraphFallback), ("epoch_losses", el), ("trained", trained), ("pass", replayed && trained), ("device", graphs.Name));
        bool ok = Checks.Report("flow_matching", "graph_vs_eager_losses", el, gl, i => 1e-5 + 1e-5 * Math.Abs(el[i]), "1e-5 + 1e-5·|eager|", graphs);
        return replayed & trained & ok & Checks.Report("flow_matching", "graph_vs_eager_weights", ew, gw, i => 1e-5 + 1e-5 * Math.Abs(ew[i]), "1e-5 + 1e-5·|eager|", graphs);
    }

    /// <summary>Rows with correlated, shifted features: something for the field to learn.</summary>
    private static Tensor<float> Correlated(Tensor<float> x)
    {
        var s = x.Span;
        for (int i = 0; i < s.Length; i++) s[i] = 0.7f * s[i] + 0.1f * (i % D) + (i % D > 0 ? 0.3f * s[i - 1] : 0);
        return x;
    }

    /// <summary>The device's capture, counting the graphs it captures and the launches (replays) of them.</summary>
    private sealed class CountingCapture(IGraphCapture inner) : IGraphCapture
    {
        public long Captures, Replays;
        public void Begin() => inner.Begin();
        public void Abort() => inner.Abort();
        public ICapturedGraph End() { var g = inner.End(); Captures++; return new Counted(g, this); }

        private sealed class Counted(ICapturedGraph graph, CountingCapture owner) : ICapturedGraph
        {
            public void Launch() { owner.Replays++; graph.Launch(); }
            public void Dispose() => graph.Dispose();
        }
    }

    /// <summary>
    /// 20 steps (batches drawn on the device from the same synthetic data, a decaying learning rate, clipping, the
    /// loss summed on the device and read after each step) from the same perturbed start on the graph device with its
    /// capture switched off (eager launches, the same stream and cuBLAS workspace) and on.
    /// </summary>
    private static bool GraphVsEager(string model, ComputeDevice graphs, bool quick)
    {
        int rows = quick ? 32 : 512;
        var flow = BenchFlows.Build(model, D, new Rng(1));
        BenchFlows.Perturb(flow, 0.05, 3);
        var data = new Rng(5).Normal<float>(quick ? 256 : 8192, D);
        (float[] Losses, float[] Weights, long Replays) Run(ComputeDevice device)
        {
            using var dflow = DeviceFlow.Compile(flow, device);
            dflow.ClipNorm = 5;
            using var train = DeviceTensor.Upload(device, data);
            using var x = DeviceTensor.Zeros(device, rows, D);
            using var sum = DeviceTensor.Zeros(device, 1);
            var losses = new float[Steps];
            for (int step = 0; step < Steps; step++)
            {
                x.SampleRowsOf(train, 17 + step);
                dflow.Step(x, null, null, 1e-3 * (1 - step / (2.0 * Steps)), readLoss: false, sum);
                losses[step] = sum.Download().ReadOnlySpan[0];
                DeviceOps.Fill(sum, 0);
            }
            var weights = dflow.Pairs(flow).SelectMany(p => p.Device.W.Download().ToArray().Concat(p.Device.B.Download().ToArray())).ToArray();
            return (losses, weights, dflow.GraphSteps.Replays);
        }
        var capture = graphs.GraphCapture;
        graphs.GraphCapture = null;
        var (el, ew, eagerReplays) = Run(graphs);
        graphs.GraphCapture = capture;
        var (gl, gw, replays) = Run(graphs);
        bool replayed = eagerReplays == 0 && replays >= Steps - 2 && graphs.GraphFallback is null; // the first step runs eagerly, the second is captured
        Json.Line(("check", "graph_vs_eager_replays"), ("model", model), ("replayed_steps", replays), ("steps", Steps),
            ("fallback", graphs.GraphFallback), ("pass", replayed), ("device", graphs.Name));
        bool ok = Checks.Report(model, "graph_vs_eager_losses", el, gl, i => 1e-5 + 1e-5 * Math.Abs(el[i]), "1e-5 + 1e-5·|eager|", graphs);
        return replayed & ok & Checks.Report(model, "graph_vs_eager_weights", ew, gw, i => 1e-5 + 1e-5 * Math.Abs(ew[i]), "1e-5 + 1e-5·|eager|", graphs);
    }

    /// <summary>The train workloads at batch 512 and 4096 on the graph device (the timing loop of <see cref="Workloads"/>).</summary>
    public static void Bench(ComputeDevice device, CheckOptions o, Outcome outcome)
    {
        using var graphs = OpenGraphs(device, outcome, "train_cuda_graphs");
        if (graphs is null) return;
        (DeviceTensor Train, string Source)? loaded = null;
        outcome.Run("tab18", "workload", "graphs_data", () => { loaded = Workloads.LoadTrain(graphs, o); return true; });
        if (loaded is not var (train, source)) return;
        using (train)
            foreach (var model in o.Models)
            {
                using var dflow = DeviceFlow.Compile(BenchFlows.Build(model, train.Cols, new Rng(1)), graphs);
                foreach (int batch in new[] { 512, 4096 }) outcome.Run(model, "workload", $"train_cuda_graphs_{batch}", () =>
                {
                    var (warm, timed) = batch <= 512 ? (20, 200) : (10, 100);
                    using var x = DeviceTensor.Zeros(graphs, batch, train.Cols);
                    long before = dflow.GraphSteps.Replays;
                    double median = Workloads.MedianStepSeconds(dflow, train, x, warm, timed);
                    long replays = dflow.GraphSteps.Replays - before;
                    float loss = dflow.TrainStep(x, 1e-3, readLoss: true)!.Value;
                    Json.Line(("model", model), ("workload", "train_cuda_graphs"), ("batch", batch), ("samples_per_s", batch / median),
                        ("median_step_ms", median * 1e3), ("loss", (double)loss), ("replayed_steps", replays), ("fallback", graphs.GraphFallback),
                        ("device", graphs.Name), ("data", source));
                    return float.IsFinite(loss) && replays >= warm + timed - 2;
                });
            }
    }
}
