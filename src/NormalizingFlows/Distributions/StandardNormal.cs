using System.Numerics;
using NormalizingFlows.Autograd;
using NormalizingFlows.Tensors;

namespace NormalizingFlows.Distributions;

/// <summary>The standard normal N(0, I) in d dimensions (not trainable). A context, if given, is ignored.</summary>
public sealed class StandardNormal<T> : Distribution<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Creates N(0, I_d).</summary>
    public StandardNormal(int features) : base(features) { }

    /// <inheritdoc/>
    public override Var<T> LogProb(Var<T> x, Var<T>? context = null)
    {
        CheckInput(x, null);
        return LogProbOp(x);
    }

    /// <summary>Fused per-row −½‖x‖² − (d/2)·ln 2π with its backward (gx = −x·g).</summary>
    internal static Var<T> LogProbOp(Var<T> x)
    {
        var v = x.Value;
        int n = v.Dim(0), d = v.Dim(1);
        var y = Tensor<T>.Empty(n);
        var xs = v.ReadOnlySpan; var ys = y.Span;
        double c = -0.5 * d * Log2Pi;
        for (int r = 0; r < n; r++)
            ys[r] = T.CreateTruncating(c - 0.5 * Tensors.Kernels.Reductions.Dot(xs.Slice(r * d, d), xs.Slice(r * d, d)));
        if (!(GradMode.IsEnabled && x.RequiresGrad)) return ConstantNode<T>.Create(y);
        return StateNode<T, int>.Create(y, [x], d, static (d, o) =>
        {
            var x = o.Inputs[0];
            var g = o.Grad!.ReadOnlySpan; var gx = x.GradBuffer().Span; var xv = x.Value.ReadOnlySpan;
            for (int r = 0; r < g.Length; r++)
                Tensors.Kernels.Elementwise.Axpy(-g[r], xv.Slice(r * d, d), gx.Slice(r * d, d));
        });
    }

    /// <inheritdoc/>
    public override Var<T> Sample(int n, Rng rng, Var<T>? context = null)
    {
        CheckCount(n);
        if (context is not null && context.Value.Dim(0) != n)
            throw new ArgumentException($"with a context, n ({n}) must equal its rows ({context.Value.Dim(0)})");
        return new Var<T>(rng.Normal<T>(n, Features));
    }
}
