using NormalizingFlows.Autograd;
using NormalizingFlows.Cuda;
using NormalizingFlows.Distributions;
using NormalizingFlows.Flows;
using NormalizingFlows.Nn;
using NormalizingFlows.Optim;
using NormalizingFlows.Tensors;
using NormalizingFlows.Training;
using NormalizingFlows.Transforms;
using NormalizingFlows.Transforms.Coupling;
using NormalizingFlows.Transforms.Splines;

namespace NormalizingFlows.GpuCheck;

/// <summary>
/// The i-flow's device path (FlowIntegrator with a device) against the library, D = 4, for each unit-interval spline
/// (rational-quadratic with learnable boundary derivatives, piecewise-linear, piecewise-quadratic): the unit-cube
/// flow's samples and log q against the host inverse of the same uniform draws; and for each divergence (KL, χ²,
/// exponential with β = 0.5) one round on a fixed sample: the first step's gradients against autograd's through
/// SampledDivergenceLoss, then 4 steps with the integrator's schedule and clip against the library's training loop
/// (losses to 1e−3 relative, weights to 4·lr). Models "iflow_rq", "iflow_linear", "iflow_quadratic".
/// </summary>
internal static class IflowChecks
{
    private const int D = 4, Steps = 4;
    private const double Lr = 5e-3;

    private static readonly (string Name, Func<IElementwiseSpline> Spline)[] Splines =
    [
        ("rq", () => new RationalQuadraticSpline(16, SplineDomain.UnitInterval)),
        ("linear", () => new PiecewiseLinearSpline(16)),
        ("quadratic", () => new PiecewiseQuadraticSpline(16)),
    ];

    public static void Run(ComputeDevice device, CheckOptions o, Outcome outcome)
    {
        int rows = o.Quick ? 64 : 4096;
        foreach (var (name, spline) in Splines)
        {
            string model = "iflow_" + name;
            outcome.Run(model, "check", "sample", () => Sample(model, spline, device, Math.Min(rows, 1024)));
            foreach (var (divergence, beta) in new[] { (Divergence.KullbackLeibler, 1.0), (Divergence.Variance, 1.0), (Divergence.Exponential, 0.5) })
                outcome.Run(model, "check", $"round_{divergence}", () => Round(model, spline, divergence, beta, device, rows));
        }
    }

    /// <summary>i-flow's layout at D = 4 (binary masks: 4 coupling layers), ReLU MLPs of 32, weights moved off the identity.</summary>
    private static Flow<float> UnitFlow(Func<IElementwiseSpline> spline)
    {
        var rng = new Rng(1);
        var conditioner = new ConditionerOptions { HiddenFeatures = 32, HiddenLayers = 2, Activation = Activation.Relu };
        var layers = new List<Transform<float>>();
        for (int bit = 0; bit < 2; bit++)
        {
            var mask = CouplingMask.Custom([.. Enumerable.Range(0, D).Select(j => ((j >> bit) & 1) == 1)]);
            layers.Add(new SplineCoupling<float>(mask, spline(), rng, 0, conditioner));
            layers.Add(new SplineCoupling<float>(mask.Flipped(), spline(), rng, 0, conditioner));
        }
        var flow = new Flow<float>(new CompositeTransform<float>([.. layers]), BoxUniform<float>.UnitCube(D));
        BenchFlows.Perturb(flow, 0.1, 2);
        flow.Eval();
        return flow;
    }

    private static bool Sample(string model, Func<IElementwiseSpline> spline, ComputeDevice device, int rows)
    {
        var flow = UnitFlow(spline);
        using var dflow = DeviceFlow.Compile(flow, device);
        using var x = DeviceTensor.Zeros(device, rows, D);
        using var logq = DeviceTensor.Zeros(device, rows);
        dflow.Sample(x, logq, seed: 9);
        using var z = DeviceTensor.Zeros(device, rows, D);
        DeviceOps.UniformNoise(z, NoiseArgs.Rows(9, 0, D));
        float[] cpuX, cpuLogQ;
        using (GradMode.Disable())
        {
            var (xh, ld) = flow.Transform.Inverse(new Var<float>(z.Download()));
            cpuX = [.. xh.Value.ToArray().Select(v => Math.Clamp(v, 0f, 1f))];
            cpuLogQ = [.. ld.Value.ToArray().Select(v => -v)];
        }
        var zs = z.Download().ToArray();
        // the inverse's rule of Checks.Inverse: a few float ulps of z times the row's |det ∂x/∂z|
        double Tolerance(int i) => 1e-3 + 8 * 1.2e-7 * Math.Exp(Math.Max(-cpuLogQ[i / D], 0));
        bool ok = Checks.Report(model, "sample_x", cpuX, x.Download().ToArray(), Tolerance, "1e-3 + 8·1.2e-7·max(|det ∂x/∂z|, 1)", device);
        return ok & Checks.Report(model, "sample_log_q", cpuLogQ, logq.Download().ToArray(), i => 2e-3 + 1e-4 * Math.Abs(cpuLogQ[i]), "2e-3 + 1e-4·|cpu|", device);
    }

    private static bool Round(string model, Func<IElementwiseSpline> spline, Divergence divergence, double beta, ComputeDevice device, int rows)
    {
        var cpu = UnitFlow(spline);
        var rng = new Rng(31);
        var x = rng.Uniform<float>([rows, D]).Untrack();
        Tensor<float> lqOld;
        using (GradMode.Disable()) lqOld = cpu.Transform.Forward(new Var<float>(x)).LogAbsDet.Value.Clone().Untrack();
        var f = new double[rows];
        for (int i = 0; i < rows; i++)
        {
            double a = 0, b = 0;
            for (int j = 0; j < D; j++) { double v = x.ReadOnlySpan[i * D + j]; a += (v - 1 / 3.0) * (v - 1 / 3.0); b += (v - 2 / 3.0) * (v - 2 / 3.0); }
            f[i] = Math.Exp(-a / 0.04) + Math.Exp(-b / 0.04); // i-flow's camel
        }
        var (_, coefficient, aux) = SampledDivergenceLoss<float>.RoundCoefficients(divergence, f, lqOld.ReadOnlySpan, beta);
        SampledDivergenceLoss<float> Loss(Flow<float> flow) =>
            new(v => flow.Transform.Forward(v).LogAbsDet, () => (x, lqOld), _ => f, divergence, Steps) { Exponent = _ => beta };

        // the first step's gradients, without clipping
        var host = UnitFlow(spline);
        bool ok;
        using (var dflow = DeviceFlow.Compile(host, device))
        using (var dx = DeviceTensor.Upload(device, x))
        using (var dc = DeviceTensor.Upload(device, coefficient!))
        using (var da = DeviceTensor.Upload(device, aux!))
        {
            dflow.DivergenceStep(dx, dc, da, divergence switch { Divergence.Variance => 1, Divergence.Exponential => 2, _ => 0 }, Lr, null);
            new TrainingLoop<float>(host, new TrainingOptions { Steps = 1, LearningRate = Lr, ClipNorm = null, ReportEverySteps = int.MaxValue }).Fit(Loss(host), 1);
            ok = Checks.Gradients(model, $"gradients_step_1_{divergence}", host, dflow, device);
        }

        // Steps steps with the integrator's schedule and clip: every step's loss, then the weights
        var schedule = new CosineDecaySchedule(Lr, Steps, Lr * 0.1);
        var cpuLosses = new List<double>();
        var loop = new TrainingLoop<float>(cpu, new TrainingOptions { Steps = Steps, LearningRate = Lr, Schedule = schedule, ClipNorm = 10, ReportEverySteps = 1 },
            new Adam<float>(cpu.Parameters().Where(p => p.Trainable), Lr)) { Progress = new Losses(cpuLosses) };
        loop.Fit(Loss(cpu), Steps);
        var gpu = UnitFlow(spline);
        using var accelerated = device.Compile(gpu, new Adam<float>(gpu.Parameters().Where(p => p.Trainable), Lr));
        accelerated.SetDivergenceRound(x, divergence, coefficient!, aux!);
        var gpuLosses = new float[Steps];
        for (int s = 0; s < Steps; s++)
        {
            accelerated.DivergenceStep(schedule.LearningRate(s), 10);
            gpuLosses[s] = (float)accelerated.TakeLossSum();
        }
        var expected = cpuLosses.Select(v => (float)v).ToArray();
        ok &= Checks.Report(model, $"round_loss_{divergence}", expected, gpuLosses, i => 1e-4 + 1e-3 * Math.Abs(expected[i]), "1e-4 + 1e-3·|cpu|", device);
        accelerated.CopyTo(gpu);
        var a1 = cpu.Parameters().SelectMany(p => p.Value.ToArray()).ToArray();
        var b1 = gpu.Parameters().SelectMany(p => p.Value.ToArray()).ToArray();
        return ok & Checks.Report(model, $"round_weights_{divergence}", a1, b1, _ => 4 * Lr, "4·lr", device);
    }

    private sealed class Losses(List<double> values) : IProgress<TrainingProgress>
    {
        public void Report(TrainingProgress value)
        {
            if (!value.EndOfEpoch) values.Add(value.Loss);
        }
    }
}
