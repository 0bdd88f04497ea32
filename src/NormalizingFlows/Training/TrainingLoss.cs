using System.Numerics;
using NormalizingFlows.Autograd;

namespace NormalizingFlows.Training;

/// <summary>
/// The objective a <see cref="TrainingLoop{T}"/> minimises: the loss of one batch (with its graph recorded), and
/// optionally a validation score and a diagnosis of non-finite values. The loop owns everything else (batching,
/// optimizer, schedule, clipping, validation epochs, early stopping, checkpoints, cancellation, resume).
/// </summary>
public abstract class TrainingLoss<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>
    /// The scalar loss of <paramref name="batch"/>, recorded for backpropagation (the loop calls Backward), or null to
    /// skip the optimizer step (nothing to learn from this batch; the step still counts for the schedule).
    /// </summary>
    public abstract Var<T>? Compute(TrainingBatch<T> batch);

    /// <summary>
    /// Checks the data of a data-driven run before the first step (throws <see cref="ArgumentException"/> naming the
    /// problem); <paramref name="validation"/> is null without validation data.
    /// </summary>
    public virtual void Prepare(TrainingData<T> train, TrainingData<T>? validation) { }

    /// <summary>The validation score of the model on <paramref name="validation"/>: higher is better (e.g. a mean log-likelihood, or minus a mean loss).</summary>
    public virtual double Validate(TrainingData<T> validation) =>
        throw new NotSupportedException($"{GetType().Name} has no validation score; train without validation data");

    /// <summary>After a non-finite loss on <paramref name="batch"/>: the first layer or parameter whose values are not finite, if one is found.</summary>
    public virtual string? Diagnose(TrainingBatch<T> batch) => null;

    /// <summary>
    /// True when <see cref="Compute"/> keeps nothing of a step past it (no tensor or node of the step in a field), so the
    /// loop runs the step in a recycling scope (<see cref="NormalizingFlows.Tensors.TensorScope.BeginRecycling"/>) and
    /// reuses one <see cref="TrainingBatch{T}"/>: no managed allocation per step.
    /// </summary>
    internal virtual bool StepKeepsNothing => false;

    /// <summary>"parameter 'name'" of the first parameter of <paramref name="model"/> with a non-finite value, or null.</summary>
    protected static string? FirstNonFiniteParameter(NormalizingFlows.Nn.Module<T> model)
    {
        foreach (var (name, p) in model.NamedParameters())
            if (!TrainingLoop<T>.AllFinite(p.Value)) return $"parameter '{name}'";
        return null;
    }
}
