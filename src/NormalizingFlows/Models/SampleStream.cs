using System.Buffers.Binary;
using System.Numerics;
using System.Text;
using NormalizingFlows.Autograd;
using NormalizingFlows.IO;
using NormalizingFlows.Tensors;

namespace NormalizingFlows.Models;

/// <summary>
/// Draws any number of samples (a 64-bit count) of a <see cref="FlowModel{T}"/> straight to a CSV writer or an .npy
/// stream in blocks of <see cref="BlockRows"/> rows, so memory stays bounded whatever the count. The draws are the
/// same as <see cref="FlowModel{T}.Sample"/> called block by block with one <see cref="Rng"/>, or those of another
/// <see cref="ISampleSource{T}"/> of the model (e.g. a GPU's). A non-finite sample
/// (an overflow of the element type) throws an <see cref="InvalidOperationException"/> instead of being written.
/// With <c>withLogProb</c> each row gets one more column, <see cref="LogProbColumn"/>: the model's log p of the event
/// as written (after dequantized columns are floored and any clamping; for .npy, of the float32 values), so it equals
/// what <see cref="FlowModel{T}.LogProb"/> gives on the written events. A conditional model samples n events per row
/// of its context table (<see cref="FlowModelTables.Sample{T}(FlowModel{T}, int, Rng, bool, bool, IProgress{long}?, CancellationToken, Data.Table?)"/>'s convention), and each row carries its context values
/// after the features, so the output is self-describing.
/// </summary>
public static class SampleStream
{
    /// <summary>Rows drawn and written per block.</summary>
    public const int BlockRows = 32_768;

    /// <summary>Name of the column of per-event log p written with <c>withLogProb</c>.</summary>
    public const string LogProbColumn = "log_prob";

    /// <summary>
    /// Writes a CSV header (the model's column names) and <paramref name="n"/> sample rows (values formatted
    /// round-trip, invariant culture) to <paramref name="writer"/>; <paramref name="progress"/> gets the rows
    /// written after each block. With <paramref name="clamp"/> every column is clamped into its training range.
    /// A conditional model needs <paramref name="context"/> and writes <paramref name="n"/> rows per context row.
    /// </summary>
    public static void WriteCsv<T>(FlowModel<T> model, long n, Rng rng, TextWriter writer, bool clamp = false,
        IProgress<long>? progress = null, CancellationToken cancellation = default, bool withLogProb = false, Data.Table? context = null) where T : unmanaged, IFloatingPointIeee754<T>
        => WriteCsv(model, n, Draws(model, rng), writer, clamp, progress, cancellation, withLogProb, context);

    /// <summary>As <see cref="WriteCsv{T}(FlowModel{T}, long, Rng, TextWriter, bool, IProgress{long}?, CancellationToken, bool, Data.Table?)"/>, the samples drawn from <paramref name="source"/>.</summary>
    public static void WriteCsv<T>(FlowModel<T> model, long n, ISampleSource<T> source, TextWriter writer, bool clamp = false,
        IProgress<long>? progress = null, CancellationToken cancellation = default, bool withLogProb = false, Data.Table? context = null) where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(writer);
        var c = FlowModelTables.MatchContext(model, context);
        var columns = Columns(model, withLogProb);
        Data.Csv.CheckColumnNames(columns);
        writer.Write(string.Join(",", columns));
        writer.Write('\n');
        var sb = new StringBuilder();
        Blocks(model, n, c, source, clamp, withLogProb, float32: false, progress, cancellation, (values, rows, d) => Data.Csv.WriteRows(writer, values, rows, d, sb));
        writer.Flush();
    }

    /// <summary>
    /// Writes an .npy file (float32, shape (<paramref name="n"/>, features), C order) to <paramref name="stream"/>:
    /// the header with the full 64-bit count first, then the rows block by block (<paramref name="n"/> per context
    /// row for a conditional model).
    /// </summary>
    public static void WriteNpy<T>(FlowModel<T> model, long n, Rng rng, Stream stream, bool clamp = false,
        IProgress<long>? progress = null, CancellationToken cancellation = default, bool withLogProb = false, Data.Table? context = null) where T : unmanaged, IFloatingPointIeee754<T>
        => WriteNpy(model, n, Draws(model, rng), stream, clamp, progress, cancellation, withLogProb, context);

    /// <summary>As <see cref="WriteNpy{T}(FlowModel{T}, long, Rng, Stream, bool, IProgress{long}?, CancellationToken, bool, Data.Table?)"/>, the samples drawn from <paramref name="source"/>.</summary>
    public static void WriteNpy<T>(FlowModel<T> model, long n, ISampleSource<T> source, Stream stream, bool clamp = false,
        IProgress<long>? progress = null, CancellationToken cancellation = default, bool withLogProb = false, Data.Table? context = null) where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(stream);
        var c = FlowModelTables.MatchContext(model, context);
        int width = Columns(model, withLogProb).Length;
        stream.Write(NpyHeader(Total(n, c), width));
        var buf = new byte[BlockRows * width * 4];
        Blocks(model, n, c, source, clamp, withLogProb, float32: true, progress, cancellation, (values, rows, d) =>
        {
            for (int i = 0; i < rows * d; i++) BinaryPrimitives.WriteSingleLittleEndian(buf.AsSpan(4 * i), (float)values[i]);
            stream.Write(buf, 0, rows * d * 4);
        });
        stream.Flush();
    }

    /// <summary>
    /// Writes a Parquet file (float32 columns named as <see cref="Columns"/>) to <paramref name="stream"/>, one row
    /// group per block of samples (<paramref name="n"/> per context row for a conditional model), the same values as
    /// <see cref="WriteNpy{T}(FlowModel{T}, long, ISampleSource{T}, Stream, bool, IProgress{long}?, CancellationToken, bool, Data.Table?)"/>.
    /// </summary>
    public static void WriteParquet<T>(FlowModel<T> model, long n, Rng rng, Stream stream, bool clamp = false,
        IProgress<long>? progress = null, CancellationToken cancellation = default, bool withLogProb = false, Data.Table? context = null) where T : unmanaged, IFloatingPointIeee754<T>
        => WriteParquet(model, n, Draws(model, rng), stream, clamp, progress, cancellation, withLogProb, context);

    /// <summary>As <see cref="WriteParquet{T}(FlowModel{T}, long, Rng, Stream, bool, IProgress{long}?, CancellationToken, bool, Data.Table?)"/>, the samples drawn from <paramref name="source"/>.</summary>
    public static void WriteParquet<T>(FlowModel<T> model, long n, ISampleSource<T> source, Stream stream, bool clamp = false,
        IProgress<long>? progress = null, CancellationToken cancellation = default, bool withLogProb = false, Data.Table? context = null) where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(stream);
        var c = FlowModelTables.MatchContext(model, context);
        using var writer = new Data.ParquetTableWriter(stream, Columns(model, withLogProb));
        Blocks(model, n, c, source, clamp, withLogProb, float32: true, progress, cancellation, (values, rows, d) => writer.WriteRows(values, rows));
    }

    /// <summary>
    /// The model's own draws: <see cref="FlowModel{T}.Sample"/> block after block with <paramref name="rng"/>, scored by
    /// <see cref="FlowModel{T}.LogProb"/> (what the overloads taking an <see cref="Rng"/> draw).
    /// </summary>
    public static ISampleSource<T> Draws<T>(FlowModel<T> model, Rng rng) where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(rng);
        return new ModelDraws<T>(model, rng);
    }

    private sealed class ModelDraws<T>(FlowModel<T> model, Rng rng) : ISampleSource<T> where T : unmanaged, IFloatingPointIeee754<T>
    {
        public Tensor<T> Sample(long start, int rows, Tensor<T>? context, bool clamp) => model.Sample(rows, rng, context, clampToTrainingRange: clamp);

        public double[] LogProb(Tensor<T> x, Tensor<T>? context) => model.LogProb(x, context);
    }

    /// <summary>The .npy (version 1.0) header of a float32 C-order array of shape (<paramref name="rows"/>, <paramref name="cols"/>), padded to 64 bytes.</summary>
    public static byte[] NpyHeader(long rows, int cols) => Data.Npy.HeaderBytes(rows, cols, float64: false);

    /// <summary>The (first row, row count) of each block of <paramref name="n"/> rows, with 64-bit offsets.</summary>
    public static IEnumerable<(long Start, int Rows)> Partition(long n, int blockRows = BlockRows)
    {
        if (n < 0) throw new ArgumentOutOfRangeException(nameof(n), n, "the number of samples must be ≥ 0");
        if (blockRows < 1) throw new ArgumentOutOfRangeException(nameof(blockRows), blockRows, "blocks need at least one row");
        for (long start = 0; start < n; start += blockRows) yield return (start, (int)Math.Min(blockRows, n - start));
    }

    /// <summary>
    /// The columns written: the model's, its context columns, then <see cref="LogProbColumn"/> when
    /// <paramref name="withLogProb"/> (refused when a column has that name, or a context column a data column's name).
    /// </summary>
    public static string[] Columns<T>(FlowModel<T> model, bool withLogProb = false) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (model.ContextColumns.FirstOrDefault(model.Columns.Contains) is { } both)
            throw new ArgumentException($"the model has a data and a context column named '{both}': its samples cannot carry both");
        string[] columns = [.. model.Columns, .. model.ContextColumns];
        if (!withLogProb) return columns;
        if (columns.Contains(LogProbColumn))
            throw new ArgumentException($"the model has a column named '{LogProbColumn}': its samples cannot carry their log p in a column of that name");
        return [.. columns, LogProbColumn];
    }

    /// <summary>The rows drawn for <paramref name="n"/> events per row of <paramref name="context"/> (n without one); a count beyond 2⁶³ − 1 is refused.</summary>
    public static long Total(long n, Data.Table? context)
    {
        if (context is null) return n;
        try { return checked(n * context.Rows); }
        catch (OverflowException) { throw new ArgumentOutOfRangeException(nameof(n), n, $"{n} events for each of {context.Rows} context rows is more than 2⁶³ − 1"); }
    }

    /// <summary>
    /// Draws <paramref name="n"/> rows (per row of <paramref name="context"/>, already matched to the model, when
    /// given) block by block and hands each block to <paramref name="write"/> as (values, rows, width) in row-major
    /// doubles: the features, the context, then log p when <paramref name="withLogProb"/>. With
    /// <paramref name="float32"/> the samples are rounded to float32 first (what an .npy file holds) and log p is that of
    /// the rounded values.
    /// </summary>
    internal static void Blocks<T>(FlowModel<T> model, long n, Data.Table? context, ISampleSource<T> source, bool clamp, bool withLogProb, bool float32, IProgress<long>? progress,
        CancellationToken cancellation, Action<double[], int, int> write) where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(source);
        int d = model.Features, nc = context?.Cols ?? 0, width = d + nc + (withLogProb ? 1 : 0);
        var values = new double[BlockRows * width];
        using var _ = GradMode.Disable();
        foreach (var (start, rows) in Partition(Total(n, context)))
        {
            cancellation.ThrowIfCancellationRequested();
            using (TensorScope.Begin())
            {
                var c = context is null ? null : FlowModelTables.ContextRows<T>(context, start, rows, n);
                if (c is not null && float32 && typeof(T) != typeof(float))
                {
                    var cs = c.Span;
                    for (int i = 0; i < cs.Length; i++) cs[i] = T.CreateTruncating((float)double.CreateTruncating(cs[i]));
                }
                var sample = source.Sample(start, rows, c, clamp);
                var x = sample.Span;
                for (int i = 0; i < rows * d; i++)
                {
                    if (float32 && typeof(T) != typeof(float)) x[i] = T.CreateTruncating((float)double.CreateTruncating(x[i]));
                    double v = double.CreateTruncating(x[i]);
                    if (!double.IsFinite(v))
                        throw new InvalidOperationException($"sample {start + i / d}, column '{model.Columns[i % d]}' is {v}: the model's sampling overflowed the element type (nothing is written for it)");
                    values[i / d * width + i % d] = v;
                }
                // the context as given (the model reads it in T, as it reads these values back)
                for (int r = 0; r < rows && context is not null; r++)
                {
                    Array.Copy(context.Values, FlowModelTables.ContextRow(context, start + r, n) * nc, values, (long)r * width + d, nc);
                }
                if (withLogProb)
                {
                    var lp = source.LogProb(sample, c);
                    for (int r = 0; r < rows; r++) values[r * width + d + nc] = lp[r];
                }
            }
            write(values, rows, width);
            progress?.Report(start + rows);
        }
    }
}
