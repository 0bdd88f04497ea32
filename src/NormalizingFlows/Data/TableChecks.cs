namespace NormalizingFlows.Data;

/// <summary>What <see cref="TableChecks.Degeneracy"/> found: constant columns and the number of distinct rows.</summary>
/// <param name="ConstantColumns">Names of the columns that take a single value, with that value.</param>
/// <param name="DistinctRows">Number of distinct rows (bitwise-equal values count as equal).</param>
/// <param name="Rows">Number of rows.</param>
public sealed record Degeneracy(IReadOnlyList<(string Name, double Value)> ConstantColumns, int DistinctRows, int Rows)
{
    /// <summary>True when every row is the same.</summary>
    public bool AllRowsIdentical => Rows > 0 && DistinctRows == 1;
}

/// <summary>Checks a training table for data a density cannot describe: constant columns, identical rows, too few distinct rows.</summary>
public static class TableChecks
{
    /// <summary>The fewest distinct rows worth fitting a flow to for <paramref name="columns"/> columns: max(50, 10·columns).</summary>
    public static int MinimumDistinctRows(int columns) => Math.Max(50, 10 * columns);

    /// <summary>The constant columns of <paramref name="table"/> and the count of its distinct rows.</summary>
    public static Degeneracy Degeneracy(Table table)
    {
        ArgumentNullException.ThrowIfNull(table);
        int n = table.Rows, d = table.Cols;
        var constant = new List<(string, double)>();
        for (int j = 0; j < d && n > 0; j++)
        {
            double first = table[0, j];
            bool same = true;
            for (int r = 1; r < n && same; r++) same = table[r, j].Equals(first);
            if (same) constant.Add((table.Columns[j], first));
        }
        var distinct = new HashSet<int>(new RowComparer(table.Values, d));
        for (int r = 0; r < n; r++) distinct.Add(r);
        return new Degeneracy(constant, distinct.Count, n);
    }

    private sealed class RowComparer(double[] values, int d) : IEqualityComparer<int>
    {
        public bool Equals(int a, int b) => values.AsSpan(a * d, d).SequenceEqual(values.AsSpan(b * d, d));

        public int GetHashCode(int r)
        {
            var h = new HashCode();
            foreach (var v in values.AsSpan(r * d, d)) h.Add(v);
            return h.ToHashCode();
        }
    }
}
