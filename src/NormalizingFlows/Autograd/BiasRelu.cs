using System.Numerics;
using NormalizingFlows.Tensors;
using NormalizingFlows.Tensors.Kernels;

namespace NormalizingFlows.Autograd;

/// <summary>
/// The epilogue shared by the fused linear+ReLU ops: y[r, :] = max(y[r, :] + b, 0) in one cache-resident pass per
/// row (threaded over rows), and its backward mask g_pre = g·[y &gt; 0] (ReLU's derivative from its output).
/// </summary>
internal static class BiasRelu
{
    /// <summary>In place: y = max(y + bias, 0) per row (bias may be null).</summary>
    public static void Apply<T>(Tensor<T> y, Tensor<T>? bias) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int n = y.Dim(0), c = y.Dim(1);
        ParallelRows.For(n, Math.Max(1, 16384 / Math.Max(1, c)), (r0, r1) =>
        {
            var ys = y.Span;
            var b = bias is null ? default : bias.ReadOnlySpan;
            for (int r = r0; r < r1; r++)
            {
                var row = ys.Slice(r * c, c);
                if (!b.IsEmpty) Elementwise.Add(row, b, row);
                Elementwise.Relu(row, row);
            }
        });
    }

    /// <summary>g_pre = g where y &gt; 0, else 0 (a fresh scope-tracked tensor).</summary>
    public static Tensor<T> MaskGradient<T>(Tensor<T> grad, Tensor<T> y) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var gp = Tensor<T>.Zeros(grad.Shape.ToArray());
        Elementwise.ReluBackward(y.ReadOnlySpan, grad.ReadOnlySpan, gp.Span);
        return gp;
    }
}
