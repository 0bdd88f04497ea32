namespace NormalizingFlows.Training;

/// <summary>One epoch's figures.</summary>
/// <param name="Epoch">Epoch number, from 1.</param>
/// <param name="Step">Optimizer steps done at the end of the epoch.</param>
/// <param name="TrainLoss">Mean loss over the epoch's batches (maximum likelihood: weighted negative log-likelihood per event).</param>
/// <param name="ValidationLogLikelihood">The validation score, higher is better (maximum likelihood: mean weighted log-likelihood per event on the validation set), or null.</param>
/// <param name="LearningRate">Learning rate at the end of the epoch.</param>
/// <param name="Seconds">Wall time of the epoch.</param>
public sealed record EpochRecord(int Epoch, long Step, double TrainLoss, double? ValidationLogLikelihood, double LearningRate, double Seconds);
