using System.Numerics;
using NormalizingFlows.Tensors;
using NormalizingFlows.Tensors.Kernels;

namespace NormalizingFlows.Autograd;

public static partial class Ops
{
    /// <summary>
    /// Matrix product op(a)·op(b) of 2-D values, where op transposes when asked; backward uses the transposed
    /// GEMM variants directly (no transpose is materialised).
    /// </summary>
    public static Var<T> MatMul<T>(Var<T> a, Var<T> b, bool transA = false, bool transB = false) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (a.Value.Rank != 2 || b.Value.Rank != 2)
            throw new ArgumentException($"MatMul needs 2-D values, got {a.Value.ShapeString} and {b.Value.ShapeString}");
        int ar = a.Value.Dim(0), ac = a.Value.Dim(1), br = b.Value.Dim(0), bc = b.Value.Dim(1);
        int m = transA ? ac : ar, k = transA ? ar : ac;
        int kb = transB ? bc : br, n = transB ? br : bc;
        if (k != kb)
            throw new ArgumentException($"MatMul: inner dimensions differ: op(a) is {m}×{k}, op(b) is {kb}×{n} (a {a.Value.ShapeString}{(transA ? "ᵀ" : "")}, b {b.Value.ShapeString}{(transB ? "ᵀ" : "")})");
        var y = Tensor<T>.Empty(m, n);
        Gemm.Compute(transA, transB, m, n, k, T.One, a.Value.ReadOnlySpan, ac, b.Value.ReadOnlySpan, bc, T.Zero, y.Span, n);
        if (!Record(a, b)) return ConstantNode<T>.Create(y);
        return new Var<T>(y, [a, b], o =>
        {
            var gy = o.Grad!.ReadOnlySpan;
            if (a.RequiresGrad)
            {
                var ga = a.GradBuffer().Span;
                // C = op(A)·op(B): dA = dC·op(B)ᵀ (or its transpose when A was transposed)
                if (!transA) Gemm.Compute(false, !transB, m, k, n, T.One, gy, n, b.Value.ReadOnlySpan, bc, T.One, ga, ac);
                else Gemm.Compute(transB, true, k, m, n, T.One, b.Value.ReadOnlySpan, bc, gy, n, T.One, ga, ac);
            }
            if (b.RequiresGrad)
            {
                var gb = b.GradBuffer().Span;
                if (!transB) Gemm.Compute(!transA, false, k, n, m, T.One, a.Value.ReadOnlySpan, ac, gy, n, T.One, gb, bc);
                else Gemm.Compute(true, transA, n, k, m, T.One, gy, n, a.Value.ReadOnlySpan, ac, T.One, gb, bc);
            }
        });
    }

    /// <summary>
    /// Affine layer y = x·Wᵀ + b with W stored [out, in] (the PyTorch layout) and b [out] (optional); with
    /// <paramref name="relu"/>, y = max(x·Wᵀ + b, 0) fused (the bias and the ReLU in the GEMM's micro-kernels where
    /// the shape allows, else in one pass after it).
    /// One GEMM forward, two GEMMs and a column sum backward.
    /// </summary>
    public static Var<T> Linear<T>(Var<T> x, Var<T> weight, Var<T>? bias = null, bool relu = false) where T : unmanaged, IFloatingPointIeee754<T>
        => AffineLayer(x, weight, weight.Value, mask: null, bias, relu, "Linear");

    /// <summary>
    /// The shared core of <see cref="Linear{T}"/> and the masked linear op: y = x·Wₑᵀ + b (ReLU fused on request) with
    /// Wₑ = <paramref name="effective"/> (W itself, or W∘M computed by the caller into a pooled scratch tensor, which
    /// is released here when no graph is recorded). Backward: dx = dy·Wₑ, dW += dyᵀ·x (masked by M when given),
    /// db += Σ_rows dy — GEMM transpose flags only.
    /// </summary>
    /// <remarks>
    /// With <paramref name="blocks"/> (the nonzero blocks of <paramref name="mask"/>), the three products run block by
    /// block and skip the blocks where the mask is zero.
    /// </remarks>
    internal static Var<T> AffineLayer<T>(Var<T> x, Var<T> weight, Tensor<T> effective, Tensor<T>? mask, Var<T>? bias, bool relu, string name,
        MaskBlocks? blocks = null)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (blocks is { IsDense: true } || mask is null) blocks = null;
        var xv = x.Value; var w = weight.Value;
        if (xv.Rank != 2) throw new ArgumentException($"{name}: input must be [batch, features], got {xv.ShapeString}");
        if (w.Rank != 2) throw new ArgumentException($"{name}: weight must be [out, in], got {w.ShapeString}");
        int n = xv.Dim(0), inF = xv.Dim(1), outF = w.Dim(0);
        if (w.Dim(1) != inF)
            throw new ArgumentException($"{name}: input has {inF} features but the weight {w.ShapeString} expects {w.Dim(1)}");
        if (bias is not null && bias.Value.Length != outF)
            throw new ArgumentException($"{name}: bias has {bias.Value.Length} entries, expected {outF}");
        if (n == 0) blocks = null;
        var y = Tensor<T>.Empty(n, outF);
        var ys = y.Span;
        T beta = T.Zero;
        if (bias is not null && !relu)
        {
            var bs = bias.Value.ReadOnlySpan;
            for (int r = 0; r < n; r++) bs.CopyTo(ys.Slice(r * outF, outF));
            beta = T.One;
        }
        bool fused = false;
        if (blocks is null && relu && bias is not null)
            fused = Gemm.TryComputeBiasRelu(n, outF, inF, xv.ReadOnlySpan, inF, effective.ReadOnlySpan, inF, bias.Value.ReadOnlySpan, ys, outF);
        else if (blocks is null) Gemm.Compute(false, true, n, outF, inF, T.One, xv.ReadOnlySpan, inF, effective.ReadOnlySpan, inF, beta, ys, outF);
        else BlockedForward(blocks, n, inF, outF, xv.ReadOnlySpan, effective.ReadOnlySpan, beta, ys);
        if (relu && !fused) BiasRelu.Apply(ys, n, outF, bias is null ? default : bias.Value.ReadOnlySpan);
        bool rec = GradMode.IsEnabled && (x.RequiresGrad || weight.RequiresGrad || (bias?.RequiresGrad ?? false));
        if (!rec)
        {
            if (!ReferenceEquals(effective, w)) effective.Dispose();
            return ConstantNode<T>.Create(y);
        }
        ReadOnlySpan<Var<T>> inputs = bias is null ? [x, weight] : [x, weight, bias];
        return StateNode<T, (bool, MaskBlocks?, Tensor<T>, Tensor<T>?)>.Create(y, inputs, (relu, blocks, effective, mask), static (state, o) =>
        {
            var (relu, blocks, effective, mask) = state;
            Var<T> x = o.Inputs[0], weight = o.Inputs[1];
            var bias = o.Inputs.Length > 2 ? o.Inputs[2] : null;
            var xv = x.Value; var w = weight.Value;
            int n = xv.Dim(0), inF = xv.Dim(1), outF = w.Dim(0);
            var gy = relu ? BiasRelu.MaskGradient(o.Grad!, o.Value).ReadOnlySpan : o.Grad!.ReadOnlySpan;
            if (x.RequiresGrad)
            {
                // a new gradient buffer is written (beta = 0) rather than zeroed and accumulated into
                var gx = x.GradBuffer(out bool isNew).Span;
                if (blocks is null) Gemm.Compute(false, false, n, inF, outF, T.One, gy, outF, effective.ReadOnlySpan, inF, isNew ? T.Zero : T.One, gx, inF);
                else BlockedInputGradient(blocks, n, inF, outF, gy, effective.ReadOnlySpan, isNew ? T.Zero : T.One, gx);
            }
            if (weight.RequiresGrad)
            {
                if (mask is null) Gemm.Compute(true, false, outF, inF, n, T.One, gy, outF, xv.ReadOnlySpan, inF, T.One, weight.GradBuffer().Span, inF);
                else if (blocks is not null) BlockedWeightGradient(blocks, n, inF, outF, gy, xv.ReadOnlySpan, mask.ReadOnlySpan, weight.GradBuffer().Span);
                else
                {
                    var gw = Tensor<T>.EmptyLike(w);
                    Gemm.Compute(true, false, outF, inF, n, T.One, gy, outF, xv.ReadOnlySpan, inF, T.Zero, gw.Span, inF);
                    Elementwise.MultiplyAdd(gw.ReadOnlySpan, mask.ReadOnlySpan, weight.GradBuffer().Span);
                    gw.Dispose();
                }
            }
            if (bias is not null && bias.RequiresGrad) Reductions.SumCols(gy, n, outF, bias.GradBuffer().Span, accumulate: true);
        });
    }

    // y[:, group] (op) x[:, run]·Wₑ[group, run]ᵀ per row group and column run; a group with no run gets zeros when
    // nothing was there before (beta = 0).
    private static void BlockedForward<T>(MaskBlocks blocks, int n, int inF, int outF, ReadOnlySpan<T> x, ReadOnlySpan<T> w, T beta, Span<T> y)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        foreach (var b in blocks.ByRows)
        {
            int width = b.End - b.Start;
            if (b.Runs.Length == 0)
            {
                if (beta == T.Zero)
                    for (int r = 0; r < n; r++) y.Slice(r * outF + b.Start, width).Clear();
                continue;
            }
            T bb = beta;
            foreach (var (lo, hi) in b.Runs)
            {
                Gemm.Compute(false, true, n, width, hi - lo, T.One, x[lo..], inF, w[(b.Start * inF + lo)..], inF, bb, y[b.Start..], outF);
                bb = T.One;
            }
        }
    }

    // dx[:, group] (beta = 0: =, 1: +=) dy[:, run]·Wₑ[run, group] per column group and row run.
    private static void BlockedInputGradient<T>(MaskBlocks blocks, int n, int inF, int outF, ReadOnlySpan<T> gy, ReadOnlySpan<T> w, T beta, Span<T> gx)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        foreach (var b in blocks.ByColumns)
        {
            int width = b.End - b.Start;
            if (b.Runs.Length == 0 && beta == T.Zero)
                for (int r = 0; r < n; r++) gx.Slice(r * inF + b.Start, width).Clear();
            T bb = beta;
            foreach (var (lo, hi) in b.Runs)
            {
                Gemm.Compute(false, false, n, width, hi - lo, T.One, gy[lo..], outF, w[(lo * inF + b.Start)..], inF, bb, gx[b.Start..], inF);
                bb = T.One;
            }
        }
    }

    // dW[run, group] += (dy[:, run]ᵀ·x[:, group])∘M[run, group] per column group and row run (the entries outside the
    // blocks have M = 0). By column groups, the long GEMMs (k = batch) pack each x column once.
    private static void BlockedWeightGradient<T>(MaskBlocks blocks, int n, int inF, int outF, ReadOnlySpan<T> gy, ReadOnlySpan<T> x,
        ReadOnlySpan<T> mask, Span<T> gw) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var block = Tensor<T>.Empty(outF * 2 * MaskBlocks.GroupSize);
        var bs = block.Span;
        foreach (var b in blocks.ByColumns)
            foreach (var (lo, hi) in b.Runs)
            {
                int width = b.End - b.Start;
                Gemm.Compute(true, false, hi - lo, width, n, T.One, gy[lo..], outF, x[b.Start..], inF, T.Zero, bs, width);
                for (int r = lo; r < hi; r++)
                {
                    int at = r * inF + b.Start;
                    Elementwise.MultiplyAdd<T>(bs.Slice((r - lo) * width, width), mask.Slice(at, width), gw.Slice(at, width));
                }
            }
        block.Dispose();
    }
}
