using System.Diagnostics;
using NormalizingFlows.Flows;
using NormalizingFlows.Optim;
using NormalizingFlows.Training;

namespace NormalizingFlows.Bench;

/// <summary>
/// The quality workload's recipe (shared/bench/README.md): batch 512, Adam 1e-3 with cosine decay to 0 over the steps,
/// shuffled epochs (<see cref="TrainingLoop{T}"/>'s order for the seed), then the mean test log-likelihood per event ±
/// its standard error (float log p, averaged in double). One source for the bench (CPU) and the GPU check (device and
/// CPU from the same seed and initial weights), linked into both projects.
/// </summary>
internal static class QualityRecipe
{
    public const int BatchSize = 512;
    public const double LearningRate = 1e-3;

    /// <summary>
    /// The reference options for <paramref name="steps"/> steps (<paramref name="batchSize"/>: the reference's 512 unless
    /// a smoke test asks for less); <paramref name="device"/> null trains on the CPU.
    /// </summary>
    public static TrainingOptions Options(int steps, long seed, IFlowAccelerator? device = null, int batchSize = BatchSize) => new()
    {
        Steps = steps, BatchSize = batchSize, LearningRate = LearningRate, Schedule = new CosineDecaySchedule(LearningRate, steps),
        Seed = seed, Device = device,
    };

    /// <summary>Trains <paramref name="flow"/> by <paramref name="loss"/> on <paramref name="train"/>; returns the wall and the process's CPU seconds.</summary>
    public static (double Seconds, double CpuSeconds) Train(Flow<float> flow, TrainingLoss<float> loss, TrainingData<float> train, TrainingOptions options)
    {
        var clock = Stopwatch.StartNew();
        var cpu0 = Process.GetCurrentProcess().TotalProcessorTime;
        new TrainingLoop<float>(flow, options).Fit(loss, train);
        return (clock.Elapsed.TotalSeconds, (Process.GetCurrentProcess().TotalProcessorTime - cpu0).TotalSeconds);
    }

    /// <summary>
    /// Mean test log-likelihood per event (standardised units: add <see cref="BenchData.LogJacobian"/> for raw units) and
    /// its standard error, in batches of 1 024 (the exact trace of a continuous flow holds D tangents per row).
    /// </summary>
    public static (double Mean, double StandardError) Score(Flow<float> flow, TrainingData<float> test) =>
        MaximumLikelihoodTrainer<float>.Evaluate(flow, test, batchSize: 1024);
}
