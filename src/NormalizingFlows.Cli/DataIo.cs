using NormalizingFlows.Data;

namespace NormalizingFlows.Cli;

/// <summary>Reading and writing tables for the verbs, and matching a table's columns to a model.</summary>
internal static class DataIo
{
    /// <summary>Reads a .csv, .npy or .parquet file, optionally selecting/renaming columns; reports dropped rows.</summary>
    public static Table Read(CliContext ctx, string path, string? columns, bool dropInvalid)
    {
        var table = Csv.ReadAny(path, dropInvalid);
        if (table.DroppedRows > 0) ctx.Err.WriteLine($"nflow: {path}: dropped {table.DroppedRows} invalid row(s) (--drop-invalid)");
        if (columns is not null) table = table.SelectColumns(columns);
        if (table.Rows == 0) throw new DataFormatException(path, "no data rows");
        return table;
    }

    /// <summary>Extensions a table may be written with: .npy is NumPy, .parquet Apache Parquet, the others CSV text.</summary>
    public static readonly string[] TableExtensions = [".csv", ".txt", ".npy", ".parquet"];

    /// <summary>
    /// Refuses (exit 2) an output path whose extension promises another format than the CSV, NPY or Parquet we would write
    /// (e.g. .h5, .json, .tsv); <paramref name="option"/> names the option in the message.
    /// </summary>
    public static void CheckTableOutput(string path, string option = "--output")
    {
        string ext = Path.GetExtension(path);
        if (!TableExtensions.Contains(ext, StringComparer.OrdinalIgnoreCase))
            throw new UsageException($"{option} {path}: tables are written as CSV (.csv, .txt), NumPy (.npy) or Parquet (.parquet), not '{(ext.Length == 0 ? "(no extension)" : ext)}'");
    }

    /// <summary>Refuses (exit 2) an HTML report path with another extension than .html/.htm, before any work is done.</summary>
    public static void CheckReportOutput(string? path, string option)
    {
        if (path is null) return;
        string ext = Path.GetExtension(path);
        if (!ext.Equals(".html", StringComparison.OrdinalIgnoreCase) && !ext.Equals(".htm", StringComparison.OrdinalIgnoreCase))
            throw new UsageException($"{option} {path}: the report is HTML, give a .html file (not '{(ext.Length == 0 ? "(no extension)" : ext)}')");
    }

    /// <summary>Writes a table as .npy, .parquet (both float32) or CSV (.csv, .txt) by extension, atomically; another extension is refused.</summary>
    public static void Write(string path, Table table)
    {
        CheckTableOutput(path);
        if (path.EndsWith(".npy", StringComparison.OrdinalIgnoreCase)) Npy.Write(path, table);
        else if (ParquetTable.IsParquetPath(path)) ParquetTable.Write(path, table);
        else Csv.Write(path, table);
    }

    /// <summary>
    /// The table's columns in the model's order, matched by name: the same names in any order are reordered; any
    /// other difference (a name missing, renamed, differing in case, extra columns) is an error listing both sets and
    /// the <c>--columns</c> that would pick or rename them. A headerless file (.npy: columns x0, x1, …) with the
    /// model's column count is taken by position, with a note on <paramref name="err"/>.
    /// </summary>
    public static Table MatchModel(Table table, IReadOnlyList<string> modelColumns, string path, TextWriter? err = null)
    {
        if (table.Columns.SequenceEqual(modelColumns)) return table;
        if (table.Cols == modelColumns.Count && modelColumns.All(table.Columns.Contains))
            return table.SelectColumns(modelColumns);
        bool headerless = path.EndsWith(".npy", StringComparison.OrdinalIgnoreCase) && table.Columns.SequenceEqual(Table.DefaultNames(table.Cols));
        if (headerless && table.Cols == modelColumns.Count)
        {
            err?.WriteLine($"nflow: {path} has no column names: its {table.Cols} columns are taken by position as {string.Join(", ", modelColumns)}");
            return new Table([.. modelColumns], table.Values, table.Rows) { DroppedRows = table.DroppedRows };
        }
        string model = string.Join(", ", modelColumns), file = string.Join(", ", table.Columns);
        var missing = modelColumns.Where(c => !table.Columns.Contains(c)).ToList();
        string hint;
        if (missing.Count == 0)
            hint = $"pick them with --columns {string.Join(",", modelColumns)}";
        else
        {
            // a suggestion: case-insensitive matches, else the file's columns by position
            var pairs = new List<string>();
            for (int j = 0; j < modelColumns.Count; j++)
            {
                string m = modelColumns[j];
                string? source = table.Columns.Contains(m) ? m
                    : table.Columns.FirstOrDefault(c => string.Equals(c, m, StringComparison.OrdinalIgnoreCase))
                    ?? (j < table.Cols && !modelColumns.Contains(table.Columns[j]) ? table.Columns[j] : null);
                pairs.Add(source is null ? $"{m}=?" : source == m ? m : $"{m}={source}");
            }
            hint = $"missing from the file: {string.Join(", ", missing)}; if the file names them differently, rename with --columns MODEL=FILE, e.g. --columns {string.Join(",", pairs)}";
        }
        throw new ArgumentException($"{path} has columns ({file}) but the model was trained on ({model}): columns are matched by name; {hint}");
    }

    /// <summary>
    /// Mean log-likelihood of per-event <paramref name="logProb"/> over the finite events, with its standard error,
    /// the count of events outside the model's domain (log p = −∞) and a one-line statement of both.
    /// </summary>
    public static (double Mean, double StandardError, int Outside, string Line) Summarise(double[] logProb, string what)
    {
        var finite = logProb.Where(double.IsFinite).ToArray();
        int outside = logProb.Length - finite.Length;
        if (finite.Length == 0)
            return (double.NaN, double.NaN, outside, $"{what}: none: all {logProb.Length} event(s) lie outside the model's domain (log p = −∞)");
        var (mean, se) = MeanAndError(finite);
        string error = finite.Length > 1 ? Commands.F(se) : "n/a (one event)";
        string line = $"{what}: {Commands.F(mean)} ± {error} per event ({finite.Length} events)";
        if (outside > 0)
            line += $"; {outside} of {logProb.Length} event(s) lie outside the model's domain (log p = −∞, density zero there), left out of this mean (over all events the mean is −∞)";
        return (mean, se, outside, line);
    }

    /// <summary>Mean and standard error s/√n of <paramref name="v"/>.</summary>
    public static (double Mean, double StandardError) MeanAndError(double[] v)
    {
        int n = v.Length;
        double mean = v.Average();
        double s2 = 0;
        foreach (var x in v) s2 += (x - mean) * (x - mean);
        return (mean, n > 1 ? Math.Sqrt(s2 / (n - 1) / n) : double.NaN);
    }
}
