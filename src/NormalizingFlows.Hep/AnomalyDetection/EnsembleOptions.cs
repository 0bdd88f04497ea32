using NormalizingFlows.Hep.Evaluation;

namespace NormalizingFlows.Hep.AnomalyDetection;

/// <summary>Settings of a k-fold ensemble of MLP classifiers (<see cref="CrossFittedEnsemble"/>).</summary>
public sealed record EnsembleOptions
{
    /// <summary>
    /// The classifier of every member (its Folds field is ignored; its Seed is the base seed). Default: three hidden
    /// layers of 64 (as CATHODE), 40 epochs, patience 6, class balancing.
    /// </summary>
    public ClassifierOptions Classifier { get; init; } = new() { HiddenSizes = [64, 64, 64], Epochs = 40, Patience = 6, LearningRate = 1e-3 };

    /// <summary>Folds k ≥ 2: each event is scored by the members trained on the other k − 1 folds.</summary>
    public int Folds { get; init; } = 5;

    /// <summary>Members per fold (different seeds and validation splits); their probabilities are averaged.</summary>
    public int Members { get; init; } = 1;

    /// <summary>Throws an <see cref="ArgumentException"/> naming an invalid setting.</summary>
    public void Validate()
    {
        ArgumentNullException.ThrowIfNull(Classifier);
        if (Folds < 2) throw new ArgumentException($"EnsembleOptions.Folds must be ≥ 2, got {Folds}");
        if (Members < 1) throw new ArgumentException($"EnsembleOptions.Members must be ≥ 1, got {Members}");
    }
}
