using System.Diagnostics;
using NormalizingFlows.Autograd;
using NormalizingFlows.Bench;
using NormalizingFlows.Cuda;
using NormalizingFlows.Flows;
using NormalizingFlows.Tensors;
using NormalizingFlows.Tensors.Kernels;
using NormalizingFlows.Training;

namespace NormalizingFlows.GpuCheck;

/// <summary>
/// Quality at the reference budget on the device against the CPU (issue #17): each model trained by the bench's quality
/// recipe (<see cref="QualityRecipe"/>: 3 000 steps, batch 512, Adam 1e−3 cosine to 0, shuffled epochs; --quick: 10
/// steps of 32, 256 test rows) from the same seed and initial weights, once through <see cref="TrainingOptions.Device"/>
/// and once on the CPU with every core, both scored on tab18_test on the host (the bench's scorer). One JSON line per
/// side (test log-likelihood in raw units ± SE, wall seconds, steps/s), then the check <c>quality_MODEL</c>: the two
/// test log-likelihoods differ by less than 3·√(SE_paired² + 2σ²), SE_paired the standard error of the per-event
/// difference (both sides score the same events), σ the seed-to-seed spread of the CPU recipe (<see cref="SeedSpread"/>):
/// the two runs round differently, so they diverge; "within noise" is within the seeds' spread. The line also says
/// whether the difference stays inside the much narrower band that rounding alone gives the CPU
/// (<see cref="CpuRoundingSpread"/>), for the reader, not for the verdict.
/// </summary>
internal static class Quality
{
    private const long Seed = 1;
    private const int QuickSteps = 10, QuickBatch = 32, QuickTestRows = 256;

    /// <summary>
    /// The sample standard deviation of the test log-likelihood over seeds of the CPU recipe on tab18 (bench quality
    /// --threads 1 --seeds 4, this repository's 2-core machine, 2026-12-05): seeds 1–8 at the reference budget
    /// (bench/results/2026-12-05-quality-seeds-tab18-amd2-r10.jsonl), seeds 1–4 at --quick's (--steps 10 --batch 32
    /// --test-rows 256; …-quick-amd2-r10.jsonl).
    /// </summary>
    private static readonly Dictionary<(string Model, int Steps), double> SeedSpread = new()
    {
        [("realnvp", 3000)] = 0.0100, [("nsf_c", 3000)] = 0.0069, [("maf", 3000)] = 0.0079, [("maf_rqs", 3000)] = 0.0105,
        [("realnvp", QuickSteps)] = 0.1008, [("nsf_c", QuickSteps)] = 0.0895, [("maf", QuickSteps)] = 0.1574, [("maf_rqs", QuickSteps)] = 0.0901,
    };

    /// <summary>
    /// The spread that rounding alone gives the CPU recipe at the reference budget: seed 1 trained with 1 and with 2
    /// threads (other reduction orders, same weights and batches), σ_r = √(Σ d² / 2n) over the four models' differences
    /// d (2 threads − 1 thread: realnvp −0.0016, nsf_c −0.0008, maf −0.0003, maf_rqs −0.0011;
    /// bench/results/2026-12-05-quality-threads-tab18-amd2-r10.jsonl), ≈ σ/10. Reported, not judged: the device rounds more
    /// differently than a second thread does, so a correct device may leave this band; "within noise" is the seeds'.
    /// </summary>
    private const double CpuRoundingSpread = 0.00075;

    public static void Run(ComputeDevice device, CheckOptions o, Outcome outcome)
    {
        BenchData? data = null;
        outcome.Run("tab18", "workload", "quality_data", () => { data = Load(o.DataDir); return true; });
        if (data is null) return;
        int d = data.Features, steps = o.Quick ? QuickSteps : 3000, batch = o.Quick ? QuickBatch : QualityRecipe.BatchSize;
        int testRows = o.Quick ? Math.Min(QuickTestRows, data.TestRows) : data.TestRows;
        var train = new TrainingData<float>(Tensor<float>.From(data.Train, data.TrainRows, d).Untrack());
        var test = new TrainingData<float>(Tensor<float>.From(data.Test.AsSpan(0, testRows * d), testRows, d).Untrack());
        foreach (var model in o.Models)
            outcome.Run(model, "check", $"quality_{model}", () =>
            {
                var onDevice = BenchFlows.Build(model, d, new Rng(Seed));
                var onCpu = BenchFlows.Build(model, d, new Rng(Seed));
                if (!onDevice.Parameters().Zip(onCpu.Parameters()).All(p => p.First.Value.ReadOnlySpan.SequenceEqual(p.Second.Value.ReadOnlySpan)))
                    throw new InvalidOperationException("the two sides' initial weights differ");
                var onDev = Side(model, onDevice, device, true, train, test, steps, batch, data);
                var cpu = Side(model, onCpu, device, false, train, test, steps, batch, data);
                double difference = onDev.Mean - cpu.Mean;
                var diffs = onDev.Rows.Zip(cpu.Rows, (a, b) => a - b).ToArray();
                double dm = diffs.Average();
                double pairedSe = Math.Sqrt(diffs.Sum(v => (v - dm) * (v - dm)) / (diffs.Length - 1) / diffs.Length);
                double spread = SeedSpread[(model, steps)];
                double bound = 3 * Math.Sqrt(pairedSe * pairedSe + 2 * spread * spread);
                bool pass = double.IsFinite(difference) && Math.Abs(difference) < bound;
                double roundingBound = 3 * Math.Sqrt(pairedSe * pairedSe + 2 * CpuRoundingSpread * CpuRoundingSpread);
                Json.Line(("check", $"quality_{model}"), ("difference", difference), ("paired_standard_error", pairedSe), ("seed_spread", spread),
                    ("bound", bound), ("cpu_rounding_bound", o.Quick ? null : roundingBound),
                    ("within_cpu_rounding_bound", o.Quick ? null : Math.Abs(difference) < roundingBound), ("steps", steps), ("batch", batch), ("test_rows", testRows), ("pass", pass), ("device", device.Name));
                return pass;
            });
    }

    /// <summary>Trains one side (on <paramref name="device"/> or the CPU), scores it and prints its line.</summary>
    private static (double Mean, double[] Rows) Side(string model, Flow<float> flow, ComputeDevice device, bool onDevice,
        TrainingData<float> train, TrainingData<float> test, int steps, int batch, BenchData data)
    {
        var options = QualityRecipe.Options(steps, Seed, onDevice ? device : null, batch);
        var (seconds, _) = QualityRecipe.Train(flow, new MaximumLikelihoodLoss<float>(flow, options.EvaluationBatchSize), train, options);
        var clock = Stopwatch.StartNew();
        var (mean, se) = QualityRecipe.Score(flow, test);
        double evalSeconds = clock.Elapsed.TotalSeconds;
        var rows = RowLogProb(flow, test);
        double? scoredOnDevice = null;
        if (onDevice)
        {
            // the trained weights scored again by the device's own log p (the check stage compares log p at perturbed weights)
            using var compiled = DeviceFlow.Compile(flow, device);
            scoredOnDevice = compiled.LogProb(test.X).Average(v => (double)v) + data.LogJacobian;
        }
        Json.Line(("model", model), ("workload", "quality"), ("side", onDevice ? "device" : "cpu"), ("steps", steps), ("batch", batch), ("seed", Seed),
            ("train_rows", train.Rows), ("test_rows", test.Rows), ("test_log_likelihood", mean + data.LogJacobian), ("standard_error", se),
            ("test_log_likelihood_scored_on_device", scoredOnDevice), ("train_seconds", seconds), ("steps_per_s", steps / seconds),
            ("eval_seconds", evalSeconds), ("threads", onDevice ? 0 : WorkerPool.MaxThreads),
            ("device", onDevice ? device.Name : "cpu"), ("data", "tab18"));
        return (mean + data.LogJacobian, rows);
    }

    /// <summary>Per-event log p (standardised units) on the host, for the paired standard error of the two sides' difference.</summary>
    private static double[] RowLogProb(Flow<float> flow, TrainingData<float> test)
    {
        var result = new double[test.Rows];
        flow.Eval();
        using (GradMode.Disable())
            for (int start = 0; start < test.Rows; start += 1024)
            {
                using var scope = TensorScope.Begin();
                int rows = Math.Min(1024, test.Rows - start);
                var lp = flow.LogProb(new Var<float>(test.X.CopyRows(start, rows))).Value.ReadOnlySpan;
                for (int i = 0; i < rows; i++) result[start + i] = lp[i];
            }
        flow.Train();
        return result;
    }

    /// <summary>The standardised tab18 training and test splits (--data DIR, else shared/bench/data above the working directory); no synthetic stand-in.</summary>
    private static BenchData Load(string? dataDir)
    {
        string dir = BenchData.Locate(dataDir);
        foreach (var f in new[] { "tab18_train.npy", "tab18_test.npy" })
            if (!File.Exists(Path.Combine(dir, f))) throw new FileNotFoundException($"--quality needs {f} in {dir} (give --data DIR)");
        return BenchData.Load("tab18", dir);
    }
}
