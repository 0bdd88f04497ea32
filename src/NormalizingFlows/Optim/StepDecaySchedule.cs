namespace NormalizingFlows.Optim;

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
