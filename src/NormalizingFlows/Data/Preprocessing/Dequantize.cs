using System.Numerics;
using NormalizingFlows.Tensors;

namespace NormalizingFlows.Data.Preprocessing;

/// <summary>
/// Uniform dequantization of integer-valued columns. A flow models a continuous density p(x); an integer column k is
/// modelled through u = k + U(0, 1), so that the probability of the integer is P(k) = ∫ over [k, k + 1) of p(u) du
/// (the flow's density at a point of [k, k + 1) is a density, not a probability). At training time
/// <see cref="AddNoise{T}"/> adds fresh U(0, 1) noise to those columns; at sampling time <see cref="Floor{T}"/> maps
/// u back to k = ⌊u⌋. Everything else in the pipeline (standardisation) sees the continuous u.
/// </summary>
public static class Dequantize
{
    /// <summary>
    /// True when every value of column <paramref name="column"/> of <paramref name="table"/> is a finite integer
    /// (|v| &lt; 2⁵³) and the column takes at least two distinct values.
    /// </summary>
    public static bool IsIntegerValued(Table table, int column)
    {
        ArgumentNullException.ThrowIfNull(table);
        if ((uint)column >= (uint)table.Cols) throw new ArgumentOutOfRangeException(nameof(column), column, $"the table has {table.Cols} columns");
        if (table.Rows == 0) return false;
        double first = table[0, column];
        bool varies = false;
        for (int r = 0; r < table.Rows; r++)
        {
            double v = table[r, column];
            if (!double.IsFinite(v) || Math.Abs(v) >= 9.007199254740992e15 || v != Math.Floor(v)) return false;
            varies |= v != first;
        }
        return varies;
    }

    /// <summary>
    /// Adds independent U(0, 1) noise, in place, to the listed <paramref name="columns"/> of the [N, D] tensor
    /// <paramref name="x"/> (for float, the noise is kept below 1 after rounding so ⌊x⌋ still gives the integer).
    /// </summary>
    public static void AddNoise<T>(Tensor<T> x, IReadOnlyList<int> columns, Rng rng) where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(columns);
        ArgumentNullException.ThrowIfNull(rng);
        if (columns.Count == 0) return;
        CheckColumns(x, columns);
        int n = x.Dim(0), d = x.Dim(1);
        var s = x.Span;
        for (int r = 0; r < n; r++)
            foreach (int c in columns)
            {
                int k = r * d + c;
                T k0 = s[k];
                T v = T.CreateTruncating(double.CreateTruncating(k0) + rng.NextDouble());
                // rounding may push k + u up to k + 1 in float: step back to the largest value below it
                if (v >= k0 + T.One) v = T.BitDecrement(k0 + T.One);
                s[k] = v;
            }
    }

    /// <summary>Replaces, in place, every value of the listed <paramref name="columns"/> by its floor (back to integers).</summary>
    public static void Floor<T>(Tensor<T> x, IReadOnlyList<int> columns) where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(columns);
        if (columns.Count == 0) return;
        CheckColumns(x, columns);
        int n = x.Dim(0), d = x.Dim(1);
        var s = x.Span;
        for (int r = 0; r < n; r++)
            foreach (int c in columns) s[r * d + c] = T.Floor(s[r * d + c]);
    }

    private static void CheckColumns<T>(Tensor<T> x, IReadOnlyList<int> columns) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (x.Rank != 2) throw new ArgumentException($"dequantization needs [rows, columns] data, got {x.ShapeString}");
        foreach (int c in columns)
            if ((uint)c >= (uint)x.Dim(1)) throw new ArgumentOutOfRangeException(nameof(columns), $"column {c} outside [0, {x.Dim(1)})");
    }
}
