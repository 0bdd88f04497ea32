using System.Numerics;
using NormalizingFlows.Autograd;
using NormalizingFlows.Tensors;
using NormalizingFlows.Transforms;

namespace NormalizingFlows.Data.Preprocessing;

/// <summary>
/// A fitted preprocessing pipeline: an invertible transform from the original units of the data to the space the
/// flow's own layers see, with its log|det| included so that a flow built on it (see
/// <c>FlowModel</c> in NormalizingFlows.Models) gives densities in the ORIGINAL units. Steps, in the data → base
/// direction (each present only when some column needs it): a <see cref="DomainGuard{T}"/> (log and minmax-logit
/// columns: points outside the domain get log-probability −∞), <see cref="LogTransform{T}"/> on the log columns,
/// <see cref="MinMaxScaler{T}"/> and <see cref="Logit{T}"/> on the minmax-logit columns (each through a
/// <see cref="ColumnwiseTransform{T}"/>), and one <see cref="FixedAffine{T}"/> standardising every column except the
/// "none" ones. Dequantized columns are continuous here; noise and flooring are <see cref="Dequantize"/>'s job
/// (<see cref="DequantizedColumns"/> lists them). Buffers: "range_min", "range_max" (training range per column) and
/// the steps' buffers under "steps.".
/// </summary>
public sealed class PreprocessingPipeline<T> : Transform<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly Tensor<T> _rangeMin, _rangeMax;

    internal PreprocessingPipeline(PreprocessingSpec spec, PipelineConstants c, bool includeStandardize) : base(spec.Count)
    {
        Spec = spec;
        int d = spec.Count;
        var steps = new List<Transform<T>>();
        var logCols = Enumerable.Range(0, d).Where(j => spec.Columns[j].Kind is PreprocessingKind.Log or PreprocessingKind.LogUpper).ToArray();
        var logUpper = logCols.Select(j => spec.Columns[j].Kind == PreprocessingKind.LogUpper).ToArray();
        var mmCols = spec.ColumnsOf(PreprocessingKind.MinMaxLogit);
        MinMaxScaler<T>? scaler = mmCols.Length > 0
            ? new MinMaxScaler<T>(Pick(c.Min, mmCols), Pick(c.Max, mmCols), mmCols.Select(j => spec.Columns[j].Margin).ToArray(),
                mmCols.Select(j => spec.Columns[j].Lower ?? double.NaN).ToArray(), mmCols.Select(j => spec.Columns[j].Upper ?? double.NaN).ToArray())
            : null;
        if (logCols.Length + mmCols.Length > 0)
        {
            var lower = Enumerable.Repeat(double.NegativeInfinity, d).ToArray();
            var upper = Enumerable.Repeat(double.PositiveInfinity, d).ToArray();
            var anchor = new double[d];
            for (int i = 0; i < logCols.Length; i++)
            {
                int j = logCols[i];
                double step = Math.Max(1.0, Math.Abs(c.Shift[j]));
                if (logUpper[i]) { upper[j] = c.Shift[j]; anchor[j] = c.Shift[j] - step; }
                else { lower[j] = c.Shift[j]; anchor[j] = c.Shift[j] + step; }
            }
            for (int i = 0; i < mmCols.Length; i++)
            {
                int j = mmCols[i];
                lower[j] = double.CreateTruncating(scaler!.Low[i]);
                upper[j] = double.CreateTruncating(scaler.High[i]);
                anchor[j] = 0.5 * (lower[j] + upper[j]);
            }
            Guard = new DomainGuard<T>(lower, upper, anchor);
            steps.Add(Guard);
        }
        if (logCols.Length > 0) steps.Add(new ColumnwiseTransform<T>(d, logCols, new LogTransform<T>(Pick(c.Shift, logCols), logUpper)));
        if (mmCols.Length > 0)
        {
            steps.Add(new ColumnwiseTransform<T>(d, mmCols, scaler!));
            steps.Add(new ColumnwiseTransform<T>(d, mmCols, new Logit<T>(mmCols.Length)));
        }
        if (includeStandardize)
        {
            var mean = new double[d];
            var std = new double[d];
            for (int j = 0; j < d; j++)
            {
                bool none = spec.Columns[j].Kind == PreprocessingKind.None;
                mean[j] = none ? 0 : c.Mean[j];
                std[j] = none ? 1 : c.Std[j];
            }
            steps.Add(FixedAffine<T>.Standardize(mean, std));
        }
        if (steps.Count == 0) steps.Add(new FixedAffine<T>(Enumerable.Repeat(1.0, d).ToArray(), new double[d]));
        Steps = RegisterModule("steps", new CompositeTransform<T>(steps.ToArray()));
        _rangeMin = RegisterBuffer("range_min", Tensor<T>.FromDoubles(c.Min, d));
        _rangeMax = RegisterBuffer("range_max", Tensor<T>.FromDoubles(c.Max, d));
        DequantizedColumns = spec.ColumnsOf(PreprocessingKind.Dequantize);
    }

    private static double[] Pick(double[] values, int[] columns) => columns.Select(j => values[j]).ToArray();

    /// <summary>The per-column choices this pipeline was built from.</summary>
    public PreprocessingSpec Spec { get; }

    /// <summary>The column names, in order.</summary>
    public string[] ColumnNames => Spec.Names;

    /// <summary>The steps in the data → base direction.</summary>
    public CompositeTransform<T> Steps { get; }

    /// <summary>The domain guard (null when no column is bounded).</summary>
    public DomainGuard<T>? Guard { get; }

    /// <summary>Indices of the dequantized (integer-valued) columns.</summary>
    public IReadOnlyList<int> DequantizedColumns { get; }

    /// <summary>Smallest training value per column (buffer "range_min").</summary>
    public Tensor<T> TrainingMin => _rangeMin;

    /// <summary>Largest training value per column (buffer "range_max").</summary>
    public Tensor<T> TrainingMax => _rangeMax;

    /// <summary>Per row of [N, D] data: true when the density can be non-zero there (inside every bounded column's domain).</summary>
    public bool[] InDomain(Tensor<T> x)
    {
        ArgumentNullException.ThrowIfNull(x);
        if (Guard is not null) return Guard.Inside(x);
        if (x.Rank != 2 || x.Dim(1) != Features) throw new ArgumentException($"input must be [batch, {Features}], got {x.ShapeString}");
        return Enumerable.Repeat(true, x.Dim(0)).ToArray();
    }

    /// <summary>Clamps, in place, every column of the [N, D] tensor into its training range [min, max].</summary>
    public void ClampToTrainingRange(Tensor<T> x)
    {
        ArgumentNullException.ThrowIfNull(x);
        if (x.Rank != 2 || x.Dim(1) != Features) throw new ArgumentException($"input must be [batch, {Features}], got {x.ShapeString}");
        int n = x.Dim(0), d = Features;
        var s = x.Span; var lo = _rangeMin.ReadOnlySpan; var hi = _rangeMax.ReadOnlySpan;
        for (int r = 0; r < n; r++)
            for (int j = 0, k = r * d; j < d; j++, k++)
                s[k] = T.Clamp(s[k], lo[j], hi[j]);
    }

    /// <summary>
    /// Turns flow samples into data, in place: floors the dequantized columns, then (only when <paramref name="clamp"/>,
    /// an opt-in that distorts the density into point masses at the range's ends) clamps every column into its
    /// training range.
    /// </summary>
    public void Postprocess(Tensor<T> samples, bool clamp = false)
    {
        Dequantize.Floor(samples, DequantizedColumns);
        if (clamp) ClampToTrainingRange(samples);
    }

    /// <inheritdoc/>
    public override (Var<T> Y, Var<T> LogAbsDet) Forward(Var<T> x, Var<T>? context = null)
    {
        CheckShapes(x, context);
        return Steps.Forward(x, context);
    }

    /// <inheritdoc/>
    public override (Var<T> X, Var<T> LogAbsDet) Inverse(Var<T> y, Var<T>? context = null)
    {
        CheckShapes(y, context);
        return Steps.Inverse(y, context);
    }
}
