using System.Globalization;
using System.Numerics;
using NormalizingFlows.IO;
using Parquet;
using Parquet.Schema;

namespace NormalizingFlows.Data;

/// <summary>
/// Apache Parquet tables (the columnar format HEP analyses export to from ROOT with uproot and awkward, or pandas),
/// through the managed Parquet.Net: every column of a flat schema is read as double — float32, float64 and integer
/// columns, required or optional (a null is an invalid value, like NaN) — across all row groups; written as float32
/// (or float64) columns, atomically. Errors name the file and the column.
/// </summary>
public static class ParquetTable
{
    private const int RowsPerGroup = 1 << 20;

    /// <summary>True when <paramref name="path"/> ends in .parquet (any case).</summary>
    public static bool IsParquetPath(string path) => path.EndsWith(".parquet", StringComparison.OrdinalIgnoreCase);

    /// <summary>
    /// Reads every column. A non-numeric column (strings, booleans, timestamps) or a list column is an error naming
    /// it; a null, NaN or ±∞ is an error naming its row and column, or with <paramref name="dropInvalid"/> its row is
    /// dropped and counted (<see cref="Table.DroppedRows"/>).
    /// </summary>
    public static Table Read(string path, bool dropInvalid = false)
    {
        if (!File.Exists(path)) throw new DataFormatException(path, "file not found");
        try
        {
            using var stream = File.OpenRead(path);
            return ReadAsync(stream, path, dropInvalid).GetAwaiter().GetResult();
        }
        catch (Exception e) when (e is not DataFormatException and not OutOfMemoryException and not OperationCanceledException)
        {
            throw new DataFormatException(path, $"not a readable Parquet file: {e.Message}");
        }
    }

    /// <summary>Writes <paramref name="table"/> with its column names as float32 (or float64) columns, atomically.</summary>
    public static void Write(string path, Table table, bool float64 = false)
    {
        ArgumentNullException.ThrowIfNull(table);
        AtomicFile.Write(path, fs =>
        {
            using var writer = new ParquetTableWriter(fs, table.Columns, float64);
            for (int start = 0; start < table.Rows; start += RowsPerGroup)
            {
                int rows = Math.Min(RowsPerGroup, table.Rows - start);
                writer.WriteRows(table.Values.AsSpan(start * table.Cols, rows * table.Cols), rows);
            }
        });
    }

    private static async Task<Table> ReadAsync(Stream stream, string path, bool dropInvalid)
    {
        await using var reader = await ParquetReader.CreateAsync(stream);
        var fields = reader.Schema.GetDataFields();
        if (fields.Length == 0) throw new DataFormatException(path, "the file has no columns");
        foreach (var f in fields)
        {
            if (f.IsArray || f.MaxRepetitionLevel > 0)
                throw new DataFormatException(path, $"column '{f.Name}' is a list (jagged) column: flatten it first, e.g. one column per entry or awkward's ak.flatten");
            if (!IsNumeric(f.ClrType))
                throw new DataFormatException(path, $"column '{f.Name}' holds {Describe(f.ClrType)} values, not numbers: only numeric columns (float, double, integers) can be read; leave it out when exporting");
        }
        var names = fields.Select(f => f.Path.ToString()).ToArray();
        if (names.Distinct().Count() != names.Length) names = fields.Select(f => f.Name).ToArray();
        long total = 0;
        for (int g = 0; g < reader.RowGroupCount; g++) total += reader.OpenRowGroupReader(g).RowCount;
        if (total > int.MaxValue / Math.Max(1, fields.Length)) throw new DataFormatException(path, $"{total} rows of {fields.Length} columns do not fit in one table");
        int cols = fields.Length, n = (int)total, offset = 0;
        var values = new double[n * cols];
        for (int g = 0; g < reader.RowGroupCount; g++)
        {
            using var group = reader.OpenRowGroupReader(g);
            int rows = (int)group.RowCount;
            for (int j = 0; j < cols; j++)
            {
                var column = await ReadColumn(group, fields[j], rows);
                for (int i = 0; i < rows; i++) values[(offset + i) * cols + j] = column[i];
            }
            offset += rows;
        }
        return FiniteRows.ToTable(names, values, n, path, dropInvalid, (r, j, v) => new DataFormatException(path,
            $"row {r} (counting from 0), column '{names[j]}' is {v.ToString(CultureInfo.InvariantCulture)} (a null reads as NaN): values must be finite"));
    }

    private static string Describe(Type t) =>
        t == typeof(string) || t == typeof(ReadOnlyMemory<char>) ? "text (string)"
        : t == typeof(byte[]) || t == typeof(ReadOnlyMemory<byte>) ? "binary"
        : t == typeof(bool) ? "boolean"
        : t.Name;

    private static bool IsNumeric(Type t) =>
        t == typeof(double) || t == typeof(float) || t == typeof(Half) || t == typeof(decimal) || t == typeof(int) || t == typeof(long) || t == typeof(short) ||
        t == typeof(sbyte) || t == typeof(byte) || t == typeof(ushort) || t == typeof(uint) || t == typeof(ulong);

    private static Task<double[]> ReadColumn(ParquetRowGroupReader group, DataField field, int rows)
    {
        var t = field.ClrType;
        return t == typeof(double) ? Read<double>(group, field, rows)
            : t == typeof(float) ? Read<float>(group, field, rows)
            : t == typeof(Half) ? Read<Half>(group, field, rows)
            : t == typeof(decimal) ? Read<decimal>(group, field, rows)
            : t == typeof(int) ? Read<int>(group, field, rows)
            : t == typeof(long) ? Read<long>(group, field, rows)
            : t == typeof(short) ? Read<short>(group, field, rows)
            : t == typeof(sbyte) ? Read<sbyte>(group, field, rows)
            : t == typeof(byte) ? Read<byte>(group, field, rows)
            : t == typeof(ushort) ? Read<ushort>(group, field, rows)
            : t == typeof(uint) ? Read<uint>(group, field, rows)
            : Read<ulong>(group, field, rows);
    }

    private static async Task<double[]> Read<T>(ParquetRowGroupReader group, DataField field, int rows) where T : struct, INumberBase<T>
    {
        var result = new double[rows];
        if (field.IsNullable)
        {
            var buffer = new T?[rows];
            await group.ReadAsync<T>(field, buffer.AsMemory());
            for (int i = 0; i < rows; i++) result[i] = buffer[i] is { } v ? double.CreateTruncating(v) : double.NaN;
        }
        else
        {
            var buffer = new T[rows];
            await group.ReadAsync<T>(field, buffer.AsMemory());
            for (int i = 0; i < rows; i++) result[i] = double.CreateTruncating(buffer[i]);
        }
        return result;
    }
}
