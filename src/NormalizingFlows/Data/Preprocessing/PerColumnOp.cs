using System.Numerics;
using NormalizingFlows.Autograd;
using NormalizingFlows.Tensors;

namespace NormalizingFlows.Data.Preprocessing;

/// <summary>
/// Per-element function of a per-column bijection: from x in column <c>column</c> returns y = f(x), log|f′(x)|, and
/// (used only when gradients are recorded) f′(x) and d log|f′|/dx.
/// </summary>
internal delegate (double Y, double LogDeriv, double Deriv, double DLogDeriv) ColumnFunction(double x, int column);

/// <summary>
/// Differentiable application of a fixed per-column elementwise bijection to [N, D] values (the preprocessing
/// transforms' shared op; it owns its loop so that the column of every element is known).
/// </summary>
internal static class PerColumnOp
{
    public static (Var<T> Y, Var<T> LogAbsDet) Apply<T>(Var<T> x, ColumnFunction f) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var xv = x.Value;
        int n = xv.Dim(0), d = xv.Dim(1);
        bool record = GradMode.IsEnabled && x.RequiresGrad;
        var y = Tensor<T>.Empty(n, d);
        var logDet = Tensor<T>.Empty(n);
        var dy = record ? new T[n * d] : null;
        var dld = record ? new T[n * d] : null;
        var xs = xv.ReadOnlySpan; var ys = y.Span; var ls = logDet.Span;
        for (int r = 0; r < n; r++)
        {
            double sum = 0;
            for (int j = 0, k = r * d; j < d; j++, k++)
            {
                var (v, lg, der, dlg) = f(double.CreateTruncating(xs[k]), j);
                ys[k] = T.CreateTruncating(v);
                sum += lg;
                if (record) { dy![k] = T.CreateTruncating(der); dld![k] = T.CreateTruncating(dlg); }
            }
            ls[r] = T.CreateTruncating(sum);
        }
        if (!record) return (new Var<T>(y), new Var<T>(logDet));
        var yVar = new Var<T>(y, [x], o =>
        {
            var gy = o.Grad!.ReadOnlySpan; var gx = x.GradBuffer().Span;
            for (int i = 0; i < gx.Length; i++) gx[i] += gy[i] * dy![i];
        });
        var ldVar = new Var<T>(logDet, [x], o =>
        {
            var gl = o.Grad!.ReadOnlySpan; var gx = x.GradBuffer().Span;
            for (int r = 0; r < n; r++)
                for (int j = 0, k = r * d; j < d; j++, k++) gx[k] += gl[r] * dld![k];
        });
        return (yVar, ldVar);
    }
}
