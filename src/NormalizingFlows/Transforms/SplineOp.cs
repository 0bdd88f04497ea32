using System.Numerics;
using NormalizingFlows.Autograd;
using NormalizingFlows.Tensors;
using NormalizingFlows.Tensors.Kernels;
using NormalizingFlows.Transforms.Splines;

namespace NormalizingFlows.Transforms;

/// <summary>
/// Differentiable application of an <see cref="IElementwiseMap"/> (a spline, the deep sigmoidal map) to a [N, D] value with per-element parameters
/// [N, D·m] (feature-major: element (r, i) uses columns i·m … i·m + m − 1 of row r). One fused op: the spline's
/// analytic backward supplies the gradients for the input and the parameters.
/// </summary>
public static class SplineOp
{
    /// <summary>Applies the spline (or its inverse) and returns the outputs and the per-row sum of log|derivative|.</summary>
    public static (Var<T> Output, Var<T> LogAbsDet) Apply<T>(IElementwiseMap spline, Var<T> input, Var<T> parameters, bool inverse = false)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var u = input.Value;
        if (u.Rank != 2) throw new ArgumentException($"spline input must be [batch, features], got {u.ShapeString}");
        int n = u.Dim(0), d = u.Dim(1), m = spline.ParametersPerElement;
        var p = parameters.Value;
        if (p.Rank != 2 || p.Dim(0) != n || p.Dim(1) != d * m)
            throw new ArgumentException($"spline parameters must be [{n}, {d * m}] ({m} per element), got {p.ShapeString}");
        // packed output [N, 2D]: outputs, then per-element log-derivatives
        var outs = Tensor<T>.Empty(n, d);
        var lds = Tensor<T>.Empty(n, d);
        ParallelRows.For(n, RowsPerPart(d), (r0, r1) =>
        {
            int e0 = r0 * d, len = (r1 - r0) * d;
            var ui = u.ReadOnlySpan.Slice(e0, len); var pi = p.ReadOnlySpan.Slice(e0 * m, len * m);
            if (inverse) spline.Inverse(ui, pi, outs.Span.Slice(e0, len), lds.Span.Slice(e0, len));
            else spline.Forward(ui, pi, outs.Span.Slice(e0, len), lds.Span.Slice(e0, len));
        });
        var logDet = Tensor<T>.Empty(n);
        Tensors.Kernels.Reductions.SumRows(lds.ReadOnlySpan, n, d, logDet.Span);
        lds.Dispose();
        if (!(GradMode.IsEnabled && (input.RequiresGrad || parameters.RequiresGrad)))
            return (new Var<T>(outs), new Var<T>(logDet));

        // One node owns the backward; the two results are views that forward their gradients to it.
        var packed = new Var<T>(Tensor<T>.Empty(0), [input, parameters], node =>
        {
            var gy = node.Grad!; // [N, D + 1]: output gradients, then the log-det gradient per row
            var gOut = Tensor<T>.Empty(n, d);
            var gLd = Tensor<T>.Empty(n, d);
            var g = gy.ReadOnlySpan; var go = gOut.Span; var gl = gLd.Span;
            for (int r = 0; r < n; r++)
            {
                g.Slice(r * (d + 1), d).CopyTo(go.Slice(r * d, d));
                gl.Slice(r * d, d).Fill(g[r * (d + 1) + d]);
            }
            var gInT = input.RequiresGrad ? input.GradBuffer() : Tensor<T>.Zeros(n, d);
            var gParT = parameters.RequiresGrad ? parameters.GradBuffer() : Tensor<T>.Zeros(n, d * m);
            ParallelRows.For(n, RowsPerPart(d), (r0, r1) =>
            {
                int e0 = r0 * d, len = (r1 - r0) * d;
                var ui = u.ReadOnlySpan.Slice(e0, len); var pi = p.ReadOnlySpan.Slice(e0 * m, len * m);
                var goi = gOut.ReadOnlySpan.Slice(e0, len); var gli = gLd.ReadOnlySpan.Slice(e0, len);
                var gIn = gInT.Span.Slice(e0, len); var gPar = gParT.Span.Slice(e0 * m, len * m);
                if (inverse) spline.InverseBackward(ui, pi, goi, gli, gIn, gPar);
                else spline.ForwardBackward(ui, pi, goi, gli, gIn, gPar);
            });
        }, gradShape: [n, d + 1]);
        var y = new Var<T>(outs, [packed], o => AddColumns(o.Grad!, packed.GradBuffer(), 0, d));
        var ld = new Var<T>(logDet, [packed], o => AddColumns(o.Grad!, packed.GradBuffer(), d, 1));
        return (y, ld);
    }

    /// <summary>Rows per thread part: about 2 048 elements, so a fork pays for itself.</summary>
    private static int RowsPerPart(int features) => Math.Max(1, 2048 / Math.Max(1, features));

    private static void AddColumns<T>(Tensor<T> source, Tensor<T> packed, int offset, int width) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int n = packed.Dim(0), stride = packed.Dim(1);
        var s = source.ReadOnlySpan; var dst = packed.Span;
        for (int r = 0; r < n; r++)
            for (int j = 0; j < width; j++) dst[r * stride + offset + j] += s[r * width + j];
    }
}
