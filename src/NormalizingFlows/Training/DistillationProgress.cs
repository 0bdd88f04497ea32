namespace NormalizingFlows.Training;

/// <summary>One report of <see cref="DistillationTrainer{T}"/>: step, mean loss since the last report, learning rate.</summary>
public sealed record DistillationProgress(long Step, long TotalSteps, DistillationLoss Loss, double LearningRate, double StepsPerSecond);
