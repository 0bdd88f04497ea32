using System.Globalization;
using System.Text;
using NormalizingFlows.IO;

namespace NormalizingFlows.Data;

/// <summary>
/// Numeric CSV tables: a header line of column names, then one row per line, separated by commas (or by
/// whitespace when the header has no comma). Blank lines and '#' comments (whole lines or line ends) are skipped.
/// Every problem is reported with the file, line and column: a non-numeric or non-finite value, a ragged row, an
/// empty file. With drop-invalid, bad rows are dropped and counted instead (<see cref="Table.DroppedRows"/>).
/// </summary>
public static class Csv
{
    /// <summary>Reads <paramref name="path"/>.</summary>
    public static Table Read(string path, bool dropInvalid = false)
    {
        if (!File.Exists(path)) throw new DataFormatException(path, "file not found");
        using var reader = new StreamReader(path, Encoding.UTF8, detectEncodingFromByteOrderMarks: true, bufferSize: 1 << 16);
        return Read(reader, path, dropInvalid);
    }

    /// <summary>Reads CSV text from <paramref name="reader"/>; <paramref name="source"/> names it in errors.</summary>
    public static Table Read(TextReader reader, string source, bool dropInvalid = false)
    {
        string[]? columns = null;
        char? separator = null;
        var values = new List<double>(1 << 16);
        var row = new List<double>();
        int lineNo = 0, rows = 0, dropped = 0;
        string? line;
        while ((line = reader.ReadLine()) is not null)
        {
            lineNo++;
            int hash = line.IndexOf('#');
            var content = (hash >= 0 ? line[..hash] : line).Trim();
            if (content.Length == 0) continue;
            separator ??= content.Contains(',') ? ',' : null;
            var fields = Split(content, separator);
            if (columns is null)
            {
                if (fields.All(f => double.TryParse(f, NumberStyles.Float, CultureInfo.InvariantCulture, out _)))
                    columns = Table.DefaultNames(fields.Length); // headerless: this line is data
                else
                {
                    for (int i = 0; i < fields.Length; i++)
                        if (fields[i].Length == 0) throw new DataFormatException(source, "empty column name in the header", lineNo, i + 1);
                    var dup = fields.GroupBy(f => f).FirstOrDefault(g => g.Count() > 1);
                    if (dup is not null) throw new DataFormatException(source, $"column name '{dup.Key}' appears twice in the header", lineNo);
                    columns = fields;
                    continue;
                }
            }
            if (fields.Length != columns.Length)
            {
                if (dropInvalid) { dropped++; continue; }
                throw new DataFormatException(source, $"row has {fields.Length} fields; the header has {columns.Length}", lineNo);
            }
            row.Clear();
            string? problem = null;
            int badColumn = 0;
            for (int i = 0; i < fields.Length && problem is null; i++)
            {
                if (!double.TryParse(fields[i], NumberStyles.Float, CultureInfo.InvariantCulture, out double v))
                    (problem, badColumn) = ($"'{fields[i]}' in column '{columns[i]}' is not a number", i + 1);
                else if (!double.IsFinite(v))
                    (problem, badColumn) = ($"value '{fields[i]}' in column '{columns[i]}' is not finite", i + 1);
                else row.Add(v);
            }
            if (problem is not null)
            {
                if (dropInvalid) { dropped++; continue; }
                throw new DataFormatException(source, problem, lineNo, badColumn);
            }
            values.AddRange(row);
            rows++;
        }
        if (columns is null) throw new DataFormatException(source, "empty file: no header and no rows");
        if (rows == 0) throw new DataFormatException(source, dropped > 0 ? $"no valid rows (all {dropped} were dropped as invalid)" : "no data rows after the header");
        return new Table(columns, values.ToArray(), rows) { DroppedRows = dropped };
    }

    private static string[] Split(string line, char? separator) => separator is { } c
        ? line.Split(c).Select(f => f.Trim()).ToArray()
        : line.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);

    /// <summary>Writes the table with a header, comma-separated, values in shortest round-trip form, atomically.</summary>
    public static void Write(string path, Table table)
    {
        ArgumentNullException.ThrowIfNull(table);
        CheckColumnNames(table.Columns);
        AtomicFile.Write(path, fs =>
        {
            using var w = new StreamWriter(fs, new UTF8Encoding(false), 1 << 16, leaveOpen: true);
            w.Write(string.Join(",", table.Columns));
            w.Write('\n');
            WriteRows(w, table.Values, table.Rows, table.Cols, new StringBuilder());
        });
    }

    /// <summary>Throws when a column name cannot be written to a CSV header (it contains ',', '#' or a newline).</summary>
    internal static void CheckColumnNames(IEnumerable<string> columns)
    {
        foreach (var c in columns)
            if (c.Contains(',') || c.Contains('#') || c.Contains('\n'))
                throw new ArgumentException($"column name '{c}' cannot be written to CSV (it contains ',', '#' or a newline)");
    }

    /// <summary>Writes <paramref name="rows"/> rows of <paramref name="cols"/> values (row-major) as CSV lines, round-trip formatted, invariant culture; <paramref name="sb"/> is scratch.</summary>
    internal static void WriteRows(TextWriter w, ReadOnlySpan<double> values, int rows, int cols, StringBuilder sb)
    {
        for (int r = 0; r < rows; r++)
        {
            sb.Clear();
            for (int j = 0; j < cols; j++)
            {
                if (j > 0) sb.Append(',');
                sb.Append(values[r * cols + j].ToString("R", CultureInfo.InvariantCulture));
            }
            sb.Append('\n');
            w.Write(sb);
        }
    }

    /// <summary>Reads a .npy, .parquet or CSV file by its extension (anything else is read as CSV); <paramref name="dropInvalid"/> applies to all.</summary>
    public static Table ReadAny(string path, bool dropInvalid = false) =>
        path.EndsWith(".npy", StringComparison.OrdinalIgnoreCase) ? Npy.Read(path, dropInvalid)
        : ParquetTable.IsParquetPath(path) ? ParquetTable.Read(path, dropInvalid)
        : Read(path, dropInvalid);
}
