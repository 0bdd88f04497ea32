using System.Numerics;
using NormalizingFlows.Tensors;

namespace NormalizingFlows.Training;

/// <summary>
/// Rows to train or evaluate on: events X [N, D], an optional context [N, C] (conditional flows) and optional
/// per-event weights [N] (HEP events carry weights, some negative).
/// </summary>
public sealed record TrainingData<T>(Tensor<T> X, Tensor<T>? Context = null, Tensor<T>? Weights = null)
    where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Number of events.</summary>
    public int Rows => X.Dim(0);

    /// <summary>Throws an <see cref="ArgumentException"/> naming the mismatch.</summary>
    public void Validate(string what = "training data")
    {
        if (X.Rank != 2) throw new ArgumentException($"{what}: events must be [rows, features], got {X.ShapeString}");
        if (Context is not null && (Context.Rank != 2 || Context.Dim(0) != Rows))
            throw new ArgumentException($"{what}: context must be [{Rows}, C], got {Context.ShapeString}");
        if (Weights is not null)
        {
            if (Weights.Length != Rows || Weights.Rank > 2)
                throw new ArgumentException($"{what}: weights must have one entry per event ({Rows}), got {Weights.ShapeString}");
            var w = Weights.ReadOnlySpan;
            for (int i = 0; i < w.Length; i++)
                if (!T.IsFinite(w[i])) throw new ArgumentException($"{what}: weight of event {i} is {w[i]}");
        }
    }

    /// <summary>Sum of the weights (N when unweighted), in double.</summary>
    public double WeightSum() => Weights is null ? Rows : Tensors.Kernels.Reductions.Sum(Weights.ReadOnlySpan);

    /// <summary>Copies the given rows (in order) into new tensors.</summary>
    public TrainingData<T> Take(ReadOnlySpan<int> rows)
    {
        return new TrainingData<T>(Gather(X, rows), Context is null ? null : Gather(Context, rows), Weights is null ? null : Gather(Weights, rows));
    }

    internal static Tensor<T> Gather(Tensor<T> source, ReadOnlySpan<int> rows)
    {
        int cols = source.Rank >= 2 ? source.Cols : 1;
        var t = source.Rank >= 2 ? Tensor<T>.Empty(rows.Length, cols) : Tensor<T>.Empty(rows.Length);
        GatherInto(source, rows, t);
        return t;
    }

    internal static void GatherInto(Tensor<T> source, ReadOnlySpan<int> rows, Tensor<T> destination)
    {
        int cols = source.Rank >= 2 ? source.Cols : 1;
        var s = source.ReadOnlySpan; var d = destination.Span;
        for (int i = 0; i < rows.Length; i++) s.Slice(rows[i] * cols, cols).CopyTo(d.Slice(i * cols, cols));
    }
}
