namespace NormalizingFlows.Optim;

/// <summary>The same learning rate at every step.</summary>
public sealed class ConstantSchedule(double learningRate) : ILearningRateSchedule
{
    /// <summary>The constant rate.</summary>
    public double Rate { get; } = learningRate;

    /// <inheritdoc/>
    public double LearningRate(int step) => Rate;
}
