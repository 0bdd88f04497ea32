using NormalizingFlows.Autograd;
using NormalizingFlows.Cuda;
using NormalizingFlows.Optim;
using NormalizingFlows.Tensors;

namespace NormalizingFlows.GpuCheck;

/// <summary>
/// The device flows against the library's CPU path with the same weights, D = 18: log p, the sampling direction,
/// and 20 training steps (losses to 1e−3 relative; final weights to 4·lr: Adam normalises each gradient, so rounding
/// differences in tiny gradients can move a weight by up to ~lr per step) on the same batches. One JSON line per check.
/// </summary>
internal static class Checks
{
    public static bool Run(ComputeDevice device, CheckOptions o)
    {
        bool all = true;
        const int d = 18;
        int rows = o.Quick ? 16 : 512;
        int steps = o.Quick ? 5 : 20;
        foreach (var model in o.Models)
        {
            var flow = BenchFlows.Build(model, d, new Rng(1));
            BenchFlows.Perturb(flow, 0.05, 2);
            using var dflow = DeviceFlow.Compile(flow, device);

            var x = new Rng(3).Normal<float>(rows, d);
            float[] cpu;
            using (GradMode.Disable()) cpu = flow.LogProb(new Var<float>(x)).Value.ToArray();
            var dev = dflow.LogProb(x);
            all &= Report(model, "log_prob", cpu, dev, 1e-4, 2e-3, device);

            int sampleRows = Math.Min(rows, 128);
            var z = new Rng(4).Normal<float>(sampleRows, d);
            float[] cpuX;
            using (GradMode.Disable()) cpuX = flow.Transform.Inverse(new Var<float>(z)).X.Value.ToArray();
            using var dz = DeviceTensor.Upload(device, z);
            using var dx = DeviceTensor.Zeros(device, sampleRows, d);
            dflow.Inverse(dz, dx);
            all &= Report(model, "inverse", cpuX, dx.Download().ToArray(), 1e-3, 1e-3, device);

            all &= Training(model, device, rows, d, steps);
        }
        return all;
    }

    private static bool Training(string model, ComputeDevice device, int rows, int d, int steps)
    {
        const double lr = 1e-3;
        var cpu = BenchFlows.Build(model, d, new Rng(1));
        var gpu = BenchFlows.Build(model, d, new Rng(1));
        BenchFlows.Perturb(cpu, 0.05, 2);
        BenchFlows.Perturb(gpu, 0.05, 2);
        var adam = new Adam<float>(cpu.Parameters(), learningRate: lr);
        using var dflow = DeviceFlow.Compile(gpu, device);
        var cpuLoss = new float[steps]; var gpuLoss = new float[steps];
        for (int step = 0; step < steps; step++)
        {
            var batch = new Rng(100 + step).Normal<float>(rows, d);
            adam.ZeroGrad();
            var loss = Ops.Neg(Ops.Mean(cpu.LogProb(new Var<float>(batch))));
            loss.Backward();
            adam.Step();
            cpuLoss[step] = loss.Value.ReadOnlySpan[0];
            using var db = DeviceTensor.Upload(device, batch);
            gpuLoss[step] = dflow.TrainStep(db, lr, readLoss: true)!.Value;
        }
        bool ok = Report(model, $"train_loss_{steps}_steps", cpuLoss, gpuLoss, 1e-3, 1e-4, device);
        dflow.CopyTo(gpu);
        var a = cpu.Parameters().SelectMany(p => p.Value.ToArray()).ToArray();
        var b = gpu.Parameters().SelectMany(p => p.Value.ToArray()).ToArray();
        return ok & Report(model, $"train_weights_{steps}_steps", a, b, 0, 4 * lr, device);
    }

    private static bool Report(string model, string check, float[] expected, float[] actual, double rel, double abs, ComputeDevice device)
    {
        double maxAbs = 0;
        bool pass = expected.Length == actual.Length;
        for (int i = 0; i < Math.Min(expected.Length, actual.Length); i++)
        {
            double diff = Math.Abs((double)expected[i] - actual[i]);
            maxAbs = Math.Max(maxAbs, diff);
            if (!(diff <= abs + rel * Math.Abs(expected[i]))) pass = false;
        }
        Json.Line(("check", check), ("model", model), ("n", expected.Length), ("max_abs_diff", maxAbs), ("rel_tol", rel), ("abs_tol", abs),
            ("pass", pass), ("device", device.Name));
        return pass;
    }
}
