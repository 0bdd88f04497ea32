using NormalizingFlows.Flows;
using NormalizingFlows.Optim;
using NormalizingFlows.Tensors;

namespace NormalizingFlows.Training;

/// <summary>
/// <see cref="DistillationTrainer{T}"/>'s steps on <see cref="DistillationOptions.Device"/>: the teacher and the student
/// compiled there with the optimizer's state, the training events uploaded once; each step's z-pass base draws come
/// from the step's random stream on the host (<see cref="TrainingBatch{T}.Rng"/>, as the CPU loss draws them) and are
/// uploaded with the step, so the device run follows the CPU run. The six terms stay on the device until
/// <see cref="TakeLossSum"/>, which hands their sums to the trainer's reports.
/// </summary>
internal sealed class DistillationDeviceRun : ILoopDevice
{
    private readonly IAcceleratedDistillation _device;
    private readonly Flow<float> _teacher, _student;
    private readonly Adam<float> _adam;
    private readonly long _seed;
    private readonly bool _zPass;
    private readonly Action<DistillationLoss, int> _sums;
    private int _steps; // since the last TakeLossSum

    private DistillationDeviceRun(IAcceleratedDistillation device, Flow<float> teacher, Flow<float> student, Adam<float> adam, long seed, bool zPass, Action<DistillationLoss, int> sums)
    {
        _device = device; _teacher = teacher; _student = student; _adam = adam; _seed = seed; _zPass = zPass; _sums = sums;
    }

    /// <summary>Compiles the pair on <paramref name="device"/> (the student's current weights, <paramref name="adam"/>'s state) and uploads <paramref name="data"/>.</summary>
    public static DistillationDeviceRun Start(IFlowAccelerator device, Flow<float> teacher, Flow<float> student, Adam<float> adam, DistillationOptions options,
        TrainingData<float> data, Action<DistillationLoss, int> sums)
    {
        var compiled = device.CompileDistillation(teacher, student, adam, options.ZPass, options.XPass);
        try
        {
            compiled.SetTrainingData(data.X, teacher.ContextFeatures > 0 ? data.Context : null);
            return new DistillationDeviceRun(compiled, teacher, student, adam, options.Seed, options.ZPass, sums);
        }
        catch
        {
            compiled.Dispose();
            throw;
        }
    }

    public void Step(ReadOnlySpan<int> rows, long step, double learningRate, double? clipNorm)
    {
        // the base draws of DensityDistillationLoss's z-pass: Teacher.Base.Sample(n, batch.Rng)
        var z = _zPass ? _teacher.Base.Sample(rows.Length, new TrainingBatch<float>(step, _seed, null, null, null, default).Rng).Value : null;
        _device.Step(rows, z, learningRate, clipNorm);
        _steps++;
    }

    public double TakeLossSum(long step)
    {
        var sums = _device.TakeLossSums();
        int count = _steps;
        _steps = 0;
        double total = sums.Total;
        if (!double.IsFinite(total))
            throw new TrainingDivergedException(step, null, $"the distillation loss became {total} by step {step} (read back from the device)",
                "Lower the learning rate or clip gradients harder (DistillationOptions.ClipNorm).");
        _sums(sums, count);
        return total;
    }

    public void CopyToHost(bool withOptimizer) => _device.CopyTo(_student, withOptimizer ? _adam : null);

    public double Validate<T>(TrainingData<T> validation) where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
        => throw new NotSupportedException("distillation has no validation");

    public void Dispose() => _device.Dispose();
}
