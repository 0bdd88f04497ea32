using System.Numerics;
using NormalizingFlows.Autograd;

namespace NormalizingFlows.Transforms;

/// <summary>
/// Elementwise logit, the inverse of the sigmoid: Forward maps (0, 1) → ℝ. With <see cref="Eps"/> &gt; 0 the input
/// is first squeezed affinely, u = ε + (1 − 2ε)·x, so that the closed interval [0, 1] (e.g. min-max scaled data that
/// touch the bounds) maps into [ε, 1 − ε] and stays finite: y = log u − log(1 − u), and the squeeze's
/// log(1 − 2ε) per feature is part of the log-determinant. Inverse: x = (σ(y) − ε)/(1 − 2ε). No parameters.
/// </summary>
public sealed class Logit<T> : Transform<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly double _eps, _scale, _logScale;

    /// <summary>Creates the transform for <paramref name="features"/> features with squeeze <paramref name="eps"/> ∈ [0, 0.5).</summary>
    public Logit(int features, double eps = 0.0) : base(features)
    {
        if (!(eps >= 0 && eps < 0.5)) throw new ArgumentOutOfRangeException(nameof(eps), eps, "eps must lie in [0, 0.5)");
        _eps = eps;
        _scale = 1.0 - 2.0 * eps;
        _logScale = Math.Log(_scale);
    }

    /// <summary>The squeeze: inputs in [0, 1] are mapped to [Eps, 1 − Eps] before the logit.</summary>
    public double Eps => _eps;

    /// <inheritdoc/>
    public override (Var<T> Y, Var<T> LogAbsDet) Forward(Var<T> x, Var<T>? context = null)
    {
        CheckShapes(x, context);
        if (_eps == 0) return ElementwiseOp.Apply(x, Sigmoid<T>.LogitKernel);
        return ElementwiseOp.Apply(x, ForwardKernel);
    }

    /// <inheritdoc/>
    public override (Var<T> X, Var<T> LogAbsDet) Inverse(Var<T> y, Var<T>? context = null)
    {
        CheckShapes(y, context);
        if (_eps == 0) return ElementwiseOp.Apply(y, Sigmoid<T>.SigmoidKernel);
        return ElementwiseOp.Apply(y, InverseKernel);
    }

    private void ForwardKernel(ReadOnlySpan<T> x, Span<T> y, Span<T> ld, Span<T> dy, Span<T> dld)
    {
        bool grad = !dy.IsEmpty;
        for (int i = 0; i < x.Length; i++)
        {
            double v = double.CreateTruncating(x[i]);
            // u and 1 − u computed separately so that neither loses digits near the bounds
            double u = _eps + _scale * v, w = _eps + _scale * (1.0 - v);
            double lu = Math.Log(u), lw = Math.Log(w);
            y[i] = T.CreateTruncating(lu - lw);
            ld[i] = T.CreateTruncating(_logScale - lu - lw);
            if (grad)
            {
                dy[i] = T.CreateTruncating(_scale / u + _scale / w);
                dld[i] = T.CreateTruncating(-_scale / u + _scale / w);
            }
        }
    }

    private void InverseKernel(ReadOnlySpan<T> y, Span<T> x, Span<T> ld, Span<T> dx, Span<T> dld)
    {
        bool grad = !dx.IsEmpty;
        for (int i = 0; i < y.Length; i++)
        {
            double v = double.CreateTruncating(y[i]);
            double p = ElementwiseOp.Sigmoid(v), q = ElementwiseOp.Sigmoid(-v);
            x[i] = T.CreateTruncating((p - _eps) / _scale);
            ld[i] = T.CreateTruncating(-ElementwiseOp.Softplus(-v) - ElementwiseOp.Softplus(v) - _logScale);
            if (grad)
            {
                dx[i] = T.CreateTruncating(p * q / _scale);
                dld[i] = T.CreateTruncating(q - p);
            }
        }
    }
}
