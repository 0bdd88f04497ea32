namespace NormalizingFlows.Optim;

/// <summary>A learning rate as a function of the (0-based) optimisation step.</summary>
public interface ILearningRateSchedule
{
    /// <summary>The learning rate to use at step <paramref name="step"/> (0-based).</summary>
    double LearningRate(int step);
}
