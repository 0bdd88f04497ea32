namespace NormalizingFlows.Training;

/// <summary>A progress report during training.</summary>
/// <param name="Epoch">Current epoch (from 1).</param>
/// <param name="Step">Steps done.</param>
/// <param name="TotalSteps">Steps planned.</param>
/// <param name="Loss">Mean training loss since the last report.</param>
/// <param name="LearningRate">Current learning rate.</param>
/// <param name="StepsPerSecond">Throughput since the last report.</param>
/// <param name="ValidationLogLikelihood">Latest validation score (maximum likelihood: log-likelihood), if any.</param>
/// <param name="EndOfEpoch">True for the report at an epoch's end (its loss is the epoch's mean).</param>
public sealed record TrainingProgress(int Epoch, long Step, long TotalSteps, double Loss, double LearningRate, double StepsPerSecond, double? ValidationLogLikelihood,
    bool EndOfEpoch = false);
