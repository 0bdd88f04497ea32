using System.Numerics;
using NormalizingFlows.Autograd;
using NormalizingFlows.Tensors;
using NormalizingFlows.Tensors.Kernels;

namespace NormalizingFlows.Nn;

/// <summary>Fused masked affine op used by <see cref="MaskedLinear{T}"/> and MADE.</summary>
public static class MaskedLinearOp
{
    /// <summary>
    /// y = x·(W∘M)ᵀ + b for x [N, in], W and M [out, in], b [out]. Forward forms W∘M in one pooled scratch buffer and
    /// runs one GEMM; backward computes dx = dy·(W∘M), dW += (dyᵀ·x)∘M (masked entries get no gradient) and
    /// db += Σ_rows dy, using GEMM transpose flags (nothing is transposed in memory).
    /// </summary>
    /// <remarks>With <paramref name="relu"/>, y = max(x·(W∘M)ᵀ + b, 0) with the bias and ReLU fused into one pass.</remarks>
    public static Var<T> Apply<T>(Var<T> x, Var<T> weight, Tensor<T> mask, Var<T>? bias = null, bool relu = false) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var xv = x.Value; var w = weight.Value;
        if (xv.Rank != 2) throw new ArgumentException($"MaskedLinear: input must be [batch, features], got {xv.ShapeString}");
        if (w.Rank != 2) throw new ArgumentException($"MaskedLinear: weight must be [out, in], got {w.ShapeString}");
        if (!mask.SameShape(w)) throw new ArgumentException($"MaskedLinear: mask {mask.ShapeString} differs from weight {w.ShapeString}");
        int n = xv.Dim(0), inF = xv.Dim(1), outF = w.Dim(0);
        if (w.Dim(1) != inF) throw new ArgumentException($"MaskedLinear: input has {inF} features but the weight {w.ShapeString} expects {w.Dim(1)}");
        if (bias is not null && bias.Value.Length != outF) throw new ArgumentException($"MaskedLinear: bias has {bias.Value.Length} entries, expected {outF}");

        var wm = Tensor<T>.EmptyLike(w);
        Elementwise.Multiply(w.ReadOnlySpan, mask.ReadOnlySpan, wm.Span);
        var y = Tensor<T>.Empty(n, outF);
        var ys = y.Span;
        T beta = T.Zero;
        if (bias is not null && !relu)
        {
            var bs = bias.Value.ReadOnlySpan;
            for (int r = 0; r < n; r++) bs.CopyTo(ys.Slice(r * outF, outF));
            beta = T.One;
        }
        Gemm.Compute(false, true, n, outF, inF, T.One, xv.ReadOnlySpan, inF, wm.ReadOnlySpan, inF, beta, ys, outF);
        if (relu) BiasRelu.Apply(y, bias?.Value);

        bool rec = GradMode.IsEnabled && (x.RequiresGrad || weight.RequiresGrad || (bias?.RequiresGrad ?? false));
        if (!rec)
        {
            wm.Dispose();
            return new Var<T>(y);
        }
        Var<T>[] inputs = bias is null ? [x, weight] : [x, weight, bias];
        return new Var<T>(y, inputs, o =>
        {
            var gy = relu ? BiasRelu.MaskGradient(o.Grad!, o.Value).ReadOnlySpan : o.Grad!.ReadOnlySpan;
            if (x.RequiresGrad)
                Gemm.Compute(false, false, n, inF, outF, T.One, gy, outF, wm.ReadOnlySpan, inF, T.One, x.GradBuffer().Span, inF);
            if (weight.RequiresGrad)
            {
                var gw = Tensor<T>.EmptyLike(w);
                Gemm.Compute(true, false, outF, inF, n, T.One, gy, outF, xv.ReadOnlySpan, inF, T.Zero, gw.Span, inF);
                Elementwise.MultiplyAdd(gw.ReadOnlySpan, mask.ReadOnlySpan, weight.GradBuffer().Span);
                gw.Dispose();
            }
            if (bias is not null && bias.RequiresGrad) Reductions.SumCols(gy, n, outF, bias.GradBuffer().Span, accumulate: true);
        });
    }
}
