using System.Numerics;
using NormalizingFlows.Autograd;
using NormalizingFlows.Nn;
using NormalizingFlows.Tensors;

namespace NormalizingFlows.Transforms;

/// <summary>
/// Learnable per-feature affine map y = x·exp(s) + b. Parameters: "log_scale" s [D] and "shift" b [D], both zero
/// at construction (the identity). log|det| = Σ s per row. Inverse: x = (y − b)·exp(−s).
/// </summary>
public sealed class ElementwiseAffine<T> : Transform<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Creates the identity map on <paramref name="features"/> features.</summary>
    public ElementwiseAffine(int features) : base(features)
    {
        LogScale = RegisterParameter("log_scale", new Parameter<T>(Tensor<T>.Zeros(features)));
        Shift = RegisterParameter("shift", new Parameter<T>(Tensor<T>.Zeros(features)));
    }

    /// <summary>Log of the per-feature scale, s [D].</summary>
    public Parameter<T> LogScale { get; }

    /// <summary>Per-feature shift, b [D].</summary>
    public Parameter<T> Shift { get; }

    /// <inheritdoc/>
    public override (Var<T> Y, Var<T> LogAbsDet) Forward(Var<T> x, Var<T>? context = null)
    {
        CheckShapes(x, context);
        return AffineOp.Apply(x, LogScale, Shift, inverse: false);
    }

    /// <inheritdoc/>
    public override (Var<T> X, Var<T> LogAbsDet) Inverse(Var<T> y, Var<T>? context = null)
    {
        CheckShapes(y, context);
        return AffineOp.Apply(y, LogScale, Shift, inverse: true);
    }
}

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
        int n = x.Value.Dim(0), d = Features;
        var sc = _scale.ReadOnlySpan; var sh = _shift.ReadOnlySpan;
        var mul = new T[d];
        double logDet = 0;
        for (int j = 0; j < d; j++)
        {
            mul[j] = inverse ? T.One / sc[j] : sc[j];
            logDet += Math.Log(Math.Abs(double.CreateTruncating(sc[j])));
        }
        var y = Tensor<T>.Empty(n, d);
        var xs = x.Value.ReadOnlySpan; var ys = y.Span;
        for (int r = 0; r < n; r++)
            for (int j = 0, k = r * d; j < d; j++, k++)
                ys[k] = inverse ? (xs[k] - sh[j]) * mul[j] : xs[k] * mul[j] + sh[j];
        var ld = Tensor<T>.Full(T.CreateTruncating(inverse ? -logDet : logDet), n);
        if (!(GradMode.IsEnabled && x.RequiresGrad)) return (new Var<T>(y), new Var<T>(ld));
        var yVar = new Var<T>(y, [x], o =>
        {
            var gy = o.Grad!.ReadOnlySpan; var gx = x.GradBuffer().Span;
            for (int r = 0; r < n; r++)
                for (int j = 0, k = r * d; j < d; j++, k++) gx[k] += gy[k] * mul[j];
        });
        return (yVar, new Var<T>(ld));
    }
}

/// <summary>
/// Fused per-feature affine op shared by <see cref="ElementwiseAffine{T}"/> and <see cref="ActNorm{T}"/>:
/// y = x·exp(s) + b (or its inverse), with log|det| = ±Σ s per row and analytic gradients for x, s and b.
/// </summary>
internal static class AffineOp
{
    public static (Var<T> Y, Var<T> LogAbsDet) Apply<T>(Var<T> x, Var<T> logScale, Var<T> shift, bool inverse)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int n = x.Value.Dim(0), d = x.Value.Dim(1);
        var s = logScale.Value.ReadOnlySpan; var b = shift.Value.ReadOnlySpan;
        var mul = new T[d];
        double sum = 0;
        for (int j = 0; j < d; j++)
        {
            double sj = double.CreateTruncating(s[j]);
            mul[j] = T.CreateTruncating(Math.Exp(inverse ? -sj : sj));
            sum += sj;
        }
        var y = Tensor<T>.Empty(n, d);
        var xs = x.Value.ReadOnlySpan; var ys = y.Span;
        for (int r = 0; r < n; r++)
            for (int j = 0, k = r * d; j < d; j++, k++)
                ys[k] = inverse ? (xs[k] - b[j]) * mul[j] : xs[k] * mul[j] + b[j];
        var ld = Tensor<T>.Full(T.CreateTruncating(inverse ? -sum : sum), n);
        if (!(GradMode.IsEnabled && (x.RequiresGrad || logScale.RequiresGrad || shift.RequiresGrad)))
            return (new Var<T>(y), new Var<T>(ld));
        var yVar = new Var<T>(y, [x, logScale, shift], o =>
        {
            var gy = o.Grad!.ReadOnlySpan; var yv = o.Value.ReadOnlySpan;
            var gx = x.RequiresGrad ? x.GradBuffer().Span : default;
            var gs = logScale.RequiresGrad ? logScale.GradBuffer().Span : default;
            var gb = shift.RequiresGrad ? shift.GradBuffer().Span : default;
            var xv = x.Value.ReadOnlySpan;
            for (int r = 0; r < n; r++)
                for (int j = 0, k = r * d; j < d; j++, k++)
                {
                    T g = gy[k];
                    if (!gx.IsEmpty) gx[k] += g * mul[j];
                    if (inverse)
                    {
                        // x = (y − b)·e^{−s}: ∂/∂b = −e^{−s}, ∂/∂s = −x
                        if (!gb.IsEmpty) gb[j] -= g * mul[j];
                        if (!gs.IsEmpty) gs[j] -= g * yv[k];
                    }
                    else
                    {
                        if (!gb.IsEmpty) gb[j] += g;
                        if (!gs.IsEmpty) gs[j] += g * xv[k] * mul[j];
                    }
                }
        });
        if (!(GradMode.IsEnabled && logScale.RequiresGrad)) return (yVar, new Var<T>(ld));
        var ldVar = new Var<T>(ld, [logScale], o =>
        {
            T total = T.CreateTruncating(Tensors.Kernels.Reductions.Sum(o.Grad!.ReadOnlySpan));
            if (inverse) total = -total;
            var gs = logScale.GradBuffer().Span;
            for (int j = 0; j < d; j++) gs[j] += total;
        });
        return (yVar, ldVar);
    }
}
