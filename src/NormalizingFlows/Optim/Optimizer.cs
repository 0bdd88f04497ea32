using System.Numerics;
using NormalizingFlows.Autograd;
using NormalizingFlows.Tensors;

namespace NormalizingFlows.Optim;

/// <summary>
/// Base of the optimizers: a fixed list of parameters, a settable learning rate, <see cref="Step"/> and
/// <see cref="ZeroGrad"/>, and state export/import as named tensors for checkpoints.
/// </summary>
public abstract class Optimizer<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private double _learningRate;

    /// <summary>Takes the parameters (duplicates are rejected) and the initial learning rate.</summary>
    protected Optimizer(IEnumerable<Parameter<T>> parameters, double learningRate)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        var list = parameters.ToList();
        var seen = new HashSet<Parameter<T>>(ReferenceEqualityComparer.Instance);
        foreach (var p in list)
        {
            ArgumentNullException.ThrowIfNull(p, nameof(parameters));
            if (!seen.Add(p)) throw new ArgumentException($"parameter '{p.Name}' appears twice", nameof(parameters));
        }
        Parameters = list;
        LearningRate = learningRate;
    }

    /// <summary>The parameters, in the order given (state is exported by this index).</summary>
    public IReadOnlyList<Parameter<T>> Parameters { get; }

    /// <summary>Learning rate used by the next <see cref="Step"/> (finite, ≥ 0).</summary>
    public double LearningRate
    {
        get => _learningRate;
        set
        {
            if (!(value >= 0) || double.IsInfinity(value)) throw new ArgumentOutOfRangeException(nameof(value), value, "learning rate must be finite and ≥ 0");
            _learningRate = value;
        }
    }

    /// <summary>Number of <see cref="Step"/> calls so far.</summary>
    public long StepCount { get; protected set; }

    /// <summary>Updates every trainable parameter that has a gradient.</summary>
    public abstract void Step();

    /// <summary>Zeroes the gradients of all parameters (keeping their buffers).</summary>
    public void ZeroGrad()
    {
        foreach (var p in Parameters) p.ZeroGrad();
    }

    /// <summary>The optimizer's state as named tensors (copies, untracked), for checkpoints.</summary>
    public abstract OrderedDictionary<string, Tensor<T>> ExportState();

    /// <summary>Restores state written by <see cref="ExportState"/>; names and shapes must match (the exception names the first mismatch).</summary>
    public abstract void ImportState(IReadOnlyDictionary<string, Tensor<T>> state);
}
