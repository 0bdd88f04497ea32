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
        => Apply(x, weight, mask, bias, relu, blocks: null);

    /// <summary>As above; with <paramref name="blocks"/> (the mask's nonzero blocks) the products skip the zero blocks.</summary>
    internal static Var<T> Apply<T>(Var<T> x, Var<T> weight, Tensor<T> mask, Var<T>? bias, bool relu, MaskBlocks? blocks) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var w = weight.Value;
        if (!mask.SameShape(w)) throw new ArgumentException($"MaskedLinear: mask {mask.ShapeString} differs from weight {w.ShapeString}");
        var wm = Tensor<T>.EmptyLike(w);
        Elementwise.Multiply(w.ReadOnlySpan, mask.ReadOnlySpan, wm.Span);
        return Ops.AffineLayer(x, weight, wm, mask, bias, relu, "MaskedLinear", blocks);
    }
}
