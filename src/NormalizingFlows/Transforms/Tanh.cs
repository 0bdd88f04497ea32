using System.Numerics;
using NormalizingFlows.Autograd;

namespace NormalizingFlows.Transforms;

/// <summary>
/// Elementwise y = tanh x, mapping ℝ → (−1, 1); log|det| = Σ log(1 − tanh² x), computed stably as
/// 2·(log 2 − |x| − softplus(−2|x|)). Inverse: x = atanh y = ½·(log1p(y) − log1p(−y)). No parameters.
/// </summary>
public sealed class Tanh<T> : ElementwiseBijection<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Creates the transform for <paramref name="features"/> features.</summary>
    public Tanh(int features) : base(features, ForwardKernel, InverseKernel) { }

    private static void ForwardKernel(ReadOnlySpan<T> x, Span<T> y, Span<T> ld, Span<T> dy, Span<T> dld)
    {
        bool grad = !dy.IsEmpty;
        for (int i = 0; i < x.Length; i++)
        {
            double v = double.CreateTruncating(x[i]);
            double t = Math.Tanh(v), l = ElementwiseOp.LogSech2(v);
            y[i] = T.CreateTruncating(t);
            ld[i] = T.CreateTruncating(l);
            if (grad)
            {
                dy[i] = T.CreateTruncating(Math.Exp(l));
                dld[i] = T.CreateTruncating(-2.0 * t);
            }
        }
    }

    private static void InverseKernel(ReadOnlySpan<T> y, Span<T> x, Span<T> ld, Span<T> dx, Span<T> dld)
    {
        bool grad = !dx.IsEmpty;
        for (int i = 0; i < y.Length; i++)
        {
            double v = double.CreateTruncating(y[i]);
            double lp = ElementwiseOp.Log1p(v), lm = ElementwiseOp.Log1p(-v);
            x[i] = T.CreateTruncating(0.5 * (lp - lm));
            ld[i] = T.CreateTruncating(-lp - lm);
            if (grad)
            {
                dx[i] = T.CreateTruncating(1.0 / ((1.0 + v) * (1.0 - v)));
                dld[i] = T.CreateTruncating(-1.0 / (1.0 + v) + 1.0 / (1.0 - v));
            }
        }
    }
}
