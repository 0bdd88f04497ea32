namespace NormalizingFlows.Data;

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
