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
/// same as <see cref="FlowModel{T}.Sample"/> called block by block with one <see cref="Rng"/>. A non-finite sample
/// (an overflow of the element type) throws an <see cref="InvalidOperationException"/> instead of being written.
/// </summary>
public static class SampleStream
{
    /// <summary>Rows drawn and written per block.</summary>
    public const int BlockRows = 32_768;

    /// <summary>
    /// Writes a CSV header (the model's column names) and <paramref name="n"/> sample rows (values formatted
    /// round-trip, invariant culture) to <paramref name="writer"/>; <paramref name="progress"/> gets the rows
    /// written after each block. With <paramref name="clamp"/> every column is clamped into its training range.
    /// </summary>
    public static void WriteCsv<T>(FlowModel<T> model, long n, Rng rng, TextWriter writer, bool clamp = false,
        IProgress<long>? progress = null, CancellationToken cancellation = default) where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(writer);
        Data.Csv.CheckColumnNames(model.Columns);
        writer.Write(string.Join(",", model.Columns));
        writer.Write('\n');
        var sb = new StringBuilder();
        Blocks(model, n, rng, clamp, progress, cancellation, (values, rows, d) => Data.Csv.WriteRows(writer, values, rows, d, sb));
        writer.Flush();
    }

    /// <summary>
    /// Writes an .npy file (float32, shape (<paramref name="n"/>, features), C order) to <paramref name="stream"/>:
    /// the header with the full 64-bit count first, then the rows block by block.
    /// </summary>
    public static void WriteNpy<T>(FlowModel<T> model, long n, Rng rng, Stream stream, bool clamp = false,
        IProgress<long>? progress = null, CancellationToken cancellation = default) where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(stream);
        stream.Write(NpyHeader(n, model.Features));
        var buf = new byte[BlockRows * model.Features * 4];
        Blocks(model, n, rng, clamp, progress, cancellation, (values, rows, d) =>
        {
            for (int i = 0; i < rows * d; i++) BinaryPrimitives.WriteSingleLittleEndian(buf.AsSpan(4 * i), (float)values[i]);
            stream.Write(buf, 0, rows * d * 4);
        });
        stream.Flush();
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

    private static void Blocks<T>(FlowModel<T> model, long n, Rng rng, bool clamp, IProgress<long>? progress, CancellationToken cancellation,
        Action<double[], int, int> write) where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(rng);
        int d = model.Features;
        var values = new double[BlockRows * d];
        using var _ = GradMode.Disable();
        foreach (var (start, rows) in Partition(n))
        {
            cancellation.ThrowIfCancellationRequested();
            using (TensorScope.Begin())
            {
                var x = model.Sample(rows, rng, clampToTrainingRange: clamp).ReadOnlySpan;
                for (int i = 0; i < rows * d; i++)
                {
                    values[i] = double.CreateTruncating(x[i]);
                    if (!double.IsFinite(values[i]))
                        throw new InvalidOperationException($"sample {start + i / d}, column '{model.Columns[i % d]}' is {values[i]}: the model's sampling overflowed the element type (nothing is written for it)");
                }
            }
            write(values, rows, d);
            progress?.Report(start + rows);
        }
    }
}
