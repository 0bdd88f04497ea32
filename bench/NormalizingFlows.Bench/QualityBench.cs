using System.Diagnostics;
using NormalizingFlows.Tensors;
using NormalizingFlows.Tensors.Kernels;
using NormalizingFlows.Training;

namespace NormalizingFlows.Bench;

/// <summary>
/// The quality workload: 3 000 steps, batch 512, Adam 1e-3 with cosine decay to 0, shuffled epochs; then the mean
/// test log-likelihood per event in raw units ± its standard error and the training wall time (one JSON line each).
/// With --seeds N, seeds seed … seed + N − 1 each train once and a summary line gives the mean over seeds, its spread
/// and standard error and the median (one seed's result varies by ≈ 0.02 nats on checker2d).
/// </summary>
internal static class QualityBench
{
    public static int Run(string[] args)
    {
        string model = BenchUtil.Option(args, "--model") ?? "all";
        string data = BenchUtil.Option(args, "--data") ?? "all";
        int threads = int.Parse(BenchUtil.Option(args, "--threads") ?? "2", System.Globalization.CultureInfo.InvariantCulture);
        int steps = int.Parse(BenchUtil.Option(args, "--steps") ?? "3000", System.Globalization.CultureInfo.InvariantCulture);
        long seed = long.Parse(BenchUtil.Option(args, "--seed") ?? "1", System.Globalization.CultureInfo.InvariantCulture);
        int batch = int.Parse(BenchUtil.Option(args, "--batch") ?? "512", System.Globalization.CultureInfo.InvariantCulture);
        int seeds = int.Parse(BenchUtil.Option(args, "--seeds") ?? "1", System.Globalization.CultureInfo.InvariantCulture);
        if (seeds < 1) throw new ArgumentException("--seeds must be at least 1");
        // the first N test rows only: a continuous flow's exact log-density costs an ODE solve with D tangents per row
        int? testRows = BenchUtil.Option(args, "--test-rows") is { } tr ? int.Parse(tr, System.Globalization.CultureInfo.InvariantCulture) : null;
        if (testRows is < 1) throw new ArgumentException("--test-rows must be at least 1");
        WorkerPool.MaxThreads = threads;
        var dir = BenchData.Locate(BenchUtil.Option(args, "--data-dir"));
        var models = model == "all" ? new[] { "maf", "nsf_c" } : [model];
        var sets = data == "all" ? new[] { "checker2d", "tab18" } : data.Split(',');
        foreach (var s in sets)
        {
            var bench = BenchData.Load(s, dir);
            var train = new TrainingData<float>(Tensor<float>.From(bench.Train, bench.TrainRows, bench.Features).Untrack());
            int nTest = Math.Min(testRows ?? bench.TestRows, bench.TestRows);
            var test = new TrainingData<float>(Tensor<float>.From(bench.Test.AsSpan(0, nTest * bench.Features).ToArray(), nTest, bench.Features).Untrack());
            foreach (var m in models)
            {
                var results = new List<double>();
                for (long sd = seed; sd < seed + seeds; sd++) results.Add(RunOne(m, s, bench, train, test, threads, steps, batch, sd));
                if (seeds > 1)
                {
                    double mean = results.Average();
                    double spread = Math.Sqrt(results.Sum(v => (v - mean) * (v - mean)) / (seeds - 1));
                    var sorted = results.Order().ToArray();
                    double median = seeds % 2 == 1 ? sorted[seeds / 2] : 0.5 * (sorted[seeds / 2 - 1] + sorted[seeds / 2]);
                    Console.WriteLine($"{{\"bench\":\"quality_seeds\",\"model\":\"{m}\",\"data\":\"{s}\",\"seeds\":{seeds},\"mean\":{BenchUtil.Num(mean, "F4")},\"sd_over_seeds\":{BenchUtil.Num(spread, "F4")},\"se_of_mean\":{BenchUtil.Num(spread / Math.Sqrt(seeds), "F4")},\"median\":{BenchUtil.Num(median, "F4")}}}");
                }
            }
        }
        return 0;
    }

    /// <summary>Trains one model with one seed and prints its line; returns the test log-likelihood in raw units.</summary>
    private static double RunOne(string m, string s, BenchData bench, TrainingData<float> train, TrainingData<float> test, int threads, int steps, int batch, long seed)
    {
        var flow = FlowsBench.Build(m, bench.Features, new Rng(seed));
        var options = QualityRecipe.Options(steps, seed, batchSize: batch);
        // flow_matching: the same loop with the matching loss (no ODE in training; the test log-likelihood below is the exact one by the ODE)
        TrainingLoss<float> loss = m == "flow_matching" ? new FlowMatchingLoss<float>(flow) : new MaximumLikelihoodLoss<float>(flow, options.EvaluationBatchSize);
        // CPU time: on a shared machine the fair "equal budget" measure (wall time depends on the other jobs)
        var (seconds, cpuSeconds) = QualityRecipe.Train(flow, loss, train, options);
        var clock = Stopwatch.StartNew();
        var (mean, se) = QualityRecipe.Score(flow, test);
        double evalSeconds = clock.Elapsed.TotalSeconds;
        Console.WriteLine($"{{\"bench\":\"quality\",\"model\":\"{m}\",\"data\":\"{s}\",\"seed\":{seed},\"threads\":{threads},\"steps\":{steps},\"batch\":{batch},\"test_rows\":{test.Rows},\"test_log_likelihood\":{BenchUtil.Num(mean + bench.LogJacobian, "F4")},\"standard_error\":{BenchUtil.Num(se, "F4")},\"train_seconds\":{BenchUtil.Num(seconds, "F1")},\"train_cpu_seconds\":{BenchUtil.Num(cpuSeconds, "F1")},\"eval_seconds\":{BenchUtil.Num(evalSeconds, "F1")}}}");
        return mean + bench.LogJacobian;
    }
}
