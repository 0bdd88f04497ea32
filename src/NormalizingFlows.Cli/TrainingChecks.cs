using NormalizingFlows.Data;
using Table = NormalizingFlows.Data.Table;

namespace NormalizingFlows.Cli;

/// <summary>Checks of <c>nflow train</c>'s data before any work: degenerate tables, values beyond the float32 range.</summary>
internal static class TrainingChecks
{
    /// <summary>
    /// Refuses a table whose rows are all identical or that has a constant column (a point mass has no density);
    /// warns when it has fewer distinct rows than <see cref="TableChecks.MinimumDistinctRows"/>.
    /// </summary>
    public static void Degenerate(CliContext ctx, Table table, string path)
    {
        var dg = TableChecks.Degeneracy(table);
        if (dg.AllRowsIdentical && table.Rows > 1)
            throw new ArgumentException($"{path}: all {table.Rows} rows are identical ({string.Join(", ", table.Columns.Select((c, j) => $"{c} = {Commands.F(table[0, j], "G6")}"))}): a single point is a point mass, not a density, and a flow cannot be fitted to it");
        if (dg.ConstantColumns.Count > 0)
        {
            var names = dg.ConstantColumns.Select(c => c.Name).ToHashSet();
            string keep = string.Join(",", table.Columns.Where(c => !names.Contains(c)));
            throw new ArgumentException($"{path}: column(s) {string.Join(", ", dg.ConstantColumns.Select(c => $"'{c.Name}' (always {Commands.F(c.Value, "G6")})"))} never change: " +
                "a constant is a point mass, not a density, so the flow could not model it (every other value would have density zero); " +
                (keep.Length > 0 ? $"leave it out with --columns {keep}" : "no column varies"));
        }
        int minimum = TableChecks.MinimumDistinctRows(table.Cols);
        if (dg.DistinctRows < minimum)
            ctx.Err.WriteLine($"nflow: warning: {path} has only {dg.DistinctRows} distinct row(s) among {table.Rows} (fewer than {minimum} for {table.Cols} column(s)): " +
                "the flow will learn spikes around these points rather than a smooth density");
    }

    /// <summary>
    /// The rows of <paramref name="table"/> whose values fit the float32 range the model computes in: a larger finite
    /// value (1e300, say) is an error naming the data row and column, or, with <paramref name="drop"/>
    /// (--drop-invalid), its row is dropped and counted on stderr.
    /// </summary>
    public static Table FloatRange(CliContext ctx, Table table, string path, bool drop)
    {
        int d = table.Cols;
        var keep = new List<int>(table.Rows);
        for (int r = 0; r < table.Rows; r++)
        {
            int bad = -1;
            for (int j = 0; j < d && bad < 0; j++)
                if (Math.Abs(table[r, j]) > float.MaxValue) bad = j;
            if (bad < 0) { keep.Add(r); continue; }
            if (!drop)
                throw new ArgumentException($"{path}: data row {r + 1}, column '{table.Columns[bad]}' is {table[r, bad].ToString("G6", System.Globalization.CultureInfo.InvariantCulture)}, beyond the float32 range (±3.4e38) the model computes in; drop such rows with --drop-invalid");
        }
        if (keep.Count == table.Rows) return table;
        ctx.Err.WriteLine($"nflow: {path}: dropped {table.Rows - keep.Count} row(s) with values beyond the float32 range (--drop-invalid)");
        return table.SelectRows(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(keep));
    }
}
