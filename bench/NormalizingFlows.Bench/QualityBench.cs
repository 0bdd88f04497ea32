using System.Diagnostics;
using NormalizingFlows.Optim;
using NormalizingFlows.Tensors;
using NormalizingFlows.Tensors.Kernels;
using NormalizingFlows.Training;

namespace NormalizingFlows.Bench;

/// <summary>
/// The quality workload: 3 000 steps, batch 512, Adam 1e-3 with cosine decay to 0, shuffled epochs; then the mean
/// test log-likelihood per event in raw units ± its standard error and the training wall time (one JSON line each).
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
        WorkerPool.MaxThreads = threads;
        var dir = BenchData.Locate(BenchUtil.Option(args, "--data-dir"));
        var models = model == "all" ? new[] { "maf", "nsf_c" } : [model];
        var sets = data == "all" ? new[] { "checker2d", "tab18" } : [data];
        foreach (var s in sets)
        {
            var bench = BenchData.Load(s, dir);
            var train = new TrainingData<float>(Tensor<float>.From(bench.Train, bench.TrainRows, bench.Features).Untrack());
            var test = new TrainingData<float>(Tensor<float>.From(bench.Test, bench.TestRows, bench.Features).Untrack());
            foreach (var m in models)
            {
                var flow = FlowsBench.Build(m, bench.Features, new Rng(seed));
                var trainer = new MaximumLikelihoodTrainer<float>(flow, new TrainingOptions
                {
                    Steps = steps, BatchSize = 512, LearningRate = 1e-3, Schedule = new CosineDecaySchedule(1e-3, steps), Seed = seed,
                });
                var clock = Stopwatch.StartNew();
                trainer.Fit(train);
                double seconds = clock.Elapsed.TotalSeconds;
                var (mean, se) = MaximumLikelihoodTrainer<float>.Evaluate(flow, test);
                Console.WriteLine($"{{\"bench\":\"quality\",\"model\":\"{m}\",\"data\":\"{s}\",\"threads\":{threads},\"steps\":{steps},\"test_log_likelihood\":{BenchUtil.Num(mean + bench.LogJacobian, "F4")},\"standard_error\":{BenchUtil.Num(se, "F4")},\"train_seconds\":{BenchUtil.Num(seconds, "F1")}}}");
            }
        }
        return 0;
    }
}
