using System.Numerics;
using NormalizingFlows.Autograd;
using NormalizingFlows.Data;
using NormalizingFlows.Serialization;
using NormalizingFlows.Tensors;

namespace NormalizingFlows.Cli;

/// <summary>Reading and writing tables for the verbs, and matching a table's columns to a model.</summary>
internal static class DataIo
{
    /// <summary>Reads a .csv or .npy file, optionally selecting/renaming columns; reports dropped rows.</summary>
    public static Table Read(CliContext ctx, string path, string? columns, bool dropInvalid)
    {
        var table = Csv.ReadAny(path, dropInvalid);
        if (table.DroppedRows > 0) ctx.Err.WriteLine($"nflow: {path}: dropped {table.DroppedRows} invalid row(s) (--drop-invalid)");
        if (columns is not null) table = table.SelectColumns(columns);
        if (table.Rows == 0) throw new DataFormatException(path, "no data rows");
        return table;
    }

    /// <summary>Extensions a table may be written with: .npy is NumPy, the others CSV text.</summary>
    public static readonly string[] TableExtensions = [".csv", ".txt", ".npy"];

    /// <summary>
    /// Refuses (exit 2) an output path whose extension promises another format than the CSV or NPY we would write
    /// (e.g. .h5, .json, .tsv); <paramref name="option"/> names the option in the message.
    /// </summary>
    public static void CheckTableOutput(string path, string option = "--output")
    {
        string ext = Path.GetExtension(path);
        if (!TableExtensions.Contains(ext, StringComparer.OrdinalIgnoreCase))
            throw new UsageException($"{option} {path}: tables are written as CSV (.csv, .txt) or NumPy (.npy), not '{(ext.Length == 0 ? "(no extension)" : ext)}'");
    }

    /// <summary>Refuses (exit 2) an HTML report path with another extension than .html/.htm, before any work is done.</summary>
    public static void CheckReportOutput(string? path, string option)
    {
        if (path is null) return;
        string ext = Path.GetExtension(path);
        if (!ext.Equals(".html", StringComparison.OrdinalIgnoreCase) && !ext.Equals(".htm", StringComparison.OrdinalIgnoreCase))
            throw new UsageException($"{option} {path}: the report is HTML, give a .html file (not '{(ext.Length == 0 ? "(no extension)" : ext)}')");
    }

    /// <summary>Writes a table as .npy or CSV (.csv, .txt) by extension, atomically; another extension is refused.</summary>
    public static void Write(string path, Table table)
    {
        CheckTableOutput(path);
        if (path.EndsWith(".npy", StringComparison.OrdinalIgnoreCase)) Npy.Write(path, table);
        else Csv.Write(path, table);
    }

    /// <summary>
    /// The table's columns in the model's order: the same names in any order are reordered by name; the same count
    /// with other names is taken by position; a different count is an error naming both sets of columns.
    /// </summary>
    public static Table MatchModel(Table table, IReadOnlyList<string> modelColumns, string path)
    {
        if (table.Cols != modelColumns.Count)
        {
            if (modelColumns.All(table.Columns.Contains) && table.Cols > modelColumns.Count)
                throw new ArgumentException($"{path} has {table.Cols} columns ({string.Join(", ", table.Columns)}) but the model has {modelColumns.Count} ({string.Join(", ", modelColumns)}); pick them with --columns {string.Join(",", modelColumns)}");
            throw new ArgumentException($"{path} has {table.Cols} columns ({string.Join(", ", table.Columns)}) but the model has {modelColumns.Count} ({string.Join(", ", modelColumns)}); use --columns to pick or rename them");
        }
        if (!table.Columns.SequenceEqual(modelColumns) && modelColumns.All(table.Columns.Contains))
            return table.SelectColumns(string.Join(",", modelColumns));
        return table;
    }

    /// <summary><paramref name="n"/> samples of the model in original units, drawn in batches without gradients.</summary>
    public static Table Sample<T>(FlowModel<T> model, int n, long seed) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var rng = new Rng(seed);
        int d = model.Features;
        var values = new double[(long)n * d];
        const int batch = 32_768;
        using (GradMode.Disable())
            for (int start = 0; start < n; start += batch)
            {
                int rows = Math.Min(batch, n - start);
                var x = model.Sample(rows, rng).ToDoubleArray();
                Array.Copy(x, 0, values, (long)start * d, x.Length);
            }
        return new Table(model.Columns.ToArray(), values, n);
    }

    /// <summary>log p per row of <paramref name="x"/> (original units), in batches.</summary>
    public static double[] LogProb<T>(FlowModel<T> model, Table x) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var all = new double[x.Rows];
        const int batch = 32_768;
        for (int start = 0; start < x.Rows; start += batch)
        {
            int rows = Math.Min(batch, x.Rows - start);
            var t = Tensor<T>.FromDoubles(x.Values.AsSpan(start * x.Cols, rows * x.Cols).ToArray(), rows, x.Cols);
            model.LogProb(t).CopyTo(all, start);
        }
        return all;
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
