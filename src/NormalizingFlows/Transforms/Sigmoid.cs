using System.Numerics;
using NormalizingFlows.Autograd;

namespace NormalizingFlows.Transforms;

/// <summary>
/// Elementwise logistic sigmoid y = σ(x) = 1 / (1 + e⁻ˣ), mapping ℝ → (0, 1); log|det| = Σ log σ(x)(1 − σ(x)),
/// computed stably as −softplus(−x) − softplus(x). Inverse: the logit. No parameters.
/// </summary>
public sealed class Sigmoid<T> : ElementwiseBijection<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Creates the transform for <paramref name="features"/> features.</summary>
    public Sigmoid(int features) : base(features, SigmoidKernel, LogitKernel) { }

    internal static void SigmoidKernel(ReadOnlySpan<T> x, Span<T> y, Span<T> ld, Span<T> dy, Span<T> dld)
    {
        bool grad = !dy.IsEmpty;
        for (int i = 0; i < x.Length; i++)
        {
            double v = double.CreateTruncating(x[i]);
            double p = ElementwiseOp.Sigmoid(v), q = ElementwiseOp.Sigmoid(-v);
            y[i] = T.CreateTruncating(p);
            ld[i] = T.CreateTruncating(-ElementwiseOp.Softplus(-v) - ElementwiseOp.Softplus(v));
            if (grad)
            {
                dy[i] = T.CreateTruncating(p * q);
                dld[i] = T.CreateTruncating(q - p);
            }
        }
    }

    internal static void LogitKernel(ReadOnlySpan<T> y, Span<T> x, Span<T> ld, Span<T> dx, Span<T> dld)
    {
        bool grad = !dx.IsEmpty;
        for (int i = 0; i < y.Length; i++)
        {
            double v = double.CreateTruncating(y[i]);
            double lp = Math.Log(v), lq = ElementwiseOp.Log1p(-v);
            x[i] = T.CreateTruncating(lp - lq);
            ld[i] = T.CreateTruncating(-lp - lq);
            if (grad)
            {
                dx[i] = T.CreateTruncating(1.0 / (v * (1.0 - v)));
                dld[i] = T.CreateTruncating(-1.0 / v + 1.0 / (1.0 - v));
            }
        }
    }
}
