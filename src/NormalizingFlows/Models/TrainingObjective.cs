namespace NormalizingFlows.Models;

/// <summary>What <see cref="FlowModelTrainer{T}"/> minimises.</summary>
public enum TrainingObjective
{
    /// <summary>The (weighted) negative log-likelihood (<see cref="Training.MaximumLikelihoodLoss{T}"/>): every flow.</summary>
    MaximumLikelihood,

    /// <summary>
    /// Conditional flow matching (<see cref="Training.FlowMatchingLoss{T}"/>): a flow whose transform ends in a
    /// continuous one, whatever its builder (a composed flow too).
    /// </summary>
    FlowMatching,
}
