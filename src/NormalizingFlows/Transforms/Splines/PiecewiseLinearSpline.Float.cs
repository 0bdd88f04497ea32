using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using NormalizingFlows.Tensors.Kernels;

namespace NormalizingFlows.Transforms.Splines;

using V = Vector256<float>;
using Kern = RationalQuadraticSpline.Avx2Kernels;

/// <summary>
/// The float32 fast path (AVX2 + FMA): 8 elements per block in structure-of-arrays form (the parameter transposes of
/// the rational-quadratic kernels), vectorised softmax, bin by per-lane compares, the same formulas as the double
/// path (the reference) lane-wise, including its tail and NaN conventions.
/// </summary>
public sealed partial class PiecewiseLinearSpline
{
    private const int FloatLanes = 8;
    private const int MaxFastBins = 64;

    private bool UseFloatPath => VectorMath.IsSupported && Bins <= MaxFastBins;

    private enum PlOp { Forward, Inverse, ForwardBackward, InverseBackward }

    /// <summary>As the rational-quadratic driver: in place where the 8×8 tiles' overhang stays inside, else padded copies.</summary>
    private unsafe void RunFloat(PlOp op, ReadOnlySpan<float> a, ReadOnlySpan<float> p, ReadOnlySpan<float> g1, ReadOnlySpan<float> g2,
        Span<float> o1, Span<float> o2, Span<float> gp)
    {
        int n = a.Length, k = Bins, chunks = (k + 7) / 8, pad = chunks * 8 - k;
        bool grad = op is PlOp.ForwardBackward or PlOp.InverseBackward;
        if (grad ? g1.Length != n || g2.Length != n || gp.Length != p.Length : o2.Length != n)
            throw new ArgumentException("gradient and log-det spans must match the inputs' lengths");
        V* scratch = stackalloc V[3 * chunks * 8];
        fixed (float* pa = a, pp = p, pg1 = g1, pg2 = g2, po1 = o1, po2 = o2, pgp = gp)
        {
            int i = 0;
            for (; i + FloatLanes <= n && (long)(i + FloatLanes) * k + pad <= p.Length; i += FloatLanes)
            {
                long pi = (long)i * k;
                Block(op, pa + i, pp + pi, pg1 + i, pg2 + i, po1 + i, po2 + i, pgp + pi, scratch, chunks);
            }
            if (i == n) return;
            int tp = FloatLanes * k + pad;
            float* ta = stackalloc float[FloatLanes], tg1 = stackalloc float[FloatLanes], tg2 = stackalloc float[FloatLanes];
            float* to1 = stackalloc float[FloatLanes], to2 = stackalloc float[FloatLanes];
            float* tpar = stackalloc float[tp], tgp = stackalloc float[tp];
            bool backward = grad;
            for (; i < n; i += FloatLanes)
            {
                int r = Math.Min(FloatLanes, n - i);
                new Span<float>(ta, FloatLanes).Clear(); new Span<float>(tg1, FloatLanes).Clear(); new Span<float>(tg2, FloatLanes).Clear();
                new Span<float>(to1, FloatLanes).Clear(); new Span<float>(to2, FloatLanes).Clear();
                new Span<float>(tpar, tp).Clear(); new Span<float>(tgp, tp).Clear();
                a.Slice(i, r).CopyTo(new Span<float>(ta, r));
                p.Slice(i * k, r * k).CopyTo(new Span<float>(tpar, r * k));
                if (backward)
                {
                    g1.Slice(i, r).CopyTo(new Span<float>(tg1, r));
                    g2.Slice(i, r).CopyTo(new Span<float>(tg2, r));
                }
                Block(op, ta, tpar, tg1, tg2, to1, to2, tgp, scratch, chunks);
                if (backward)
                {
                    for (int l = 0; l < r; l++) po1[i + l] += to1[l];
                    for (int j = 0; j < r * k; j++) pgp[(long)i * k + j] += tgp[j];
                }
                else
                    for (int l = 0; l < r; l++) { po1[i + l] = to1[l]; po2[i + l] = to2[l]; }
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private unsafe void Block(PlOp op, float* a, float* p, float* g1, float* g2, float* o1, float* o2, float* gp, V* scratch, int chunks)
    {
        int k = Bins, cl = chunks * 8;
        V* u = scratch; V* sm = u + cl; V* g = sm + cl;
        for (int c = 0; c < chunks; c++) Kern.LoadTransposed(p + c * 8, k, u + c * 8);
        // shares (kept for the backward) and masses Q = min + scale·share
        var mx = u[0];
        for (int j = 1; j < k; j++) mx = Avx.Max(mx, u[j]);
        mx &= Vector256.Equals(mx - mx, V.Zero);
        var sum = V.Zero;
        for (int j = 0; j < k; j++) { var e = VectorMath.Exp(u[j] - mx); sm[j] = e; sum += e; }
        var inv = V.One / sum;
        for (int j = 0; j < k; j++) sm[j] *= inv;
        var minMass = Vector256.Create((float)_minMass);
        var scale = Vector256.Create((float)(1 - Bins * _minMass));
        var kf = Vector256.Create((float)k);
        var v = Vector256.Load(a);
        V bF, c0, qb; // bin (as float), mass before it, its mass
        bool forward = op is PlOp.Forward or PlOp.ForwardBackward;
        if (forward)
        {
            // b = min(⌊K·x⌋, K − 1) inside, 0 left (and NaN), K − 1 right. The mass before the last bin is the float
            // cumulative sum also in the right tail (the double path's 1 − Q_{K−1}, equal in exact arithmetic), as the
            // inverse uses it: the float round trip stays consistent there
            var xs = v * kf;
            bF = Avx.Min(Avx.Floor(Avx.Max(xs, V.Zero)), Vector256.Create((float)(k - 1)));
            c0 = V.Zero; qb = V.Zero;
            for (int j = 0; j < k; j++)
            {
                var q = Fma.MultiplyAdd(scale, sm[j], minMass);
                var jf = Vector256.Create((float)j);
                c0 += q & Vector256.GreaterThan(bF, jf);
                qb = Avx.BlendVariable(qb, q, Vector256.Equals(bF, jf));
            }
            var alpha = xs - bF;
            var ld = VectorMath.Log(kf * qb);
            if (op == PlOp.Forward)
            {
                Fma.MultiplyAdd(alpha, qb, c0).Store(o1);
                Avx.BlendVariable(ld, v, Vector256.IsNaN(v)).Store(o2);
                return;
            }
            var gy = Vector256.Load(g1); var gl = Vector256.Load(g2);
            // y = Σ_{j<b} Q_j + α·Q_b, logdet = log(K·Q_b)
            (Vector256.Load(o1) + gy * kf * qb).Store(o1);
            var gAt = Fma.MultiplyAdd(gy, alpha, gl / qb);
            Chain(k, bF, gy, gAt, sm, g, scale);
        }
        else
        {
            // first j ≤ K − 2 with y < C_j + Q_j (running C), else K − 1; 0 left of 0 (and NaN)
            var found = ~Vector256.GreaterThanOrEqual(v, V.Zero);
            bF = V.Zero; c0 = V.Zero; qb = Fma.MultiplyAdd(scale, sm[0], minMass);
            var run = V.Zero;
            for (int j = 0; j < k; j++)
            {
                var q = Fma.MultiplyAdd(scale, sm[j], minMass);
                var take = Avx.AndNot(found, j < k - 1 ? Vector256.LessThan(v, run + q) : V.AllBitsSet);
                bF = Avx.BlendVariable(bF, Vector256.Create((float)j), take);
                c0 = Avx.BlendVariable(c0, run, take);
                qb = Avx.BlendVariable(qb, q, take);
                found |= take;
                run += q;
            }
            var kq = kf * qb;
            var t = (v - c0) / qb;
            var ld = -VectorMath.Log(kq);
            if (op == PlOp.Inverse)
            {
                ((bF + t) / kf).Store(o1);
                Avx.BlendVariable(ld, v, Vector256.IsNaN(v)).Store(o2);
                return;
            }
            var gx = Vector256.Load(g1); var gl = Vector256.Load(g2);
            // x = (b + (y − C_b)/Q_b)/K, logdet = −log(K·Q_b)
            (Vector256.Load(o1) + gx / kq).Store(o1);
            var gBefore = -gx / kq;
            var gAt = -(gx * (v - c0) / kq + gl) / qb;
            Chain(k, bF, gBefore, gAt, sm, g, scale);
        }
        for (int j = k; j < cl; j++) g[j] = V.Zero;
        for (int c = 0; c < chunks; c++) Kern.AddTransposed(g + c * 8, gp + c * 8, k);
    }

    /// <summary>Mass gradients gBefore (bins before b) and gAt (bin b), times the scale, through the softmax into g.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void Chain(int k, V bF, V gBefore, V gAt, V* sm, V* g, V scale)
    {
        gBefore *= scale; gAt *= scale;
        var dot = V.Zero;
        for (int j = 0; j < k; j++)
        {
            var jf = Vector256.Create((float)j);
            var gj = Avx.BlendVariable(gAt & Vector256.Equals(bF, jf), gBefore, Vector256.GreaterThan(bF, jf));
            g[j] = gj;
            dot = Fma.MultiplyAdd(sm[j], gj, dot);
        }
        for (int j = 0; j < k; j++) g[j] = sm[j] * (g[j] - dot);
    }
}
