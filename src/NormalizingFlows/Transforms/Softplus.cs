using System.Numerics;
using NormalizingFlows.Autograd;

namespace NormalizingFlows.Transforms;

/// <summary>
/// Elementwise y = softplus(x) = log(1 + eˣ), mapping ℝ → (0, ∞); log|det| = Σ log σ(x) = −Σ softplus(−x).
/// Inverse: x = y + log(−expm1(−y)), stable for tiny and huge y. No parameters.
/// </summary>
public sealed class Softplus<T> : ElementwiseBijection<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Creates the transform for <paramref name="features"/> features.</summary>
    public Softplus(int features) : base(features, ForwardKernel, InverseKernel) { }

    private static void ForwardKernel(ReadOnlySpan<T> x, Span<T> y, Span<T> ld, Span<T> dy, Span<T> dld)
    {
        bool grad = !dy.IsEmpty;
        for (int i = 0; i < x.Length; i++)
        {
            double v = double.CreateTruncating(x[i]);
            y[i] = T.CreateTruncating(ElementwiseOp.Softplus(v));
            ld[i] = T.CreateTruncating(-ElementwiseOp.Softplus(-v));
            if (grad)
            {
                dy[i] = T.CreateTruncating(ElementwiseOp.Sigmoid(v));
                dld[i] = T.CreateTruncating(ElementwiseOp.Sigmoid(-v));
            }
        }
    }

    private static void InverseKernel(ReadOnlySpan<T> y, Span<T> x, Span<T> ld, Span<T> dx, Span<T> dld)
    {
        bool grad = !dx.IsEmpty;
        for (int i = 0; i < y.Length; i++)
        {
            double v = double.CreateTruncating(y[i]);
            double m = -ElementwiseOp.Expm1(-v); // 1 − e⁻ʸ = σ(x) ∈ (0, 1]
            double lm = Math.Log(m);
            x[i] = T.CreateTruncating(v + lm);
            ld[i] = T.CreateTruncating(-lm);
            if (grad)
            {
                dx[i] = T.CreateTruncating(1.0 / m);
                dld[i] = T.CreateTruncating(-1.0 / ElementwiseOp.Expm1(v));
            }
        }
    }
}
