namespace NormalizingFlows.Data;

/// <summary>The row check of the binary table readers (.npy, Parquet): every value finite, or its row dropped and counted.</summary>
internal static class FiniteRows
{
    /// <summary>
    /// The table of <paramref name="values"/> (<paramref name="rows"/> × <paramref name="names"/>.Length, row-major).
    /// A row holding a NaN or ±∞ is an error made by <paramref name="notFinite"/>(row, column, value); with
    /// <paramref name="dropInvalid"/> it is dropped instead (the kept rows compacted in place, the count in
    /// <see cref="Table.DroppedRows"/>), and no valid row at all is an error naming <paramref name="source"/>.
    /// </summary>
    public static Table ToTable(string[] names, double[] values, int rows, string source, bool dropInvalid, Func<int, int, double, Exception> notFinite)
    {
        int cols = names.Length, kept = 0;
        for (int r = 0; r < rows; r++)
        {
            int bad = -1;
            for (int j = 0; j < cols && bad < 0; j++)
                if (!double.IsFinite(values[r * cols + j])) bad = j;
            if (bad >= 0)
            {
                if (!dropInvalid) throw notFinite(r, bad, values[r * cols + bad]);
                continue;
            }
            if (kept != r) Array.Copy(values, r * cols, values, kept * cols, cols);
            kept++;
        }
        if (kept == rows) return new Table(names, values, rows);
        if (kept == 0) throw new DataFormatException(source, $"no valid rows (all {rows} were dropped as invalid)");
        return new Table(names, values[..(kept * cols)], kept) { DroppedRows = rows - kept };
    }
}
