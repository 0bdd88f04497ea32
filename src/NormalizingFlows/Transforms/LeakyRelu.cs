using System.Numerics;
using NormalizingFlows.Autograd;

namespace NormalizingFlows.Transforms;

/// <summary>
/// Elementwise invertible leaky ReLU: y = x for x ≥ 0, α·x for x &lt; 0 with a fixed negative slope α &gt; 0;
/// log|det| = (number of negative inputs)·log α. Inverse divides the negative outputs by α. No parameters.
/// </summary>
public sealed class LeakyRelu<T> : Transform<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly double _slope, _logSlope;

    /// <summary>Creates the transform for <paramref name="features"/> features with negative slope <paramref name="negativeSlope"/> &gt; 0.</summary>
    public LeakyRelu(int features, double negativeSlope = 0.01) : base(features)
    {
        if (!(negativeSlope > 0 && double.IsFinite(negativeSlope)))
            throw new ArgumentOutOfRangeException(nameof(negativeSlope), negativeSlope, "the negative slope must be positive and finite to be invertible");
        _slope = negativeSlope;
        _logSlope = Math.Log(negativeSlope);
    }

    /// <summary>The slope α applied to negative inputs.</summary>
    public double NegativeSlope => _slope;

    /// <inheritdoc/>
    public override (Var<T> Y, Var<T> LogAbsDet) Forward(Var<T> x, Var<T>? context = null)
    {
        CheckShapes(x, context);
        return ElementwiseOp.Apply(x, (xs, ys, ld, dy, dld) => Kernel(xs, ys, ld, dy, dld, _slope, _logSlope));
    }

    /// <inheritdoc/>
    public override (Var<T> X, Var<T> LogAbsDet) Inverse(Var<T> y, Var<T>? context = null)
    {
        CheckShapes(y, context);
        return ElementwiseOp.Apply(y, (ys, xs, ld, dx, dld) => Kernel(ys, xs, ld, dx, dld, 1.0 / _slope, -_logSlope));
    }

    private static void Kernel(ReadOnlySpan<T> x, Span<T> y, Span<T> ld, Span<T> dy, Span<T> dld, double slope, double logSlope)
    {
        bool grad = !dy.IsEmpty;
        T s = T.CreateTruncating(slope), l = T.CreateTruncating(logSlope);
        for (int i = 0; i < x.Length; i++)
        {
            bool neg = x[i] < T.Zero;
            y[i] = neg ? x[i] * s : x[i];
            ld[i] = neg ? l : T.Zero;
            if (grad)
            {
                dy[i] = neg ? s : T.One;
                dld[i] = T.Zero;
            }
        }
    }
}
