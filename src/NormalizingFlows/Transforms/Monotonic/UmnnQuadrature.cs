using System.Numerics;
using NormalizingFlows.Autograd;
using NormalizingFlows.Tensors;
using NormalizingFlows.Tensors.Kernels;

namespace NormalizingFlows.Transforms.Monotonic;

/// <summary>
/// The quadrature of <see cref="UmnnUpdate"/> as one autograd op that keeps no graph of the integrand network
/// (Wehenkel &amp; Louppe's memory remedy): the forward evaluates all Q nodes without recording and keeps only the
/// results; the backward re-runs the network on blocks of nodes with recording and back-propagates each block at once,
/// so the parameters and embeddings receive Σ_j w_j·∂g(x·c_j, h)/∂(θ, h) (the Leibniz rule, term by term) and x its
/// derivative of the same sum. Memory: O(rows·hidden·layers) per block of nodes instead of O(rows·Q·hidden·layers)
/// held until the step's backward; the cost is one more evaluation of the network per backward.
/// </summary>
internal static class UmnnQuadrature
{
    /// <summary>Rows·nodes per re-evaluated block: the backward records at most this many network positions at a time.</summary>
    internal const int BlockPositions = 1 << 16;

    /// <summary>
    /// [R, 2]: column 0 the weighted sum Σ_j w_j·g(x_r·c_j, h_r) with g = ELU(o) + 1, column 1 the network's output
    /// o(x_r·c_0, h_r) at the first node; for x [R, 1], embeddings h [R, E], factors <paramref name="scales"/> and
    /// weights <paramref name="weights"/>. Its values are bit-identical to <see cref="Recorded{T}"/>'s; its backward re-runs
    /// the network on blocks of at most <paramref name="blockPositions"/> rows·nodes.
    /// </summary>
    public static Var<T> Evaluate<T>(IntegrandNetwork<T> network, Var<T> x, Var<T> h, double[] scales, double[] weights, int blockPositions = BlockPositions) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int rows = x.Value.Dim(0);
        var result = Tensor<T>.Empty(rows, 2);
        using (GradMode.Disable())
        using (TensorScope.Begin())
        {
            var (sum, end) = Recorded(network, x, h, scales, weights);
            Interleave(sum.Value.ReadOnlySpan, end.Value.ReadOnlySpan, result.Span);
        }
        if (!(GradMode.IsEnabled && (x.RequiresGrad || h.RequiresGrad || network.Parameters().Any(p => p.RequiresGrad)))) return new Var<T>(result);
        return new Var<T>(result, [x, h], node => Backward(network, x, h, scales, weights, blockPositions, node.Grad!));
    }

    /// <summary>The same two columns, recorded op by op (the whole quadrature on the tape): the backward's blocks, and the reference its gradients are tested against.</summary>
    internal static (Var<T> Sum, Var<T> End) Recorded<T>(IntegrandNetwork<T> network, Var<T> x, Var<T> h, double[] scales, double[] weights) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var o = network.Output(x, h, scales);
        var g = Ops.ScaleShift(Ops.Elu(o), 1.0, 1.0);
        return (Ops.MatMul(g, new Var<T>(Tensor<T>.FromDoubles(weights, weights.Length, 1))), Ops.SliceColumns(o, 0, 1));
    }

    // the gradient [R, 2] into x, h and the network's parameters, block of nodes by block, each block recorded and
    // released before the next; x and h enter as shard-local leaves whose gradients are added into theirs at the end
    private static void Backward<T>(IntegrandNetwork<T> network, Var<T> x, Var<T> h, double[] scales, double[] weights, int blockPositions, Tensor<T> grad) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int rows = x.Value.Dim(0), q = scales.Length, block = Math.Clamp(blockPositions / Math.Max(rows, 1), 1, q);
        var seedSum = Tensor<T>.Empty(rows, 1); var seedEnd = Tensor<T>.Empty(rows, 1);
        var gs = grad.ReadOnlySpan; var ss = seedSum.Span; var se = seedEnd.Span;
        for (int r = 0; r < rows; r++) { ss[r] = gs[2 * r]; se[r] = gs[2 * r + 1]; }
        var xl = new Var<T>(x.Value, x.RequiresGrad) { IsShardLocal = true };
        var hl = new Var<T>(h.Value, h.RequiresGrad) { IsShardLocal = true };
        if (xl.RequiresGrad) xl.GradBuffer();
        if (hl.RequiresGrad) hl.GradBuffer();
        using (GradMode.Record())
            for (int j0 = 0; j0 < q; j0 += block)
            {
                int count = Math.Min(block, q - j0);
                using var scope = TensorScope.Begin();
                var (sum, end) = Recorded(network, xl, hl, scales[j0..(j0 + count)], weights[j0..(j0 + count)]);
                if (!sum.RequiresGrad) return;
                if (j0 == 0) Var<T>.Backward([sum, end], [seedSum, seedEnd]);
                else Var<T>.Backward([sum], [seedSum]);
            }
        if (xl.RequiresGrad) Elementwise.Axpy(T.One, xl.Grad!.ReadOnlySpan, x.GradBuffer().Span);
        if (hl.RequiresGrad) Elementwise.Axpy(T.One, hl.Grad!.ReadOnlySpan, h.GradBuffer().Span);
    }

    private static void Interleave<T>(ReadOnlySpan<T> sum, ReadOnlySpan<T> end, Span<T> result) where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int r = 0; r < sum.Length; r++) { result[2 * r] = sum[r]; result[2 * r + 1] = end[r]; }
    }
}
