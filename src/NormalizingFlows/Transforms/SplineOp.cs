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
        var job = Job<T>.Rent();
        (job.Spline, job.Input, job.Parameters, job.Inverse, job.N, job.D, job.M, job.Outs, job.Lds)
            = (spline, input, parameters, inverse, n, d, m, Tensor<T>.Empty(n, d), Tensor<T>.Empty(n, d));
        ParallelRows.For(n, RowsPerPart(d), job, static (job, r0, r1) =>
        {
            int d = job.D, m = job.M, e0 = r0 * d, len = (r1 - r0) * d;
            var ui = job.Input.Value.ReadOnlySpan.Slice(e0, len); var pi = job.Parameters.Value.ReadOnlySpan.Slice(e0 * m, len * m);
            var outs = job.Outs.Span.Slice(e0, len); var lds = job.Lds!.Span.Slice(e0, len);
            if (job.Inverse) job.Spline.Inverse(ui, pi, outs, lds);
            else job.Spline.Forward(ui, pi, outs, lds);
        });
        var logDet = Tensor<T>.Empty(n);
        Tensors.Kernels.Reductions.SumRows(job.Lds!.ReadOnlySpan, n, d, logDet.Span);
        job.Lds!.Dispose();
        if (!(GradMode.IsEnabled && (input.RequiresGrad || parameters.RequiresGrad)))
            return (new Var<T>(job.Outs), new Var<T>(logDet));

        // One node owns the backward; the two results are views that forward their gradients to it.
        var packed = StateNode<T, Job<T>>.Create(Tensor<T>.Empty(0), [input, parameters], job, static (job, node) =>
        {
            int n = job.N, d = job.D, m = job.M;
            var gy = node.Grad!; // [N, D + 1]: output gradients, then the log-det gradient per row
            job.GOut = Tensor<T>.Empty(n, d);
            job.GLd = Tensor<T>.Empty(n, d);
            var g = gy.ReadOnlySpan; var go = job.GOut.Span; var gl = job.GLd.Span;
            for (int r = 0; r < n; r++)
            {
                g.Slice(r * (d + 1), d).CopyTo(go.Slice(r * d, d));
                gl.Slice(r * d, d).Fill(g[r * (d + 1) + d]);
            }
            job.GIn = job.Input.RequiresGrad ? job.Input.GradBuffer() : Tensor<T>.Zeros(n, d);
            job.GPar = job.Parameters.RequiresGrad ? job.Parameters.GradBuffer() : Tensor<T>.Zeros(n, d * m);
            ParallelRows.For(n, RowsPerPart(d), job, static (job, r0, r1) =>
            {
                int d = job.D, m = job.M, e0 = r0 * d, len = (r1 - r0) * d;
                var ui = job.Input.Value.ReadOnlySpan.Slice(e0, len); var pi = job.Parameters.Value.ReadOnlySpan.Slice(e0 * m, len * m);
                var goi = job.GOut!.ReadOnlySpan.Slice(e0, len); var gli = job.GLd!.ReadOnlySpan.Slice(e0, len);
                var gIn = job.GIn!.Span.Slice(e0, len); var gPar = job.GPar!.Span.Slice(e0 * m, len * m);
                if (job.Inverse) job.Spline.InverseBackward(ui, pi, goi, gli, gIn, gPar);
                else job.Spline.ForwardBackward(ui, pi, goi, gli, gIn, gPar);
            });
        }, gradShape: ShapeCache.Get(n, d + 1));
        var y = StateNode<T, int>.Create(job.Outs, [packed], 0, static (offset, o) => AddColumns(o.Grad!, o.Inputs[0].GradBuffer(), offset, o.Cols));
        var ld = StateNode<T, int>.Create(logDet, [packed], d, static (offset, o) => AddColumns(o.Grad!, o.Inputs[0].GradBuffer(), offset, 1));
        return (y, ld);
    }

    /// <summary>One application's operands and buffers, shared by its forward and backward row parts (no closures per step).</summary>
    private sealed class Job<T> : RecycledObject<Job<T>> where T : unmanaged, IFloatingPointIeee754<T>
    {
        public IElementwiseMap Spline = null!;
        public Var<T> Input = null!, Parameters = null!;
        public bool Inverse;
        public int N, D, M;
        public Tensor<T> Outs = null!;
        public Tensor<T>? Lds; // per-element log-derivatives of the forward pass
        public Tensor<T>? GOut, GLd, GIn, GPar; // the backward pass's buffers, set before its row parts run

        protected override void Reset() => (Spline, Input, Parameters, Outs, Lds, GOut, GLd, GIn, GPar) = (null!, null!, null!, null!, null, null, null, null, null);
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
