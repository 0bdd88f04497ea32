using System.Diagnostics;
using NormalizingFlows.Cuda;
using NormalizingFlows.Flows;
using NormalizingFlows.Tensors;
using NormalizingFlows.Tensors.Kernels;
using NormalizingFlows.Training;

namespace NormalizingFlows.GpuCheck;

/// <summary>
/// CaloFlow's distillation (issue #17: `nflow calo distill --device cuda` against the CPU) at flow II's shape
/// (<see cref="Workloads.CaloShapes"/>'s: a spline MAF teacher over 504 features with 4 context features, 8 layers of
/// MADE 504, 8 bins, weights moved off their start, and its IAF student from the teacher's weights, moved off them;
/// --quick: 24 features, 2 layers of 16), a few steps of <see cref="DistillationTrainer{T}"/> at the CLI's default batch
/// (256; --quick 16) on the device and on the CPU with every core, from the same weights, data and base draws (the
/// trainer's seeded stream). The check <c>calo_distill_first_step_terms</c> fails when one of the first step's six
/// terms differs between the sides by more than <see cref="Tolerance"/> relative (plus 1e−7), or a term is not finite.
/// One JSON line per side with seconds per step and steps/s over the steps after the first (which compiles the kernels
/// and allocates the buffers), each step's six terms read back (so each timed step ends with a synchronization).
/// </summary>
internal static class CaloDistill
{
    /// <summary>
    /// Relative tolerance of each first-step term: both sides compute in float32 from the same inputs, only the
    /// summation orders differ (cuBLAS or the CPU accelerator's GEMM against the CPU's blocked kernels), ≈ 1e−6 per
    /// dot product of 504 terms, grown through the 16 layer maps before the MSEs; a wrong kernel changes a term at O(1).
    /// </summary>
    public const double Tolerance = 1e-3;

    public static void Run(ComputeDevice device, CheckOptions o, Outcome outcome)
    {
        var (d, layers, hidden, batch, rows, steps) = o.Quick ? (24, 2, 16, 16, 64, 3) : (504, 8, 504, 256, 2048, 6);
        const int context = 4;
        outcome.Run("calo_distill", "workload", "steps", () =>
        {
            var teacher = FlowBuilders.MafRqs<float>(d, layers, hidden, 8, 4.0, context, new Rng(5));
            BenchFlows.Perturb(teacher, 0.02, 6);
            Flow<float> Student()
            {
                var s = DistillationTrainer<float>.CreateStudent(teacher, new Rng(7), copyWeights: true);
                BenchFlows.Perturb(s, 0.02, 8);
                return s;
            }
            var data = new TrainingData<float>(new Rng(11).Normal<float>(rows, d), new Rng(12).Normal<float>(rows, context));
            var first = new Dictionary<string, DistillationLoss>();
            bool finite = true;
            foreach (var side in new[] { "device", "cpu" })
            {
                var times = new List<double>();
                var clock = new Stopwatch();
                var progress = new Progress(p =>
                {
                    times.Add(clock.Elapsed.TotalSeconds);
                    if (p.Step == 1) first[side] = p.Loss;
                    finite &= double.IsFinite(p.Loss.Total);
                });
                var options = new DistillationOptions
                {
                    Steps = steps, BatchSize = batch, LearningRate = 1e-3, Seed = 13, ReportEverySteps = 1,
                    Device = side == "device" ? device : null,
                };
                var trainer = new DistillationTrainer<float>(teacher, Student(), options) { Progress = progress };
                clock.Start();
                var last = trainer.Fit(data);
                double seconds = (times[^1] - times[0]) / (times.Count - 1); // the steps after the first
                Json.Line(("model", "calo_distill"), ("workload", "distill_steps"), ("side", side), ("features", d), ("layers", layers),
                    ("batch", batch), ("steps", steps), ("timed_steps", times.Count - 1), ("seconds_per_step", seconds), ("steps_per_s", 1 / seconds),
                    ("first_step_seconds", times[0]), ("loss", last.Total), ("parameters_teacher", teacher.ParameterCount()),
                    ("threads", side == "cpu" ? WorkerPool.MaxThreads : 0), ("device", side == "device" ? device.Name : "cpu"));
            }
            var (dev, cpu) = (Terms(first["device"]), Terms(first["cpu"]));
            double worst = 0;
            for (int i = 0; i < dev.Length; i++)
            {
                finite &= double.IsFinite(dev[i]) && double.IsFinite(cpu[i]);
                worst = Math.Max(worst, Math.Abs(dev[i] - cpu[i]) / (1e-7 + Tolerance * Math.Abs(cpu[i])));
            }
            bool pass = finite && worst <= 1;
            Json.Line(("check", "calo_distill_first_step_terms"), ("device_terms", dev), ("cpu_terms", cpu), ("tolerance", Tolerance),
                ("worst_over_tolerance", worst), ("pass", pass), ("device", device.Name));
            return pass;
        });
    }

    private static double[] Terms(DistillationLoss l) => [l.Z, l.X, l.IntermediateZ, l.IntermediateX, l.ParametersZ, l.ParametersX];

    /// <summary>Reports on the trainer's thread (Progress&lt;T&gt; would post them).</summary>
    private sealed class Progress(Action<DistillationProgress> report) : IProgress<DistillationProgress>
    {
        public void Report(DistillationProgress value) => report(value);
    }
}
