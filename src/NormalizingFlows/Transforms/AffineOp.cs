using System.Numerics;
using NormalizingFlows.Autograd;
using NormalizingFlows.Nn;
using NormalizingFlows.Tensors;

namespace NormalizingFlows.Transforms;

/// <summary>
/// Fused per-feature affine op shared by <see cref="ElementwiseAffine{T}"/> and <see cref="ActNorm{T}"/>:
/// y = x·exp(s) + b (or its inverse), with log|det| = ±Σ s per row and analytic gradients for x, s and b; and the
/// constant per-feature map of <see cref="FixedAffine{T}"/> and the min-max scaler (<see cref="ApplyConstant"/>).
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

    /// <summary>
    /// The constant map y = (x − offset)·mul (<paramref name="subtractFirst"/>) or y = x·mul + offset, with the
    /// constant log|det| <paramref name="logDet"/> per row and the gradient of x only. The two operation orders round
    /// differently; each caller keeps its own.
    /// </summary>
    public static (Var<T> Y, Var<T> LogAbsDet) ApplyConstant<T>(Var<T> x, T[] mul, ReadOnlySpan<T> offset, bool subtractFirst, T logDet)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int n = x.Value.Dim(0), d = mul.Length;
        var y = Tensor<T>.Empty(n, d);
        var xs = x.Value.ReadOnlySpan; var ys = y.Span;
        for (int r = 0; r < n; r++)
            for (int j = 0, k = r * d; j < d; j++, k++)
                ys[k] = subtractFirst ? (xs[k] - offset[j]) * mul[j] : xs[k] * mul[j] + offset[j];
        var ld = Tensor<T>.Full(logDet, n);
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
