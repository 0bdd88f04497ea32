using System.Numerics;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using NormalizingFlows.Autograd;
using NormalizingFlows.Tensors;
using NormalizingFlows.Tensors.Kernels;

namespace NormalizingFlows.Transforms;

/// <summary>
/// The fused affine update of coupling layers and MAF: y = x·s + t (or its inverse x = (y − t)/s) with the per-row
/// log-determinant Σ log s, as two graph nodes with hand-written backward. Parameters are feature-major, two per
/// feature: column 2i is the raw scale of feature i (mapped by an <see cref="AffineScale"/>), column 2i + 1 its shift.
/// Internals run in double for float and double data.
/// </summary>
public static class AffineCouplingOp
{
    /// <summary>
    /// Applies y = x·s + t (or, with <paramref name="inverse"/>, x = (y − t)·exp(−log s)) to <paramref name="input"/>
    /// [N, K] with <paramref name="parameters"/> [N, 2K]; returns the output [N, K] and log|det| per row [N]
    /// (Σ log s forward, −Σ log s inverse).
    /// </summary>
    public static (Var<T> Output, Var<T> LogAbsDet) Apply<T>(Var<T> input, Var<T> parameters, AffineScale scale, bool inverse = false)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var u = input.Value; var p = parameters.Value;
        if (u.Rank != 2) throw new ArgumentException($"affine input must be [batch, features], got {u.ShapeString}");
        int n = u.Dim(0), k = u.Dim(1);
        if (p.Rank != 2 || p.Dim(0) != n || p.Dim(1) != 2 * k)
            throw new ArgumentException($"affine parameters must be [{n}, {2 * k}] (raw scale and shift per feature), got {p.ShapeString}");
        if (typeof(T) == typeof(float))
        {
            var (yf, ldf) = ApplyFloat((Var<float>)(object)input, (Var<float>)(object)parameters, scale, inverse);
            return ((Var<T>)(object)yf, (Var<T>)(object)ldf);
        }
        var outs = Tensor<T>.Empty(n, k);
        var logDet = Tensor<T>.Empty(n);
        var us = u.ReadOnlySpan; var ps = p.ReadOnlySpan; var os = outs.Span; var ls = logDet.Span;
        for (int r = 0; r < n; r++)
        {
            double sum = 0;
            for (int i = 0; i < k; i++)
            {
                double raw = double.CreateTruncating(ps[(r * k + i) * 2]);
                double t = double.CreateTruncating(ps[(r * k + i) * 2 + 1]);
                double v = double.CreateTruncating(us[r * k + i]);
                var (l, _) = scale.Evaluate(raw);
                os[r * k + i] = T.CreateTruncating(inverse ? (v - t) * Math.Exp(-l) : v * Math.Exp(l) + t);
                sum += l;
            }
            ls[r] = T.CreateTruncating(inverse ? -sum : sum);
        }
        if (!(GradMode.IsEnabled && (input.RequiresGrad || parameters.RequiresGrad)))
            return (new Var<T>(outs), new Var<T>(logDet));

        var y = new Var<T>(outs, [input, parameters], o =>
        {
            var g = o.Grad!.ReadOnlySpan; var ov = o.Value.ReadOnlySpan;
            var gIn = input.RequiresGrad ? input.GradBuffer().Span : default;
            var gPar = parameters.RequiresGrad ? parameters.GradBuffer().Span : default;
            var uv = input.Value.ReadOnlySpan; var pv = parameters.Value.ReadOnlySpan;
            for (int e = 0; e < n * k; e++)
            {
                double gy = double.CreateTruncating(g[e]);
                if (gy == 0) continue;
                var (l, dl) = scale.Evaluate(double.CreateTruncating(pv[2 * e]));
                if (inverse)
                {
                    // x = (y − t)·e^{−l}: ∂x/∂y = e^{−l}, ∂x/∂t = −e^{−l}, ∂x/∂l = −x
                    double ginv = gy * Math.Exp(-l);
                    if (input.RequiresGrad) gIn[e] += T.CreateTruncating(ginv);
                    if (parameters.RequiresGrad)
                    {
                        gPar[2 * e + 1] -= T.CreateTruncating(ginv);
                        gPar[2 * e] -= T.CreateTruncating(gy * double.CreateTruncating(ov[e]) * dl);
                    }
                }
                else
                {
                    // y = x·e^{l} + t: ∂y/∂x = e^{l}, ∂y/∂t = 1, ∂y/∂l = x·e^{l}
                    double s = Math.Exp(l);
                    if (input.RequiresGrad) gIn[e] += T.CreateTruncating(gy * s);
                    if (parameters.RequiresGrad)
                    {
                        gPar[2 * e + 1] += T.CreateTruncating(gy);
                        gPar[2 * e] += T.CreateTruncating(gy * double.CreateTruncating(uv[e]) * s * dl);
                    }
                }
            }
        });
        if (!parameters.RequiresGrad) return (y, new Var<T>(logDet));
        var ld = new Var<T>(logDet, [parameters], o =>
        {
            var g = o.Grad!.ReadOnlySpan; var gPar = parameters.GradBuffer().Span; var pv = parameters.Value.ReadOnlySpan;
            for (int r = 0; r < n; r++)
            {
                double gl = double.CreateTruncating(g[r]);
                if (gl == 0) continue;
                if (inverse) gl = -gl;
                for (int i = 0; i < k; i++)
                {
                    int e = r * k + i;
                    gPar[2 * e] += T.CreateTruncating(gl * scale.Evaluate(double.CreateTruncating(pv[2 * e])).Derivative);
                }
            }
        });
        return (y, ld);
    }

    private const int Chunk = 256;

    /// <summary>
    /// Float path: the transcendental parts (scale map and exp) run vectorised over chunks of elements, the rest in
    /// plain float arithmetic; log-determinants are summed per row in double.
    /// </summary>
    private static (Var<float> Output, Var<float> LogAbsDet) ApplyFloat(Var<float> input, Var<float> parameters, AffineScale scale, bool inverse)
    {
        var u = input.Value; var p = parameters.Value;
        int n = u.Dim(0), k = u.Dim(1), total = n * k;
        int rowsPerPart = RowsPerPartFor(k);
        bool record = GradMode.IsEnabled && (input.RequiresGrad || parameters.RequiresGrad);
        var outs = Tensor<float>.Empty(n, k);
        var logDet = Tensor<float>.Empty(n);
        // when recording, d(log s)/d raw and s are kept for the backward (one evaluation of the scale map per step)
        var dlAll = record ? Tensor<float>.Empty(total) : null;
        var sAll = record ? Tensor<float>.Empty(total) : null;
        var job = FloatJob.Rent();
        (job.Input, job.Parameters, job.Scale, job.Inverse, job.Outs, job.LogDet, job.DlAll, job.SAll, job.N, job.K)
            = (input, parameters, scale, inverse, outs, logDet, dlAll, sAll, n, k);
        ParallelRows.For(n, rowsPerPart, job, static (j, r0, r1) => ForwardRows(j.Input.Value, j.Parameters.Value, j.Scale, j.Inverse, j.Outs, j.LogDet, j.DlAll, j.SAll, j.K, r0, r1));
        if (!record) return (new Var<float>(outs), new Var<float>(logDet));

        var y = StateNode<float, FloatJob>.Create(outs, [input, parameters], job, static (job, o) =>
        {
            job.Gy = o.Grad!;
            job.GIn = job.Input.RequiresGrad ? job.Input.GradBuffer() : null;
            job.GPar = job.Parameters.RequiresGrad ? job.Parameters.GradBuffer() : null;
            ParallelRows.For(job.N, job.RowsPerPart, job, static (job, r0, r1) =>
            {
                bool inverse = job.Inverse; int k = job.K;
                var g = job.Gy!.ReadOnlySpan; var ov = job.Outs.ReadOnlySpan; var uv = job.Input.Value.ReadOnlySpan;
                var dl = job.DlAll!.ReadOnlySpan; var sc = job.SAll!.ReadOnlySpan;
                var gi = job.GIn is null ? default : job.GIn.Span; var gp = job.GPar is null ? default : job.GPar.Span;
                for (int e = r0 * k, end = r1 * k; e < end; e++)
                {
                    float gye = g[e];
                    if (inverse)
                    {
                        // x = (y − t)/s: ∂x/∂y = 1/s, ∂x/∂t = −1/s, ∂x/∂log s = −x
                        float ginv = gye / sc[e];
                        if (!gi.IsEmpty) gi[e] += ginv;
                        if (!gp.IsEmpty)
                        {
                            gp[2 * e + 1] -= ginv;
                            gp[2 * e] -= gye * ov[e] * dl[e];
                        }
                    }
                    else
                    {
                        // y = x·s + t: ∂y/∂x = s, ∂y/∂t = 1, ∂y/∂log s = x·s
                        if (!gi.IsEmpty) gi[e] += gye * sc[e];
                        if (!gp.IsEmpty)
                        {
                            gp[2 * e + 1] += gye;
                            gp[2 * e] += gye * uv[e] * sc[e] * dl[e];
                        }
                    }
                }
            });
        });
        if (!parameters.RequiresGrad) return (y, new Var<float>(logDet));
        var ld = StateNode<float, FloatJob>.Create(logDet, [parameters], job, static (job, o) =>
        {
            job.Gl = o.Grad!;
            job.GPar = job.Parameters.GradBuffer();
            ParallelRows.For(job.N, job.RowsPerPart, job, static (job, r0, r1) =>
            {
                bool inverse = job.Inverse; int k = job.K;
                var g = job.Gl!.ReadOnlySpan; var gp = job.GPar!.Span; var dl = job.DlAll!.ReadOnlySpan;
                for (int r = r0; r < r1; r++)
                {
                    float gr = inverse ? -g[r] : g[r];
                    for (int i = 0; i < k; i++) gp[2 * (r * k + i)] += gr * dl[r * k + i];
                }
            });
        });
        return (y, ld);
    }

    /// <summary>One float update's operands and kept intermediates, shared by its forward and backward row parts (no closures per step).</summary>
    private sealed class FloatJob : RecycledObject<FloatJob>
    {
        public Var<float> Input = null!, Parameters = null!;
        public AffineScale Scale;
        public bool Inverse;
        public Tensor<float> Outs = null!, LogDet = null!;
        public Tensor<float>? DlAll, SAll;
        public int N, K;
        public int RowsPerPart => RowsPerPartFor(K);
        public Tensor<float>? Gy, Gl, GIn, GPar; // the backward pass's gradients, set before its row parts run

        protected override void Reset() => (Input, Parameters, Outs, LogDet, DlAll, SAll, Gy, Gl, GIn, GPar) = (null!, null!, null!, null!, null, null, null, null, null, null);
    }

    private static int RowsPerPartFor(int k) => Math.Max(1, 4096 / Math.Max(1, k));

    /// <summary>
    /// Forward update of rows [r0, r1), in blocks of whole rows of about <see cref="Chunk"/> elements: the raw scales
    /// and shifts are de-interleaved, the scale map runs vectorised, the update y = fma(x, s, t) is one rounding in
    /// float (as exact as double); the inverse (y − t)/s runs in double (y − t cancels), eight lanes at a time with
    /// AVX-512, else four; log-dets are summed per row in double.
    /// </summary>
    private static unsafe void ForwardRows(Tensor<float> u, Tensor<float> p, AffineScale scale, bool inverse, Tensor<float> outs, Tensor<float> logDet,
        Tensor<float>? dlAll, Tensor<float>? sAll, int k, int r0, int r1)
    {
        int rowsPerBlock = Math.Max(1, Chunk / k), cap = rowsPerBlock * k;
        float* raw = stackalloc float[cap], sh = stackalloc float[cap], l = stackalloc float[cap], dlBuf = stackalloc float[cap], sBuf = stackalloc float[cap];
        fixed (float* us0 = u.ReadOnlySpan, ps0 = p.ReadOnlySpan, os0 = outs.Span, ls = logDet.Span)
        fixed (float* dlA = dlAll is null ? default : dlAll.Span, sA = sAll is null ? default : sAll.Span)
        {
            for (int rb = r0; rb < r1; rb += rowsPerBlock)
            {
                int re = Math.Min(r1, rb + rowsPerBlock), e0 = rb * k, m = (re - rb) * k;
                float* dl = dlA is null ? dlBuf : dlA + e0;
                float* sc = sA is null ? sBuf : sA + e0;
                Interleave.Split(ps0 + 2 * e0, raw, sh, m);
                // the derivative only where a backward pass will read it
                scale.Evaluate(new ReadOnlySpan<float>(raw, m), new Span<float>(l, m), dlA is null ? default : new Span<float>(dl, m), new Span<float>(sc, m));
                float* us = us0 + e0, os = os0 + e0;
                int j = 0;
                if (inverse)
                {
                    if (Avx512F.IsSupported)
                        for (; j + 8 <= m; j += 8)
                        {
                            var y = Avx512F.ConvertToVector512Double(Avx.LoadVector256(us + j));
                            var t = Avx512F.ConvertToVector512Double(Avx.LoadVector256(sh + j));
                            var s = Avx512F.ConvertToVector512Double(Avx.LoadVector256(sc + j));
                            Avx.Store(os + j, Avx512F.ConvertToVector256Single(Avx512F.Divide(Avx512F.Subtract(y, t), s)));
                        }
                    if (Avx.IsSupported)
                        for (; j + 4 <= m; j += 4)
                        {
                            var y = Avx.ConvertToVector256Double(Sse.LoadVector128(us + j));
                            var t = Avx.ConvertToVector256Double(Sse.LoadVector128(sh + j));
                            var s = Avx.ConvertToVector256Double(Sse.LoadVector128(sc + j));
                            Sse.Store(os + j, Avx.ConvertToVector128Single(Avx.Divide(Avx.Subtract(y, t), s)));
                        }
                    for (; j < m; j++) os[j] = (float)((us[j] - (double)sh[j]) / sc[j]);
                }
                else
                {
                    if (Avx512F.IsSupported)
                        for (; j + 16 <= m; j += 16)
                            Avx512F.Store(os + j, Avx512F.FusedMultiplyAdd(Avx512F.LoadVector512(us + j), Avx512F.LoadVector512(sc + j), Avx512F.LoadVector512(sh + j)));
                    if (Fma.IsSupported)
                        for (; j + 8 <= m; j += 8)
                            Avx.Store(os + j, Fma.MultiplyAdd(Avx.LoadVector256(us + j), Avx.LoadVector256(sc + j), Avx.LoadVector256(sh + j)));
                    for (; j < m; j++) os[j] = MathF.FusedMultiplyAdd(us[j], sc[j], sh[j]);
                }
                float* lr = l;
                for (int r = rb; r < re; r++, lr += k)
                {
                    double sum = 0;
                    for (int i = 0; i < k; i++) sum += lr[i];
                    ls[r] = (float)(inverse ? -sum : sum);
                }
            }
        }
    }
}
