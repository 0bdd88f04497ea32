using System.Numerics;
using NormalizingFlows.Tensors;

namespace NormalizingFlows.Training;

/// <summary>
/// What <see cref="TrainingLoop{T}"/> hands a <see cref="TrainingLoss{T}"/> for one optimizer step: the minibatch of a
/// data-driven run (null for a loss-driven run, whose loss draws its own samples), the step, and a random stream for
/// the loss's own draws.
/// </summary>
public sealed class TrainingBatch<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private long _seed;
    private Rng? _rng;

    internal TrainingBatch() { }

    internal TrainingBatch(long step, long seed, Tensor<T>? x, Tensor<T>? context, Tensor<T>? weights, ReadOnlyMemory<int> rows)
        => Set(step, seed, x, context, weights, rows);

    /// <summary>Makes this the batch of <paramref name="step"/> (the loop reuses one object across the steps of a loss that keeps nothing of them).</summary>
    internal void Set(long step, long seed, Tensor<T>? x, Tensor<T>? context, Tensor<T>? weights, ReadOnlyMemory<int> rows)
    {
        Step = step; _seed = seed; X = x; Context = context; Weights = weights; Rows = rows;
        _rng = null;
    }

    /// <summary>The optimizer step this batch is for (0 for the first step of the run).</summary>
    public long Step { get; private set; }

    /// <summary>The events [B, D] (data-driven runs), or null.</summary>
    public Tensor<T>? X { get; private set; }

    /// <summary>Their context [B, C] when the data have one, else null.</summary>
    public Tensor<T>? Context { get; private set; }

    /// <summary>Their weights [B] when the data have them, else null.</summary>
    public Tensor<T>? Weights { get; private set; }

    /// <summary>The rows of the training data the batch holds, in batch order (empty for a loss-driven run).</summary>
    public ReadOnlyMemory<int> Rows { get; private set; }

    /// <summary>
    /// A random stream determined by the run's seed and <see cref="Step"/> alone, so a loss that draws from it (base
    /// points, noise) draws the same numbers in a resumed run as in an uninterrupted one.
    /// </summary>
    public Rng Rng => _rng ??= new Rng(unchecked((ulong)_seed * 0x9E3779B97F4A7C15UL ^ (ulong)Step * 0xBF58476D1CE4E5B9UL ^ 0x5DEECE66DUL));
}
