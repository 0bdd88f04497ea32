using System.Numerics;
using NormalizingFlows.Data;
using NormalizingFlows.Tensors;

namespace NormalizingFlows.Models;

/// <summary>
/// A <see cref="FlowModel{T}"/> over <see cref="Table"/>s, in batches of <see cref="SampleStream.BlockRows"/> rows so
/// memory stays bounded by the table: log p per event, and samples (optionally with their log p) as a table.
/// </summary>
public static class FlowModelTables
{
    /// <summary>
    /// log p per row of <paramref name="events"/> (original units; −∞ outside the model's domain, see
    /// <see cref="FlowModel{T}.LogProb"/>). The table's columns must be the model's, in order (an
    /// <see cref="ArgumentException"/> lists both otherwise).
    /// </summary>
    public static double[] LogProb<T>(FlowModel<T> model, Table events) where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(events);
        if (!events.Columns.SequenceEqual(model.Columns))
            throw new ArgumentException($"the events have columns ({string.Join(", ", events.Columns)}) but the model ({string.Join(", ", model.Columns)})", nameof(events));
        var all = new double[events.Rows];
        foreach (var (start, rows) in SampleStream.Partition(events.Rows))
        {
            var t = Tensor<T>.FromDoubles(events.Values.AsSpan((int)start * events.Cols, rows * events.Cols), rows, events.Cols);
            model.LogProb(t).CopyTo(all, start);
        }
        return all;
    }

    /// <summary>
    /// <paramref name="n"/> samples in original units as a table with the model's columns (the draws of
    /// <see cref="SampleStream"/> with the same <paramref name="rng"/>); with <paramref name="withLogProb"/> a last
    /// column <see cref="SampleStream.LogProbColumn"/> holds each event's log p; with <paramref name="clamp"/> every
    /// column is clamped into its training range. <paramref name="progress"/> gets the rows drawn after each block.
    /// </summary>
    public static Table Sample<T>(FlowModel<T> model, int n, Rng rng, bool clamp = false, bool withLogProb = false,
        IProgress<long>? progress = null, CancellationToken cancellation = default) where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentOutOfRangeException.ThrowIfNegative(n);
        var columns = SampleStream.Columns(model, withLogProb);
        var values = new double[(long)n * columns.Length];
        long at = 0;
        SampleStream.Blocks(model, n, rng, clamp, withLogProb, float32: false, progress, cancellation, (block, rows, width) =>
        {
            Array.Copy(block, 0, values, at, (long)rows * width);
            at += (long)rows * width;
        });
        return new Table(columns, values, n);
    }
}
