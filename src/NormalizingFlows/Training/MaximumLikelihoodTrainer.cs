using System.Numerics;
using NormalizingFlows.Flows;
using NormalizingFlows.IO;
using NormalizingFlows.Optim;

namespace NormalizingFlows.Training;

/// <summary>
/// Fits a flow by maximum likelihood (<see cref="MaximumLikelihoodLoss{T}"/>, weights allowed, some negative) with the
/// library's <see cref="TrainingLoop{T}"/>: shuffled minibatches, Adam (AdamW with weight decay), a learning-rate
/// schedule, global-norm clipping, a validation log-likelihood each epoch, early stopping with the best parameters
/// restored, checkpoints (each epoch and on cancellation) and resumption.
/// </summary>
public sealed class MaximumLikelihoodTrainer<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>The metadata "kind" of the training checkpoints this trainer writes (<see cref="FileKinds.Of"/> returns it for one).</summary>
    public const string CheckpointKind = TrainingLoop<T>.DefaultCheckpointKind;

    private readonly TrainingLoop<T> _loop;

    /// <summary>Creates a trainer for <paramref name="flow"/>.</summary>
    public MaximumLikelihoodTrainer(Flow<T> flow, TrainingOptions? options = null)
    {
        Flow = flow ?? throw new ArgumentNullException(nameof(flow));
        _loop = new TrainingLoop<T>(flow, options);
    }

    /// <summary>The flow being trained.</summary>
    public Flow<T> Flow { get; }

    /// <summary>The settings.</summary>
    public TrainingOptions Options => _loop.Options;

    /// <summary>The optimizer (its state is part of the checkpoint).</summary>
    public Optimizer<T> Optimizer => _loop.Optimizer;

    /// <summary>Receives progress reports (every <see cref="TrainingOptions.ReportEverySteps"/> steps and each epoch end).</summary>
    public IProgress<TrainingProgress>? Progress
    {
        get => _loop.Progress;
        set => _loop.Progress = value;
    }

    /// <summary>
    /// Trains on <paramref name="train"/>; validates on <paramref name="validation"/> (or a held-out fraction). With
    /// <paramref name="resumeFrom"/> the model, optimizer and progress are restored from a checkpoint first.
    /// </summary>
    public TrainingHistory Fit(TrainingData<T> train, TrainingData<T>? validation = null, CancellationToken cancellation = default, string? resumeFrom = null)
    {
        ArgumentNullException.ThrowIfNull(train); // the loop validates the data and the loss checks its width
        return _loop.Fit(new MaximumLikelihoodLoss<T>(Flow, Options.EvaluationBatchSize), train, validation, cancellation, resumeFrom);
    }

    /// <summary>
    /// Mean log-likelihood per event of <paramref name="data"/> (weighted mean when weights are given) and its
    /// standard error, in evaluation mode without gradients, in batches (<see cref="MaximumLikelihoodLoss{T}.Evaluate"/>).
    /// </summary>
    public static (double Mean, double StandardError) Evaluate(Flow<T> flow, TrainingData<T> data, int batchSize = 8192) =>
        MaximumLikelihoodLoss<T>.Evaluate(flow, data, batchSize);

    /// <summary>Weighted mean and its standard error (√(Σ w²(x − m)²)/Σ w; for unit weights the usual s/√n).</summary>
    internal static (double Mean, double StandardError) WeightedMean(double[] values, double[]? weights) =>
        MaximumLikelihoodLoss<T>.WeightedMean(values, weights);
}
