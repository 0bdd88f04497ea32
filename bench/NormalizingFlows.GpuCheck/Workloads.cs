using System.Diagnostics;
using NormalizingFlows.Cuda;
using NormalizingFlows.Data;
using NormalizingFlows.Tensors;

namespace NormalizingFlows.GpuCheck;

/// <summary>
/// The tab18 workloads on the device: train (Adam lr 1e−3, −mean log p on a fresh random batch of the standardised
/// training split drawn on the device; median step time after warm-up) at batch 512, 4096 and 65 536; log_prob and
/// sample of 100 000 in one batch. One JSON line each with samples/s.
/// </summary>
internal static class Workloads
{
    public static void Run(ComputeDevice device, CheckOptions o)
    {
        var (train, source) = LoadTrain(device, o);
        using (train)
        {
            int[] batches = o.Quick ? [32] : [512, 4096, 65536];
            int big = o.Quick ? 256 : 100_000;
            foreach (var model in o.Models)
            {
                var flow = BenchFlows.Build(model, train.Cols, new Rng(1));
                using var dflow = DeviceFlow.Compile(flow, device);
                foreach (int batch in batches)
                {
                    var (warm, timed) = o.Quick ? (1, 2) : batch <= 512 ? (20, 200) : batch <= 4096 ? (10, 100) : (5, 30);
                    using var x = DeviceTensor.Zeros(device, batch, train.Cols);
                    var times = new List<double>();
                    for (int step = 0; step < warm + timed; step++)
                    {
                        var sw = Stopwatch.StartNew();
                        x.SampleRowsOf(train, 1_000_003L * step + batch);
                        dflow.TrainStep(x, 1e-3);
                        device.Synchronize();
                        if (step >= warm) times.Add(sw.Elapsed.TotalSeconds);
                    }
                    times.Sort();
                    double median = times[times.Count / 2];
                    float loss = dflow.TrainStep(x, 1e-3, readLoss: true)!.Value;
                    Json.Line(("model", model), ("workload", "train"), ("batch", batch), ("samples_per_s", batch / median),
                        ("median_step_ms", median * 1e3), ("loss", (double)loss), ("device", device.Name), ("data", source));
                }
                using (var x = DeviceTensor.Zeros(device, big, train.Cols))
                using (var lp = DeviceTensor.Zeros(device, big))
                {
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
                }
                {
                    using (var warm = dflow.Sample(big, seed: 1)) device.Synchronize();
                    var sw = Stopwatch.StartNew();
                    using var s = dflow.Sample(big, seed: 2);
                    device.Synchronize();
                    double t = sw.Elapsed.TotalSeconds;
                    bool finite = s.Download().ToArray().All(float.IsFinite);
                    Json.Line(("model", model), ("workload", "sample"), ("batch", big), ("samples_per_s", big / t), ("all_finite", finite),
                        ("device", device.Name), ("data", source));
                }
            }
        }
    }

    /// <summary>The standardised tab18 training split on the device, or 500 000 × 18 standard-normal draws when the file is absent.</summary>
    private static (DeviceTensor Train, string Source) LoadTrain(ComputeDevice device, CheckOptions o)
    {
        var candidates = o.DataDir is not null ? [o.DataDir] : new[] { Path.Combine("..", "shared", "bench", "data"), "/work/shared/bench/data" };
        foreach (var dir in candidates)
        {
            string path = Path.Combine(dir, "tab18_train.npy");
            if (!File.Exists(path)) continue;
            var t = Npy.ReadTensor<float>(path);
            int rows = t.Dim(0), cols = t.Dim(1);
            if (o.Quick) rows = Math.Min(rows, 20_000);
            var v = t.Span;
            for (int j = 0; j < cols; j++)
            {
                double mean = 0, sq = 0;
                for (int r = 0; r < rows; r++) mean += v[r * cols + j];
                mean /= rows;
                for (int r = 0; r < rows; r++) { double e = v[r * cols + j] - mean; sq += e * e; }
                double sd = Math.Sqrt(sq / rows);
                for (int r = 0; r < rows; r++) v[r * cols + j] = (float)((v[r * cols + j] - mean) / sd);
            }
            var used = rows == t.Dim(0) ? t : Tensor<float>.From(t.ReadOnlySpan[..(rows * cols)], rows, cols);
            return (DeviceTensor.Upload(device, used), "tab18:" + Path.GetFullPath(path));
        }
        var synthetic = DeviceTensor.Zeros(device, o.Quick ? 20_000 : 500_000, 18);
        synthetic.FillStandardNormal(12345);
        return (synthetic, "synthetic standard normal 500000x18 (tab18_train.npy not found; give --data DIR)");
    }
}
