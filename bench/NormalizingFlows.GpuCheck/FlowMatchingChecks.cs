using NormalizingFlows.Cuda;
using NormalizingFlows.Flows;
using NormalizingFlows.Tensors;
using NormalizingFlows.Training;

namespace NormalizingFlows.GpuCheck;

/// <summary>
/// Flow matching on the device against the CPU: the same continuous flow ("cnf", D = 18, perturbed weights), trained
/// by <see cref="TrainingLoop{T}"/> with <see cref="FlowMatchingLoss{T}"/> on both (the device run draws its times
/// and base points from the same per-step streams as the CPU loss), then every epoch's loss and validation
/// log-likelihood (the ODE solve with the exact trace on each side) and the final weights compared. Conditional
/// (C = 4 context features) runs use per-event weights too.
/// </summary>
internal static class FlowMatchingChecks
{
    private const int D = 18;

    public static bool Training(ComputeDevice device, int rows, int steps, int context)
    {
        const int epochs = 2;
        int batch = rows, perEpoch = Math.Max(1, steps / epochs);
        var options = new TrainingOptions { Epochs = epochs, BatchSize = batch, LearningRate = 1e-3, Seed = 7, ReportEverySteps = int.MaxValue };
        var train = Data(batch * perEpoch, context, seed: 11);
        var validation = Data(Math.Min(rows, 256), context, seed: 12);
        Flow<float> Build()
        {
            var flow = BenchFlows.Build("cnf", D, new Rng(1), context);
            BenchFlows.Perturb(flow, 0.05, 2);
            return flow;
        }
        TrainingHistory Run(Flow<float> flow, TrainingOptions o) => new TrainingLoop<float>(flow, o).Fit(new FlowMatchingLoss<float>(flow, sigmaMin: 0.01), train, validation);
        var cpuFlow = Build(); var gpuFlow = Build();
        var cpu = Run(cpuFlow, options);
        var gpu = Run(gpuFlow, options with { Device = device });
        string suffix = context == 0 ? "" : "_conditional";
        var cpuLoss = cpu.Epochs.Select(e => (float)e.TrainLoss).ToArray();
        var gpuLoss = gpu.Epochs.Select(e => (float)e.TrainLoss).ToArray();
        bool ok = Checks.Report("flow_matching", $"train_loss_{epochs}_epochs{suffix}", cpuLoss, gpuLoss, i => 1e-5 + 1e-3 * Math.Abs(cpuLoss[i]), "1e-5 + 1e-3·|cpu|", device);
        var cpuVal = cpu.Epochs.Select(e => (float)(e.ValidationLogLikelihood ?? double.NaN)).ToArray();
        var gpuVal = gpu.Epochs.Select(e => (float)(e.ValidationLogLikelihood ?? double.NaN)).ToArray();
        ok &= Checks.Report("flow_matching", $"validation_{epochs}_epochs{suffix}", cpuVal, gpuVal, i => 2e-3 + 1e-4 * Math.Abs(cpuVal[i]), "2e-3 + 1e-4·|cpu|", device);
        var a = cpuFlow.Parameters().SelectMany(p => p.Value.ToArray()).ToArray();
        var b = gpuFlow.Parameters().SelectMany(p => p.Value.ToArray()).ToArray();
        double lr = options.LearningRate;
        return ok & Checks.Report("flow_matching", $"train_weights_{epochs}_epochs{suffix}", a, b, _ => 4 * lr, "4·lr", device);
    }

    /// <summary>Correlated, shifted normal events (and normal context, weights in [0.5, 1.5) when conditional).</summary>
    private static TrainingData<float> Data(int n, int context, long seed)
    {
        var r = new Rng(seed);
        var x = r.Normal<float>(n, D);
        var s = x.Span;
        for (int i = 0; i < s.Length; i++) s[i] = 0.7f * s[i] + 0.1f * (i % D) + (i % D > 0 ? 0.3f * s[i - 1] : 0);
        var c = context == 0 ? null : r.Normal<float>(n, context);
        var w = context == 0 ? null : r.Uniform<float>([n], 0.5, 1.5);
        return new TrainingData<float>(x, c, w);
    }
}
