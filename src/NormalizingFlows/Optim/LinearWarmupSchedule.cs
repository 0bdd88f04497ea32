namespace NormalizingFlows.Optim;

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
