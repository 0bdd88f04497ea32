using System.Numerics;
using NormalizingFlows.Autograd;
using NormalizingFlows.Tensors;
using NormalizingFlows.Transforms;

namespace NormalizingFlows.Data.Preprocessing;

/// <summary>
/// Per-column min-max scaling fitted on a training set: the training range [min, max], widened on each side by
/// <c>margin</c>·(max − min), is mapped linearly onto [0, 1]: y = (x − low)/(high − low) with low = min − margin·(max − min)
/// and high = max + margin·(max − min), so every training value lands strictly inside (0, 1) (at margin/(1 + 2·margin)
/// from the ends). log|det| = −Σ log(high − low) per row; Inverse: x = low + y·(high − low).
/// <para>
/// Outside [low, high] it stays the same linear map (y leaves [0, 1]); a following <see cref="Logit{T}"/> is only
/// defined inside, which is why <see cref="PreprocessingPipeline{T}"/> puts a <see cref="DomainGuard{T}"/> first: a
/// point outside the widened training range gets log-probability −∞ there, never NaN or an exception. Samples are
/// clamped back into the training range [min, max] by <see cref="PreprocessingPipeline{T}.ClampToTrainingRange"/> when
/// requested. Buffers (saved and loaded): "min", "max" (the training range) and "low", "high" (the mapped range).
/// </para>
/// </summary>
public sealed class MinMaxScaler<T> : Transform<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly Tensor<T> _min, _max, _low, _high;

    /// <summary>
    /// Creates the scaler for training ranges [<paramref name="min"/>[j], <paramref name="max"/>[j]] widened by
    /// <paramref name="margin"/> (≥ 0) of the range on each side. A column with max = min is widened by
    /// margin·max(1, |min|) (or 1e-3·max(1, |min|) when margin is 0) so that the map stays invertible.
    /// </summary>
    public MinMaxScaler(ReadOnlySpan<double> min, ReadOnlySpan<double> max, double margin = 0.01)
        : this(min, max, Enumerable.Repeat(margin, min.Length).ToArray())
    {
    }

    /// <summary>As the scalar-margin constructor, with one margin per column.</summary>
    public MinMaxScaler(ReadOnlySpan<double> min, ReadOnlySpan<double> max, ReadOnlySpan<double> margins)
        : this(min, max, margins, default, default)
    {
    }

    /// <summary>
    /// As the per-column-margin constructor, but a column j with finite <paramref name="lower"/>[j] and
    /// <paramref name="upper"/>[j] (given bounds) maps exactly (lower, upper) onto (0, 1) instead of its widened
    /// training range; NaN (or empty spans) means "use the margin".
    /// </summary>
    public MinMaxScaler(ReadOnlySpan<double> min, ReadOnlySpan<double> max, ReadOnlySpan<double> margins, ReadOnlySpan<double> lower, ReadOnlySpan<double> upper) : base(min.Length)
    {
        if ((!lower.IsEmpty && lower.Length != min.Length) || upper.Length != lower.Length)
            throw new ArgumentException($"lower and upper need one entry per column ({min.Length}), got {lower.Length} and {upper.Length}");
        if (max.Length != min.Length) throw new ArgumentException($"min has {min.Length} entries but max has {max.Length}", nameof(max));
        if (margins.Length != min.Length) throw new ArgumentException($"min has {min.Length} entries but margins has {margins.Length}", nameof(margins));
        var low = new double[min.Length];
        var high = new double[min.Length];
        for (int j = 0; j < min.Length; j++)
        {
            if (!double.IsFinite(min[j]) || !double.IsFinite(max[j]) || max[j] < min[j])
                throw new ArgumentException($"column {j}: the range [{min[j]}, {max[j]}] must be finite with min ≤ max");
            double margin = margins[j];
            if (!(margin >= 0) || !double.IsFinite(margin)) throw new ArgumentOutOfRangeException(nameof(margins), margin, $"column {j}: the margin must be a finite fraction ≥ 0");
            double width = max[j] - min[j];
            double pad = width > 0 ? margin * width : Math.Max(margin, 1e-3) * Math.Max(1.0, Math.Abs(min[j]));
            low[j] = min[j] - pad;
            high[j] = max[j] + pad;
            if (!lower.IsEmpty && double.IsFinite(lower[j]) && double.IsFinite(upper[j])) (low[j], high[j]) = (lower[j], upper[j]);
            if (!(high[j] > low[j])) throw new ArgumentException($"column {j}: the widened range [{low[j]}, {high[j]}] is empty (margin 0 on a constant column?)");
        }
        _min = RegisterBuffer("min", Tensor<T>.FromDoubles(min, min.Length));
        _max = RegisterBuffer("max", Tensor<T>.FromDoubles(max, max.Length));
        _low = RegisterBuffer("low", Tensor<T>.FromDoubles(low, low.Length));
        _high = RegisterBuffer("high", Tensor<T>.FromDoubles(high, high.Length));
    }

    /// <summary>Smallest training value per column (buffer "min").</summary>
    public Tensor<T> Min => _min;

    /// <summary>Largest training value per column (buffer "max").</summary>
    public Tensor<T> Max => _max;

    /// <summary>The value mapped to 0 per column (buffer "low").</summary>
    public Tensor<T> Low => _low;

    /// <summary>The value mapped to 1 per column (buffer "high").</summary>
    public Tensor<T> High => _high;

    /// <inheritdoc/>
    public override (Var<T> Y, Var<T> LogAbsDet) Forward(Var<T> x, Var<T>? context = null)
    {
        CheckShapes(x, context);
        return Apply(x, inverse: false);
    }

    /// <inheritdoc/>
    public override (Var<T> X, Var<T> LogAbsDet) Inverse(Var<T> y, Var<T>? context = null)
    {
        CheckShapes(y, context);
        return Apply(y, inverse: true);
    }

    private (Var<T>, Var<T>) Apply(Var<T> x, bool inverse)
    {
        int d = Features;
        var lo = _low.ReadOnlySpan; var hi = _high.ReadOnlySpan;
        var mul = new T[d];
        double logDet = 0;
        for (int j = 0; j < d; j++)
        {
            double l = double.CreateTruncating(lo[j]), w = double.CreateTruncating(hi[j]) - l;
            mul[j] = T.CreateTruncating(inverse ? w : 1.0 / w);
            logDet -= Math.Log(w);
        }
        // x = low + y·w is the same sum as y·w + low (addition commutes exactly)
        return AffineOp.ApplyConstant(x, mul, lo, subtractFirst: !inverse, T.CreateTruncating(inverse ? -logDet : logDet));
    }
}
