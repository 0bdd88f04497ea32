using System.Numerics;
using NormalizingFlows.Data;
using NormalizingFlows.Tensors;

namespace NormalizingFlows.Models;

/// <summary>
/// A <see cref="FlowModel{T}"/> over <see cref="Table"/>s, in batches of <see cref="SampleStream.BlockRows"/> rows so
/// memory stays bounded by the table: log p per event, and samples (optionally with their log p) as a table. A
/// conditional model takes its context as a table too: the model's <see cref="FlowModel{T}.ContextColumns"/>, picked
/// by name (other columns are ignored, so the events' own table serves), one row per event or one row for all.
/// </summary>
public static class FlowModelTables
{
    /// <summary>
    /// log p per row of <paramref name="events"/> (original units; −∞ outside the model's domain, see
    /// <see cref="FlowModel{T}.LogProb"/>), given per row the context of <paramref name="context"/> (a conditional model
    /// needs it, with one row per event or a single row for all; an unconditional one refuses it). The events' columns
    /// must be the model's, in order (an <see cref="ArgumentException"/> lists both otherwise).
    /// </summary>
    public static double[] LogProb<T>(FlowModel<T> model, Table events, Table? context = null) where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(events);
        if (!events.Columns.SequenceEqual(model.Columns))
            throw new ArgumentException($"the events have columns ({string.Join(", ", events.Columns)}) but the model ({string.Join(", ", model.Columns)})", nameof(events));
        var c = MatchContext(model, context);
        if (c is not null && c.Rows != 1 && c.Rows != events.Rows)
            throw new ArgumentException($"the context has {c.Rows} rows for {events.Rows} events: give one row per event or a single row for all", nameof(context));
        var all = new double[events.Rows];
        foreach (var (start, rows) in SampleStream.Partition(events.Rows))
        {
            var t = Tensor<T>.FromDoubles(events.Values.AsSpan((int)start * events.Cols, rows * events.Cols), rows, events.Cols);
            model.LogProb(t, c is null ? null : ContextRows<T>(c, start, rows, perRow: 1)).CopyTo(all, start);
        }
        return all;
    }

    /// <summary>
    /// <paramref name="n"/> samples in original units as a table with the model's columns (the draws of
    /// <see cref="SampleStream"/> with the same <paramref name="rng"/>); with <paramref name="withLogProb"/> a last
    /// column <see cref="SampleStream.LogProbColumn"/> holds each event's log p; with <paramref name="clamp"/> every
    /// column is clamped into its training range. <paramref name="progress"/> gets the rows drawn after each block.
    /// A conditional model needs <paramref name="context"/>: <paramref name="n"/> events per context row (the
    /// convention of nflows' and zuko's <c>sample(n, context)</c>), ordered by context row (rows i·n … i·n + n − 1 belong
    /// to context row i), and the table carries the context columns after the model's.
    /// </summary>
    public static Table Sample<T>(FlowModel<T> model, int n, Rng rng, bool clamp = false, bool withLogProb = false,
        IProgress<long>? progress = null, CancellationToken cancellation = default, Table? context = null) where T : unmanaged, IFloatingPointIeee754<T>
        => Sample(model, n, SampleStream.Draws(model, rng), clamp, withLogProb, progress, cancellation, context);

    /// <summary>As <see cref="Sample{T}(FlowModel{T}, int, Rng, bool, bool, IProgress{long}?, CancellationToken, Table?)"/>, the samples drawn from <paramref name="source"/>.</summary>
    public static Table Sample<T>(FlowModel<T> model, int n, ISampleSource<T> source, bool clamp = false, bool withLogProb = false,
        IProgress<long>? progress = null, CancellationToken cancellation = default, Table? context = null) where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentOutOfRangeException.ThrowIfNegative(n);
        var c = MatchContext(model, context);
        long total = SampleStream.Total(n, c);
        if (total > Array.MaxLength) throw new ArgumentOutOfRangeException(nameof(n), n, $"{n} events for each of {c!.Rows} context rows is {total} rows, more than a table holds: stream them with SampleStream");
        var columns = SampleStream.Columns(model, withLogProb);
        var values = new double[total * columns.Length];
        long at = 0;
        SampleStream.Blocks(model, n, c, source, clamp, withLogProb, float32: false, progress, cancellation, (block, rows, width) =>
        {
            Array.Copy(block, 0, values, at, (long)rows * width);
            at += (long)rows * width;
        });
        return new Table(columns, values, (int)total);
    }

    /// <summary>
    /// The model's context columns of <paramref name="context"/> in the model's order (null for an unconditional model
    /// without context): refuses a conditional model without a context, an unconditional one with one, a table lacking
    /// a context column (naming it), an empty table and non-finite values (naming row and column).
    /// </summary>
    internal static Table? MatchContext<T>(FlowModel<T> model, Table? context) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (model.ContextFeatures == 0)
        {
            if (context is not null) throw new ArgumentException("the model is unconditional: it takes no context", nameof(context));
            return null;
        }
        if (context is null)
            throw new ArgumentException($"the model is conditional on ({string.Join(", ", model.ContextColumns)}): give a context", nameof(context));
        var missing = model.ContextColumns.Where(c => !context.Columns.Contains(c)).ToList();
        if (missing.Count > 0)
            throw new ArgumentException($"the context lacks the model's context column(s) {string.Join(", ", missing)} (it has: {string.Join(", ", context.Columns)})", nameof(context));
        if (context.Rows == 0) throw new ArgumentException("the context has no rows", nameof(context));
        var picked = context.Columns.SequenceEqual(model.ContextColumns) ? context : context.SelectColumns(model.ContextColumns);
        for (int r = 0; r < picked.Rows; r++)
            for (int j = 0; j < picked.Cols; j++)
                if (!double.IsFinite(picked[r, j]))
                    throw new ArgumentException($"context row {r}, column '{picked.Columns[j]}' is {picked[r, j]}: a context must be finite", nameof(context));
        return picked;
    }

    /// <summary>The context of rows <paramref name="start"/> … of a block: row i reads context row i / <paramref name="perRow"/> (row 0 when the context has one row).</summary>
    internal static Tensor<T> ContextRows<T>(Table context, long start, int rows, long perRow) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int c = context.Cols;
        var t = Tensor<T>.Zeros(rows, c);
        var s = t.Span;
        for (int i = 0; i < rows; i++)
        {
            long source = ContextRow(context, start + i, perRow);
            for (int j = 0; j < c; j++) s[i * c + j] = T.CreateTruncating(context.Values[source * c + j]);
        }
        return t;
    }

    /// <summary>The context row of output row <paramref name="row"/>: row / <paramref name="perRow"/>, or 0 for a single-row context.</summary>
    internal static long ContextRow(Table context, long row, long perRow) => context.Rows == 1 ? 0 : row / perRow;
}
