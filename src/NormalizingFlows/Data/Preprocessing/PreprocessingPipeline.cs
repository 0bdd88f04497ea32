using System.Numerics;
using NormalizingFlows.Autograd;
using NormalizingFlows.Tensors;
using NormalizingFlows.Transforms;

namespace NormalizingFlows.Data.Preprocessing;

/// <summary>
/// Fits preprocessing pipelines (<see cref="Fit{T}"/>) and rebuilds them for loading (<see cref="Create{T}"/>).
/// </summary>
public static class PreprocessingPipeline
{
    /// <summary>
    /// Fits <paramref name="spec"/> on the training table <paramref name="train"/> in double precision: the training
    /// range of every column; the log shifts (every value must exceed its column's shift); the min-max ranges widened
    /// by the margins; and the mean and standard deviation of every standardised column after its earlier steps
    /// (for dequantized columns those of k + U(0, 1): mean + ½, variance + 1/12); periodic columns get the affine map of
    /// their period onto [−π, π) instead (training values outside the period are allowed: the flow wraps them). The spec's names must match the
    /// table's columns. A constant column (of any kind but "none", in a table of more than one row) throws: a point
    /// mass has no density.
    /// </summary>
    public static PreprocessingPipeline<T> Fit<T>(Table train, PreprocessingSpec spec) where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(train);
        ArgumentNullException.ThrowIfNull(spec);
        if (train.Cols != spec.Count)
            throw new ArgumentException($"the preprocessing spec has {spec.Count} columns ({string.Join(", ", spec.Names)}) but the table has {train.Cols} ({string.Join(", ", train.Columns)})");
        for (int j = 0; j < spec.Count; j++)
            if (spec.Columns[j].Name != train.Columns[j])
                throw new ArgumentException($"column {j}: the preprocessing spec names it '{spec.Columns[j].Name}' but the table '{train.Columns[j]}'");
        if (train.Rows == 0) throw new ArgumentException("cannot fit preprocessing on a table with no rows");
        int n = train.Rows, d = train.Cols;
        var c = PipelineConstants.Placeholder(d);
        for (int j = 0; j < d; j++)
        {
            double lo = double.PositiveInfinity, hi = double.NegativeInfinity;
            for (int r = 0; r < n; r++)
            {
                double v = train[r, j];
                if (!double.IsFinite(v)) throw new ArgumentException($"column '{train.Columns[j]}' row {r} is {v}: drop or impute non-finite values before preprocessing");
                lo = Math.Min(lo, v); hi = Math.Max(hi, v);
            }
            c.Min[j] = lo; c.Max[j] = hi;
            var col = spec.Columns[j];
            if (lo == hi && n > 1 && col.Kind != PreprocessingKind.None)
                throw new ArgumentException($"column '{col.Name}' is constant ({lo} in all {n} rows): a single value is a point mass, not a density, so a flow cannot model it (every other value would have density zero); leave the column out");
            if (col.Kind == PreprocessingKind.Log)
            {
                if (!(lo > col.Shift))
                    throw new ArgumentException($"column '{col.Name}': log needs every value above the shift {col.Shift}, but the minimum is {lo} (choose a smaller shift or another kind)");
                c.Shift[j] = col.Shift;
            }
            if (col.Kind == PreprocessingKind.LogUpper)
            {
                if (!(hi < col.Shift))
                    throw new ArgumentException($"column '{col.Name}': log-upper needs every value below the shift {col.Shift}, but the maximum is {hi} (choose a larger shift or another kind)");
                c.Shift[j] = col.Shift;
            }
            if (col.Kind == PreprocessingKind.MinMaxLogit && col.Lower is { } bl && col.Upper is { } bu && !(lo > bl && hi < bu))
                throw new ArgumentException($"column '{col.Name}': the training range [{lo}, {hi}] is not strictly inside the given bounds ({bl}, {bu})");
        }
        // earlier steps in double, then the standardisation's statistics of their output
        using (GradMode.Disable())
        using (TensorScope.Begin())
        {
            var pre = new PreprocessingPipeline<double>(spec, c, includeStandardize: false);
            var z = pre.Forward(new Var<double>(train.ToTensor<double>())).Y.Value;
            var moments = ColumnMoments.Of(z.ReadOnlySpan, d);
            for (int j = 0; j < d; j++)
            {
                var kind = spec.Columns[j].Kind;
                if (kind == PreprocessingKind.None) continue;
                if (kind == PreprocessingKind.Periodic)
                {
                    // [lower, upper) → [−π, π): the standardisation's affine map with these constants
                    var (plo, phi) = spec.Columns[j].Period;
                    c.Mean[j] = 0.5 * (plo + phi); c.Std[j] = (phi - plo) / (2 * Math.PI);
                    continue;
                }
                double mean = moments.Count[j] == n ? moments.Mean[j] : double.NaN;
                double var = moments.PopulationVariance(j);
                if (kind == PreprocessingKind.Dequantize) { mean += 0.5; var += 1.0 / 12.0; }
                double std = Math.Sqrt(var);
                if (!(std > 0) || !double.IsFinite(std)) std = 1;
                if (!double.IsFinite(mean))
                    throw new ArgumentException($"column '{spec.Columns[j].Name}': the mean after {string.Join(" → ", spec.Columns[j].Chain)} is {mean}");
                c.Mean[j] = mean; c.Std[j] = std;
            }
        }
        return new PreprocessingPipeline<T>(spec, c, includeStandardize: true);
    }

    /// <summary>
    /// The pipeline of <paramref name="spec"/> with placeholder constants (ranges [0, 1], shifts 0, mean 0, std 1):
    /// the structure a saved pipeline's state is loaded into.
    /// </summary>
    public static PreprocessingPipeline<T> Create<T>(PreprocessingSpec spec) where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(spec);
        return new PreprocessingPipeline<T>(spec, PipelineConstants.Placeholder(spec.Count), includeStandardize: true);
    }
}
