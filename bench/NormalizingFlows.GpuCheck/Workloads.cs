using System.Diagnostics;
using NormalizingFlows.Bench;
using NormalizingFlows.Cuda;
using NormalizingFlows.Flows;
using NormalizingFlows.Tensors;

namespace NormalizingFlows.GpuCheck;

/// <summary>
/// The tab18 workloads on the device: train (Adam lr 1e−3, −mean log p on a fresh random batch of the standardised
/// training split drawn on the device; median step time after warm-up) at batch 512, 4096 and 65 536; training at
/// 65 536 through the library's path with the split on the device and streamed from the host; log_prob and sample of
/// 100 000 in one batch. One JSON line each with samples/s.
/// </summary>
internal static class Workloads
{
    public static void Run(ComputeDevice device, CheckOptions o, Outcome outcome)
    {
        (DeviceTensor Train, string Source)? loaded = null;
        outcome.Run("tab18", "workload", "data", () => { loaded = LoadTrain(device, o); return true; });
        if (loaded is not var (train, source)) return;
        using (train)
        {
            int[] batches = o.Quick ? [32] : [512, 4096, 65536];
            int big = o.Quick ? 32 : 100_000; // the CPU accelerator samples a MAF at ~0.5 rows/s
            foreach (var model in o.Models)
            {
                DeviceFlow? compiled = null;
                outcome.Run(model, "workload", "compile", () =>
                {
                    compiled = DeviceFlow.Compile(BenchFlows.Build(model, train.Cols, new Rng(1)), device);
                    return true;
                });
                if (compiled is null) continue;
                using var dflow = compiled;
                foreach (int batch in batches) outcome.Run(model, "workload", $"train_{batch}", () =>
                {
                    var (warm, timed) = o.Quick ? (1, 2) : batch <= 512 ? (20, 200) : batch <= 4096 ? (10, 100) : (5, 30);
                    using var x = DeviceTensor.Zeros(device, batch, train.Cols);
                    double median = MedianStepSeconds(dflow, train, x, warm, timed);
                    float loss = dflow.TrainStep(x, 1e-3, readLoss: true)!.Value;
                    Json.Line(("model", model), ("workload", "train"), ("batch", batch), ("samples_per_s", batch / median),
                        ("median_step_ms", median * 1e3), ("loss", (double)loss), ("device", device.Name), ("data", source));
                    return float.IsFinite(loss);
                });
                int streamedBatch = o.Quick ? 32 : 65536;
                outcome.Run(model, "workload", $"train_streamed_{streamedBatch}", () => StreamedTrain(device, model, train, streamedBatch, o.Quick ? (1, 2) : (5, 30), source));
                outcome.Run(model, "workload", "log_prob", () =>
                {
                    using var x = DeviceTensor.Zeros(device, big, train.Cols);
                    using var lp = DeviceTensor.Zeros(device, big);
                    x.SampleRowsOf(train, 99);
                    dflow.LogProb(x, lp); // warm-up (buffers, kernels)
                    device.Synchronize();
                    var sw = Stopwatch.StartNew();
                    dflow.LogProb(x, lp);
                    device.Synchronize();
                    double t = sw.Elapsed.TotalSeconds;
                    double mean = lp.Download().ToArray().Average(v => (double)v);
                    Json.Line(("model", model), ("workload", "log_prob"), ("batch", big), ("samples_per_s", big / t), ("mean_log_prob", mean),
                        ("device", device.Name), ("data", source));
                    return double.IsFinite(mean);
                });
                outcome.Run(model, "workload", "sample", () =>
                {
                    using (var warm = dflow.Sample(big, seed: 1)) device.Synchronize();
                    var sw = Stopwatch.StartNew();
                    using var s = dflow.Sample(big, seed: 2);
                    device.Synchronize();
                    double t = sw.Elapsed.TotalSeconds;
                    bool finite = s.Download().ToArray().All(float.IsFinite);
                    Json.Line(("model", model), ("workload", "sample"), ("batch", big), ("samples_per_s", big / t), ("all_finite", finite),
                        ("device", device.Name), ("data", source));
                    return finite;
                });
            }
        }
    }

    /// <summary>
    /// CaloFlow's flow II shape (a spline MAF teacher over 504 voxels with 4 context features, 8 layers of MADE 504,
    /// 8 bins; --quick: 24 features, 2 layers of 16) sampled at batch 1000 (--quick: 8) from the same base points and
    /// contexts: the incremental MADE, the D full passes per layer (CaloFlow v1's way) and an IAF student of the same
    /// shape (one pass per layer). One JSON line each with samples/s; the check fails when the incremental and the
    /// full-pass samples differ by more than 1e−3 relative (plus 1e−3) anywhere, or a sample is not finite.
    /// </summary>
    public static void CaloShapes(ComputeDevice device, CheckOptions o, Outcome outcome)
    {
        var (d, layers, hidden, batch) = o.Quick ? (24, 2, 16, 8) : (504, 8, 504, 1000);
        const int context = 4;
        outcome.Run("calo_teacher", "workload", "sample", () =>
        {
            var teacher = FlowBuilders.MafRqs<float>(d, layers, hidden, 8, 4.0, context, new Rng(5));
            BenchFlows.Perturb(teacher, 0.02, 6);
            var student = Training.DistillationTrainer<float>.CreateStudent(teacher, new Rng(7));
            BenchFlows.Perturb(student, 0.02, 8);
            var z = new Rng(9).Normal<float>(batch, d);
            var c = new Rng(10).Normal<float>(batch, context);
            using var dteacher = DeviceFlow.Compile(teacher, device);
            using var dstudent = DeviceFlow.Compile(student, device);
            (Tensor<float> X, double Seconds) Timed(DeviceFlow flow)
            {
                flow.Inverse(z, c); // warm-up (buffers, kernels)
                var sw = Stopwatch.StartNew();
                var x = flow.Inverse(z, c);
                return (x, sw.Elapsed.TotalSeconds);
            }
            var (incremental, ti) = Timed(dteacher);
            dteacher.FullPassSampling = true;
            var (full, tf) = Timed(dteacher);
            var (students, ts) = Timed(dstudent);
            double worst = 0;
            var a = incremental.ReadOnlySpan; var b = full.ReadOnlySpan;
            for (int i = 0; i < a.Length; i++) worst = Math.Max(worst, Math.Abs(a[i] - b[i]) / (1e-3 + 1e-3 * Math.Abs(b[i])));
            bool finite = incremental.ToArray().Concat(full.ToArray()).Concat(students.ToArray()).All(float.IsFinite);
            foreach (var (mode, t) in new[] { ("teacher_incremental", ti), ("teacher_full_passes", tf), ("student_one_pass", ts) })
                Json.Line(("model", "calo_flow2"), ("workload", "sample"), ("mode", mode), ("features", d), ("batch", batch), ("samples_per_s", batch / t),
                    ("seconds", t), ("device", device.Name));
            Json.Line(("check", "calo_teacher_incremental_vs_full_passes"), ("worst_over_tolerance", worst), ("pass", worst <= 1 && finite), ("device", device.Name));
            return worst <= 1 && finite;
        });
    }

    /// <summary>
    /// Training through the library's path (<see cref="ComputeDevice"/> as an accelerator, the host's row order) at
    /// <paramref name="batch"/>, with the training split on the device (gathered there) and streamed from the host
    /// (<see cref="ComputeDevice.ResidentDataLimit"/> 0: rows gathered on the host into pinned buffers and uploaded,
    /// overlapping the previous step's kernels): mean step time over the timed steps (one synchronization at the end,
    /// so the overlap counts), the streamed/resident ratio, and whether the two runs' summed losses are equal (they
    /// must be, bit for bit: it fails otherwise).
    /// </summary>
    private static bool StreamedTrain(ComputeDevice device, string model, DeviceTensor train, int batch, (int Warm, int Timed) steps, string source)
    {
        var host = train.Download();
        var ms = new double[2];
        var lossSums = new double[2];
        long saved = device.ResidentDataLimit;
        try
        {
            for (int mode = 0; mode < 2; mode++)
            {
                device.ResidentDataLimit = mode == 0 ? long.MaxValue : 0;
                using var acc = device.Compile(BenchFlows.Build(model, train.Cols, new Rng(1)));
                acc.SetTrainingData(host);
                var rng = new Rng(17);
                var rows = new int[batch];
                var sw = new Stopwatch();
                for (int step = 0; step < steps.Warm + steps.Timed; step++)
                {
                    if (step == steps.Warm) { device.Synchronize(); sw.Start(); }
                    for (int i = 0; i < batch; i++) rows[i] = rng.NextInt(train.Rows);
                    acc.TrainStep(rows, 1e-3, null);
                }
                lossSums[mode] = acc.TakeLossSum(); // every step's loss, summed; waits for the device
                sw.Stop();
                ms[mode] = sw.Elapsed.TotalMilliseconds / steps.Timed;
            }
        }
        finally { device.ResidentDataLimit = saved; }
        Json.Line(("model", model), ("workload", "train_streamed"), ("batch", batch), ("resident_step_ms", ms[0]), ("streamed_step_ms", ms[1]),
            ("streamed_over_resident", ms[1] / ms[0]), ("samples_per_s", batch / (ms[1] * 1e-3)), ("pinned", device.PinnedTransfers),
            ("loss_sum_resident", lossSums[0]), ("loss_sum_streamed", lossSums[1]), ("losses_equal", lossSums[0] == lossSums[1]),
            ("device", device.Name), ("data", source));
        // the same rows reach the same batch buffers either way, so the kernels see the same bits: a streamed step
        // handed stale rows (a missing wait for a staging buffer's copy) changes the sum
        return double.IsFinite(lossSums[0]) && lossSums[0] == lossSums[1];
    }

    /// <summary>
    /// The standardised tab18 training split (BenchData: --data DIR, else shared/bench/data found above the working
    /// directory) on the device, or synthetic standard-normal draws of the same width when no tab18_train.npy is found
    /// (said, with the real row count, in every JSON line). An explicit --data without the file is an error.
    /// </summary>
    internal static (DeviceTensor Train, string Source) LoadTrain(ComputeDevice device, CheckOptions o)
    {
        string? dir;
        try { dir = BenchData.Locate(o.DataDir); }
        catch (DirectoryNotFoundException) when (o.DataDir is null) { dir = null; }
        string? path = dir is null ? null : Path.Combine(dir, "tab18_train.npy");
        if (path is not null && File.Exists(path))
        {
            var data = BenchData.Load("tab18", dir!, withTest: false);
            int rows = o.Quick ? Math.Min(data.TrainRows, 20_000) : data.TrainRows;
            var used = Tensor<float>.From(data.Train.AsSpan(0, rows * data.Features), rows, data.Features);
            return (DeviceTensor.Upload(device, used), $"tab18:{Path.GetFullPath(path)} ({rows}x{data.Features})");
        }
        if (o.DataDir is not null) throw new FileNotFoundException($"--data {o.DataDir}: no tab18_train.npy there", path);
        int n = o.Quick ? 20_000 : 500_000;
        var synthetic = DeviceTensor.Zeros(device, n, 18);
        synthetic.FillStandardNormal(12345);
        return (synthetic, $"synthetic standard normal {n}x18 (tab18_train.npy not found; give --data DIR)");
    }

    /// <summary>
    /// The median seconds of <paramref name="timed"/> training steps (Adam, lr 1e−3) after <paramref name="warm"/>
    /// warm-up steps, each on a fresh batch of <paramref name="x"/>'s rows drawn on the device from
    /// <paramref name="train"/> and waited for.
    /// </summary>
    internal static double MedianStepSeconds(DeviceFlow flow, DeviceTensor train, DeviceTensor x, int warm, int timed)
    {
        var times = new List<double>();
        for (int step = 0; step < warm + timed; step++)
        {
            var sw = Stopwatch.StartNew();
            x.SampleRowsOf(train, 1_000_003L * step + x.Rows);
            flow.TrainStep(x, 1e-3);
            flow.Device.Synchronize();
            if (step >= warm) times.Add(sw.Elapsed.TotalSeconds);
        }
        times.Sort();
        return times[times.Count / 2];
    }
}
