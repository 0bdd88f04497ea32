namespace NormalizingFlows.Optim;

/// <summary>A learning rate as a function of the (0-based) optimisation step.</summary>
public interface ILearningRateSchedule
{
    /// <summary>The learning rate to use at step <paramref name="step"/> (0-based).</summary>
    double LearningRate(int step);
}

/// <summary>The same learning rate at every step.</summary>
public sealed class ConstantSchedule(double learningRate) : ILearningRateSchedule
{
    /// <summary>The constant rate.</summary>
    public double Rate { get; } = learningRate;

    /// <inheritdoc/>
    public double LearningRate(int step) => Rate;
}

/// <summary>
/// Cosine decay from <c>initial</c> to <c>floor</c> over <c>steps</c> steps:
/// lr(t) = floor + (initial − floor)·(1 + cos(π·min(t, steps)/steps))/2; after <c>steps</c> it stays at the floor.
/// </summary>
public sealed class CosineDecaySchedule : ILearningRateSchedule
{
    /// <summary>Creates the schedule.</summary>
    public CosineDecaySchedule(double initial, int steps, double floor = 0.0)
    {
        if (steps <= 0) throw new ArgumentOutOfRangeException(nameof(steps), steps, "must be positive");
        Initial = initial; Steps = steps; Floor = floor;
    }

    /// <summary>Rate at step 0.</summary>
    public double Initial { get; }
    /// <summary>Length of the decay.</summary>
    public int Steps { get; }
    /// <summary>Final rate.</summary>
    public double Floor { get; }

    /// <inheritdoc/>
    public double LearningRate(int step)
    {
        double f = Math.Clamp(step, 0, Steps) / (double)Steps;
        return Floor + (Initial - Floor) * 0.5 * (1 + Math.Cos(Math.PI * f));
    }
}

/// <summary>Step decay: lr(t) = initial·gamma^⌊t / stepSize⌋.</summary>
public sealed class StepDecaySchedule : ILearningRateSchedule
{
    /// <summary>Creates the schedule.</summary>
    public StepDecaySchedule(double initial, int stepSize, double gamma)
    {
        if (stepSize <= 0) throw new ArgumentOutOfRangeException(nameof(stepSize), stepSize, "must be positive");
        Initial = initial; StepSize = stepSize; Gamma = gamma;
    }

    /// <summary>Rate at step 0.</summary>
    public double Initial { get; }
    /// <summary>Steps between decays.</summary>
    public int StepSize { get; }
    /// <summary>Factor applied every <see cref="StepSize"/> steps.</summary>
    public double Gamma { get; }

    /// <inheritdoc/>
    public double LearningRate(int step) => Initial * Math.Pow(Gamma, Math.Max(step, 0) / StepSize);
}

/// <summary>
/// Linear warm-up over another schedule: lr(t) = inner(t)·(t + 1)/warmupSteps for t &lt; warmupSteps, inner(t) after.
/// </summary>
public sealed class LinearWarmupSchedule : ILearningRateSchedule
{
    /// <summary>Wraps <paramref name="inner"/> with <paramref name="warmupSteps"/> warm-up steps.</summary>
    public LinearWarmupSchedule(ILearningRateSchedule inner, int warmupSteps)
    {
        ArgumentNullException.ThrowIfNull(inner);
        if (warmupSteps < 0) throw new ArgumentOutOfRangeException(nameof(warmupSteps), warmupSteps, "must be ≥ 0");
        Inner = inner; WarmupSteps = warmupSteps;
    }

    /// <summary>The wrapped schedule.</summary>
    public ILearningRateSchedule Inner { get; }
    /// <summary>Length of the warm-up.</summary>
    public int WarmupSteps { get; }

    /// <inheritdoc/>
    public double LearningRate(int step)
    {
        double lr = Inner.LearningRate(step);
        return step < WarmupSteps ? lr * (Math.Max(step, 0) + 1) / WarmupSteps : lr;
    }
}
