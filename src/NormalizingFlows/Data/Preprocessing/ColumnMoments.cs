namespace NormalizingFlows.Data.Preprocessing;

/// <summary>
/// Per-column mean and variance of a row-major matrix in double, in two passes (mean first, then squared deviations:
/// no catastrophic cancellation) — the one standardisation statistic every flow job uses. NaN values are skipped
/// (a column's <see cref="Count"/> counts the others). With a <c>width</c> below the row length, every
/// <c>width</c>-th column shares one statistic (the features of a set's elements).
/// </summary>
public sealed class ColumnMoments
{
    private ColumnMoments(double[] mean, double[] squares, long[] count)
    {
        Mean = mean; SumOfSquares = squares; Count = count;
    }

    /// <summary>Mean per column (NaN for a column without values).</summary>
    public double[] Mean { get; }

    /// <summary>Σ (v − mean)² per column.</summary>
    public double[] SumOfSquares { get; }

    /// <summary>Number of non-NaN values per column.</summary>
    public long[] Count { get; }

    /// <summary>
    /// The moments of <paramref name="values"/> ([rows, <paramref name="cols"/>] row-major), pooled over every
    /// <paramref name="width"/>-th column (default: <paramref name="cols"/>, one statistic per column).
    /// </summary>
    public static ColumnMoments Of(ReadOnlySpan<double> values, int cols, int? width = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(cols, 1);
        int w = width ?? cols;
        if (w < 1 || cols % w != 0) throw new ArgumentException($"width {w} must divide the {cols} columns", nameof(width));
        if (values.Length % cols != 0) throw new ArgumentException($"{values.Length} values are not rows of {cols} columns", nameof(values));
        var mean = new double[w];
        var sq = new double[w];
        var count = new long[w];
        for (int i = 0; i < values.Length; i++)
        {
            double v = values[i];
            if (double.IsNaN(v)) continue;
            int j = i % cols % w;
            mean[j] += v; count[j]++;
        }
        for (int j = 0; j < w; j++) mean[j] = count[j] > 0 ? mean[j] / count[j] : double.NaN;
        for (int i = 0; i < values.Length; i++)
        {
            double v = values[i];
            if (double.IsNaN(v)) continue;
            int j = i % cols % w;
            double e = v - mean[j];
            sq[j] += e * e;
        }
        return new ColumnMoments(mean, sq, count);
    }

    /// <summary>The population variance Σ(v − mean)²/n of column <paramref name="j"/> (NaN without values).</summary>
    public double PopulationVariance(int j) => SumOfSquares[j] / Count[j];

    /// <summary>The sample standard deviation √(Σ(v − mean)²/(n − 1)) of column <paramref name="j"/> (0 for fewer than two values).</summary>
    public double SampleStd(int j) => Count[j] > 1 ? Math.Sqrt(SumOfSquares[j] / (Count[j] - 1)) : 0;
}
