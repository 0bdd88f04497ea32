using Parquet;
using Parquet.Schema;

namespace NormalizingFlows.Data;

/// <summary>
/// Writes a table to a stream as Apache Parquet (Parquet.Net, managed), one row group per <see cref="WriteRows"/>
/// call: a flat schema of required float32 (or float64) columns. Disposing writes the footer; the stream stays open.
/// </summary>
public sealed class ParquetTableWriter : IDisposable
{
    private readonly ParquetWriter writer;
    private readonly DataField[] fields;
    private readonly bool float64;

    /// <summary>Starts a Parquet file with the given column names on <paramref name="stream"/> (writable, seekable).</summary>
    public ParquetTableWriter(Stream stream, IReadOnlyList<string> columns, bool float64 = false)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentNullException.ThrowIfNull(columns);
        if (columns.Count == 0) throw new ArgumentException("a Parquet table needs at least one column", nameof(columns));
        var duplicate = columns.GroupBy(c => c).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null) throw new ArgumentException($"column '{duplicate.Key}' appears twice", nameof(columns));
        this.float64 = float64;
        fields = columns.Select(c => float64 ? (DataField)new DataField<double>(c, false) : new DataField<float>(c, false)).ToArray();
        writer = ParquetWriter.CreateAsync(new ParquetSchema(fields), stream).GetAwaiter().GetResult();
    }

    /// <summary>Writes <paramref name="rows"/> rows of row-major values (one per column each) as one row group.</summary>
    public void WriteRows(ReadOnlySpan<double> values, int rows)
    {
        int d = fields.Length;
        if (rows < 0 || values.Length < (long)rows * d) throw new ArgumentException($"{values.Length} values for {rows} rows of {d} columns", nameof(values));
        if (rows == 0) return;
        using var group = writer.CreateRowGroup();
        var doubles = float64 ? new double[rows] : null;
        var floats = float64 ? null : new float[rows];
        for (int j = 0; j < d; j++)
        {
            for (int i = 0; i < rows; i++)
                if (float64) doubles![i] = values[i * d + j];
                else floats![i] = (float)values[i * d + j];
            if (float64) group.WriteAsync(fields[j], new ReadOnlyMemory<double>(doubles)).GetAwaiter().GetResult();
            else group.WriteAsync(fields[j], new ReadOnlyMemory<float>(floats)).GetAwaiter().GetResult();
        }
    }

    /// <summary>Writes the footer (the file is complete after this).</summary>
    public void Dispose() => writer.DisposeAsync().AsTask().GetAwaiter().GetResult();
}
