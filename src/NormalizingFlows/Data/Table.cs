using System.Numerics;
using NormalizingFlows.Tensors;

namespace NormalizingFlows.Data;

/// <summary>A rectangular table of numbers read from a file: named columns, rows in double precision.</summary>
public sealed class Table
{
    /// <summary>Creates a table from row-major values.</summary>
    public Table(string[] columns, double[] values, int rows)
    {
        ArgumentNullException.ThrowIfNull(columns);
        ArgumentNullException.ThrowIfNull(values);
        if ((long)rows * columns.Length != values.Length)
            throw new ArgumentException($"{values.Length} values do not fill {rows} rows × {columns.Length} columns");
        Columns = columns;
        Values = values;
        Rows = rows;
    }

    /// <summary>Column names (from the header, or "x0", "x1", … for headerless formats).</summary>
    public string[] Columns { get; }

    /// <summary>Values, row-major.</summary>
    public double[] Values { get; }

    /// <summary>Number of rows.</summary>
    public int Rows { get; }

    /// <summary>Number of columns.</summary>
    public int Cols => Columns.Length;

    /// <summary>Rows dropped while reading (with drop-invalid), for the caller to report.</summary>
    public int DroppedRows { get; init; }

    /// <summary>Value at (row, column).</summary>
    public double this[int row, int column] => Values[row * Cols + column];

    /// <summary>The values column by column: <c>result[j][i]</c> is column j of row i.</summary>
    public double[][] ToColumns()
    {
        var c = new double[Cols][];
        for (int j = 0; j < Cols; j++) c[j] = new double[Rows];
        for (int r = 0; r < Rows; r++)
            for (int j = 0; j < Cols; j++) c[j][r] = Values[r * Cols + j];
        return c;
    }

    /// <summary>The first <paramref name="rows"/> rows as a new table (a copy).</summary>
    public Table Head(int rows)
    {
        if ((uint)rows > (uint)Rows) throw new ArgumentOutOfRangeException(nameof(rows), rows, $"the table has {Rows} rows");
        return new Table(Columns, Values[..(rows * Cols)], rows);
    }

    /// <summary>The values as a [rows, cols] tensor.</summary>
    public Tensor<T> ToTensor<T>() where T : unmanaged, IFloatingPointIeee754<T> => Tensor<T>.FromDoubles(Values, Rows, Cols);

    /// <summary>A table from a [rows, cols] tensor with the given (or default) column names.</summary>
    public static Table FromTensor<T>(Tensor<T> tensor, string[]? columns = null) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (tensor.Rank != 2) throw new ArgumentException($"a table needs a [rows, cols] tensor, got {tensor.ShapeString}");
        columns ??= DefaultNames(tensor.Dim(1));
        if (columns.Length != tensor.Dim(1)) throw new ArgumentException($"{columns.Length} column names for {tensor.Dim(1)} columns");
        return new Table(columns, tensor.ToDoubleArray(), tensor.Dim(0));
    }

    /// <summary>"x0", "x1", ….</summary>
    public static string[] DefaultNames(int count) => Enumerable.Range(0, count).Select(i => "x" + i.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToArray();

    /// <summary>
    /// Picks and renames columns by a spec such as "pt1,eta1" or "a=pt1,b=eta1" (new=old), in the given order.
    /// Unknown names give an error listing the available ones.
    /// </summary>
    public Table SelectColumns(string spec)
    {
        var parts = spec.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (parts.Length == 0) throw new ArgumentException($"the column list '{spec}' names no columns");
        var names = new string[parts.Length];
        var idx = new int[parts.Length];
        for (int i = 0; i < parts.Length; i++)
        {
            var eq = parts[i].Split('=', 2, StringSplitOptions.TrimEntries);
            string source = eq.Length == 2 ? eq[1] : eq[0];
            names[i] = eq[0];
            idx[i] = Array.IndexOf(Columns, source);
            if (idx[i] < 0 && int.TryParse(source, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int k) && k < Cols && !Columns.Contains(source))
                idx[i] = k;
            if (idx[i] < 0) throw new ArgumentException($"no column '{source}'; the columns are: {string.Join(", ", Columns)}");
        }
        return Pick(names, idx);
    }

    /// <summary>
    /// The columns named exactly <paramref name="names"/>, in that order (no renames, no index fallback: a name may
    /// hold '=' or be a number). Unknown names give an error listing the available ones.
    /// </summary>
    public Table SelectColumns(IReadOnlyList<string> names)
    {
        ArgumentNullException.ThrowIfNull(names);
        if (names.Count == 0) throw new ArgumentException("the column list names no columns", nameof(names));
        var idx = new int[names.Count];
        for (int i = 0; i < idx.Length; i++)
            if ((idx[i] = Array.IndexOf(Columns, names[i])) < 0)
                throw new ArgumentException($"no column '{names[i]}'; the columns are: {string.Join(", ", Columns)}");
        return Pick([.. names], idx);
    }

    private Table Pick(string[] names, int[] idx)
    {
        var v = new double[Rows * idx.Length];
        for (int r = 0; r < Rows; r++)
            for (int j = 0; j < idx.Length; j++) v[r * idx.Length + j] = Values[r * Cols + idx[j]];
        return new Table(names, v, Rows) { DroppedRows = DroppedRows };
    }

    /// <summary>The given rows, in that order (repeats allowed), as a new table with the same columns.</summary>
    public Table SelectRows(ReadOnlySpan<int> rows)
    {
        var values = new double[rows.Length * Cols];
        for (int i = 0; i < rows.Length; i++)
        {
            if ((uint)rows[i] >= (uint)Rows) throw new ArgumentOutOfRangeException(nameof(rows), rows[i], $"row index out of range: the table has {Rows} rows");
            Array.Copy(Values, rows[i] * Cols, values, i * Cols, Cols);
        }
        return new Table(Columns, values, rows.Length);
    }
}
