using System.Diagnostics;
using NormalizingFlows.Cuda;
using NormalizingFlows.Hep.Calorimeter;
using NormalizingFlows.Tensors.Kernels;
using NormalizingFlows.Training;

namespace NormalizingFlows.GpuCheck;

/// <summary>
/// The CaloFlow teacher's time per epoch (issue #17: `nflow calo train --device cuda` against the CPU): e⁺ showers of
/// the toy calorimeter, the paper-size teacher (<see cref="CaloFlowConfig"/>'s defaults: 8 MADE blocks of 504 hidden
/// units, 8 rational-quadratic bins, as `nflow calo train`), batch 256, Adam 1e−3, one epoch on the device and one on
/// the CPU with every core, each after a warm-up epoch on 1 024 showers (kernel compilation, JIT, buffers) from the
/// same initial weights. One JSON line per side with seconds per epoch, steps/s and the final loss.
/// </summary>
internal static class CaloTeacher
{
    public static void Run(ComputeDevice device, CheckOptions o, Outcome outcome)
    {
        int count = o.Quick ? 64 : o.CaloShowers;
        var config = o.Quick ? new CaloFlowConfig { Flow2Layers = 1, Flow2Hidden = 32, Flow2Bins = 4 } : new CaloFlowConfig();
        var calorimeter = new ToyCalorimeter();
        var showers = calorimeter.Simulate(CaloParticle.Positron, count, seed: 1);
        var warm = calorimeter.Simulate(CaloParticle.Positron, o.Quick ? 16 : 1024, seed: 2);
        foreach (var side in new[] { "device", "cpu" })
            outcome.Run("calo_teacher", "workload", $"epoch_{side}", () =>
            {
                var model = CaloFlow.Create(config, showers, seed: 3); // same weights on both sides
                var (_, data) = model.TrainingData(showers, seed: 3);
                var (_, warmData) = model.TrainingData(warm, seed: 3);
                TrainingOptions Options() => new()
                {
                    Epochs = 1, BatchSize = o.Quick ? 16 : 256, LearningRate = 1e-3, Seed = 3, ReportEverySteps = int.MaxValue,
                    Device = side == "device" ? device : null,
                };
                model.TrainTeacher(warmData, Options());
                if (side == "device") device.Synchronize();
                var clock = Stopwatch.StartNew();
                var history = model.TrainTeacher(data, Options());
                double seconds = clock.Elapsed.TotalSeconds;
                double loss = history.Epochs[^1].TrainLoss;
                Json.Line(("model", "calo_teacher"), ("workload", "train_epoch"), ("side", side), ("showers", count), ("steps", history.Steps),
                    ("seconds_per_epoch", seconds), ("steps_per_s", history.Steps / seconds), ("loss", loss),
                    ("parameters", model.ParameterCounts().Teacher), ("threads", side == "cpu" ? WorkerPool.MaxThreads : 0),
                    ("device", side == "device" ? device.Name : "cpu"));
                return double.IsFinite(loss);
            });
    }
}
