using System.Numerics;
using NormalizingFlows.Autograd;
using NormalizingFlows.Nn;
using NormalizingFlows.Tensors;

namespace NormalizingFlows.Transforms;

/// <summary>
/// Constant per-feature affine map y = x·scale + shift (e.g. standardisation y = (x − μ)/σ, see
/// <see cref="Standardize"/>). Buffers (saved, not trained): "scale" [D] (non-zero) and "shift" [D].
/// log|det| = Σ log|scale| per row.
/// </summary>
public sealed class FixedAffine<T> : Transform<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly Tensor<T> _scale, _shift;

    /// <summary>Creates y = x·<paramref name="scale"/> + <paramref name="shift"/>; every scale must be finite and non-zero.</summary>
    public FixedAffine(ReadOnlySpan<double> scale, ReadOnlySpan<double> shift) : base(scale.Length)
    {
        if (shift.Length != scale.Length)
            throw new ArgumentException($"scale has {scale.Length} entries but shift has {shift.Length}", nameof(shift));
        for (int j = 0; j < scale.Length; j++)
            if (scale[j] == 0 || !double.IsFinite(scale[j]))
                throw new ArgumentException($"scale[{j}] = {scale[j]}: every scale must be finite and non-zero to be invertible", nameof(scale));
        _scale = RegisterBuffer("scale", Tensor<T>.FromDoubles(scale, scale.Length));
        _shift = RegisterBuffer("shift", Tensor<T>.FromDoubles(shift, shift.Length));
    }

    /// <summary>Standardisation y = (x − <paramref name="mean"/>)/<paramref name="std"/> (std &gt; 0).</summary>
    public static FixedAffine<T> Standardize(ReadOnlySpan<double> mean, ReadOnlySpan<double> std)
    {
        if (mean.Length != std.Length) throw new ArgumentException($"mean has {mean.Length} entries but std has {std.Length}", nameof(std));
        var scale = new double[std.Length];
        var shift = new double[std.Length];
        for (int j = 0; j < std.Length; j++)
        {
            if (!(std[j] > 0)) throw new ArgumentException($"std[{j}] = {std[j]} must be positive", nameof(std));
            scale[j] = 1.0 / std[j];
            shift[j] = -mean[j] / std[j];
        }
        return new FixedAffine<T>(scale, shift);
    }

    /// <summary>The per-feature scale (buffer "scale").</summary>
    public Tensor<T> Scale => _scale;

    /// <summary>The per-feature shift (buffer "shift").</summary>
    public Tensor<T> Shift => _shift;

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
        var sc = _scale.ReadOnlySpan; var sh = _shift.ReadOnlySpan;
        var mul = new T[d];
        double logDet = 0;
        for (int j = 0; j < d; j++)
        {
            mul[j] = inverse ? T.One / sc[j] : sc[j];
            logDet += Math.Log(Math.Abs(double.CreateTruncating(sc[j])));
        }
        return AffineOp.ApplyConstant(x, mul, sh, subtractFirst: inverse, T.CreateTruncating(inverse ? -logDet : logDet));
    }
}
