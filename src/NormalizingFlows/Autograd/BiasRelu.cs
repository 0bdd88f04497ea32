using System.Numerics;
using System.Runtime.InteropServices;
using NormalizingFlows.Tensors;
using NormalizingFlows.Tensors.Kernels;

namespace NormalizingFlows.Autograd;

/// <summary>
/// The backward of the fused linear+ReLU ops (whose forward bias + ReLU runs as the GEMM's epilogue, see
/// <c>Gemm.ComputeBiasRelu</c>): the mask g_pre = g·[y &gt; 0] (ReLU's derivative from its output).
/// </summary>
internal static class BiasRelu
{
    /// <summary>g_pre = g where y &gt; 0, else 0, written in one pass into a fresh scope-tracked tensor.</summary>
    public static Tensor<T> MaskGradient<T>(Tensor<T> grad, Tensor<T> y) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var gp = Tensor<T>.EmptyLike(grad);
        var g = grad.ReadOnlySpan; var ys = y.ReadOnlySpan; var d = gp.Span;
        int i = 0;
        ref T gr = ref MemoryMarshal.GetReference(g);
        ref T yr = ref MemoryMarshal.GetReference(ys);
        ref T dr = ref MemoryMarshal.GetReference(d);
        if (Vector.IsHardwareAccelerated)
            for (; i + Vector<T>.Count <= d.Length; i += Vector<T>.Count)
            {
                var pos = Vector.GreaterThan(Vector.LoadUnsafe(ref yr, (nuint)i), Vector<T>.Zero);
                Vector.ConditionalSelect(pos, Vector.LoadUnsafe(ref gr, (nuint)i), Vector<T>.Zero).StoreUnsafe(ref dr, (nuint)i);
            }
        for (; i < d.Length; i++) d[i] = ys[i] > T.Zero ? g[i] : T.Zero;
        return gp;
    }
}
