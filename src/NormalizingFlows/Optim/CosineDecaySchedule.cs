namespace NormalizingFlows.Optim;

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
