using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using NormalizingFlows.Tensors.Kernels;

namespace NormalizingFlows.Transforms.Splines;

using V = Vector256<float>;
using VD = Vector256<double>;

/// <summary>
/// The float32 fast path (AVX2 + FMA): 8 elements at a time in structure-of-arrays form. Each block's parameters are
/// transposed in registers (8×8 transposes) into one vector per parameter index, the softmax/softplus run on 8
/// splines at once (vectorised exp/log), the bin is found by SIMD compares with per-lane blends of the bin's knots,
/// and the rational-quadratic formulas and their reverse-mode derivatives run lane-wise; tails and NaN by blend
/// masks. The math is that of the double path (the reference), term by term. Precision: knots, log-derivatives and
/// gradients in float; the output value of the forward (y = yₖ + num/den) and the inverse's root (ξ from the
/// quadratic, x = xₖ + ξ·wₖ) in double on the float knots, so that float round trips stay within the rounding of y
/// amplified by the map's conditioning (as with double internals). The results are those of the exact spline with
/// its knots moved by a few float ulps of the bound: a bin of the minimum size (1e-3 of the interval) has its width
/// and height, and so f', off by up to ~1e-4 relative.
/// </summary>
public sealed partial class RationalQuadraticSpline
{
    /// <summary>Parameters are transposed in 8×8 tiles: 8 parameter indices at a time.</summary>
    private const int ChunkWidth = 8;
    private const int MaxFastBins = 64;
    private const int MaxLanes = 16;

    internal enum FloatOp { Forward, Inverse, ForwardBackward, InverseBackward }

    private bool UseFloatPath => VectorMath.IsSupported && Bins <= MaxFastBins;

    /// <summary>Per-spline constants of the block kernels, rounded to float.</summary>
    internal readonly struct FloatSetup
    {
        public readonly int K, M, Chunks;
        public readonly bool Identity;
        public readonly float Left, Right, Bottom, Top, Mw, Sw, Mh, Sh, MinD;

        public FloatSetup(RationalQuadraticSpline s)
        {
            K = s.Bins; M = s.ParametersPerElement; Chunks = (M + ChunkWidth - 1) / ChunkWidth;
            var dom = s.Domain;
            Identity = dom.IdentityTails;
            Left = (float)dom.Left; Right = (float)dom.Right; Bottom = (float)dom.Bottom; Top = (float)dom.Top;
            Sw = (float)((dom.Right - dom.Left) * (1 - s._minWidth * K)); Mw = (float)((dom.Right - dom.Left) * s._minWidth);
            Sh = (float)((dom.Top - dom.Bottom) * (1 - s._minHeight * K)); Mh = (float)((dom.Top - dom.Bottom) * s._minHeight);
            MinD = (float)s._minDerivative;
        }

        /// <summary>Vectors of scratch per block: parameters and gradients (Chunks·8 each), shares, bin sizes, knots.</summary>
        public int ScratchVectors => 16 * Chunks + 6 * K + 2;

        /// <summary>Bytes of scratch per block for vectors of up to 64 bytes.</summary>
        public int ScratchBytes => 64 * ScratchVectors;
    }

    /// <summary>
    /// Runs one of the four operations on float data. Forward/Inverse: a = input, o1 = output, o2 = log-det.
    /// Backwards: a = input, g1 = output gradient, g2 = log-det gradient, o1 += input gradient, gp += parameter gradient.
    /// 16 elements per block with AVX-512, else 8.
    /// </summary>
    private unsafe void RunFloat(FloatOp op, ReadOnlySpan<float> a, ReadOnlySpan<float> p, ReadOnlySpan<float> g1, ReadOnlySpan<float> g2,
        Span<float> o1, Span<float> o2, Span<float> gp)
    {
        if (Avx512Kernels.IsSupported) RunFloat(op, a, p, g1, g2, o1, o2, gp, Avx512Kernels.Width, &Avx512Kernels.Block);
        else RunFloat(op, a, p, g1, g2, o1, o2, gp, Avx2Kernels.Width, &Avx2Kernels.Block);
    }

    private unsafe void RunFloat(FloatOp op, ReadOnlySpan<float> a, ReadOnlySpan<float> p, ReadOnlySpan<float> g1, ReadOnlySpan<float> g2,
        Span<float> o1, Span<float> o2, Span<float> gp, int lanes,
        delegate*<FloatOp, in FloatSetup, float*, float*, float*, float*, float*, float*, float*, byte*, void> block)
    {
        var c = new FloatSetup(this);
        int n = a.Length, m = c.M, pad = c.Chunks * ChunkWidth - m;
        byte* scratch = stackalloc byte[c.ScratchBytes];
        fixed (float* pa = a, pp = p, pg1 = g1, pg2 = g2, po1 = o1, po2 = o2, pgp = gp)
        {
            int i = 0;
            // Full blocks read (and, for the gradient, rewrite unchanged) `pad` floats past their last element's
            // parameters; those blocks whose overhang stays inside the arrays run in place.
            for (; i + lanes <= n && (long)(i + lanes) * m + pad <= p.Length; i += lanes)
            {
                long pi = (long)i * m;
                block(op, in c, pa + i, pp + pi, pg1 + i, pg2 + i, po1 + i, po2 + i, pgp + pi, scratch);
            }
            if (i == n) return;
            // The rest through zero-padded copies (zero inputs and parameters are inside the domain and finite).
            int tp = lanes * m + pad;
            float* ta = stackalloc float[MaxLanes], tg1 = stackalloc float[MaxLanes], tg2 = stackalloc float[MaxLanes];
            float* to1 = stackalloc float[MaxLanes], to2 = stackalloc float[MaxLanes];
            float* tpar = stackalloc float[tp], tgp = stackalloc float[tp];
            bool backward = op is FloatOp.ForwardBackward or FloatOp.InverseBackward;
            for (; i < n; i += lanes)
            {
                int r = Math.Min(lanes, n - i);
                new Span<float>(ta, lanes).Clear(); new Span<float>(tg1, lanes).Clear(); new Span<float>(tg2, lanes).Clear();
                new Span<float>(to1, lanes).Clear(); new Span<float>(to2, lanes).Clear();
                new Span<float>(tpar, tp).Clear(); new Span<float>(tgp, tp).Clear();
                a.Slice(i, r).CopyTo(new Span<float>(ta, r));
                p.Slice(i * m, r * m).CopyTo(new Span<float>(tpar, r * m));
                if (backward)
                {
                    g1.Slice(i, r).CopyTo(new Span<float>(tg1, r));
                    g2.Slice(i, r).CopyTo(new Span<float>(tg2, r));
                }
                block(op, in c, ta, tpar, tg1, tg2, to1, to2, tgp, scratch);
                if (backward)
                {
                    for (int l = 0; l < r; l++) po1[i + l] += to1[l];
                    for (int j = 0; j < r * m; j++) pgp[(long)i * m + j] += tgp[j];
                }
                else
                {
                    for (int l = 0; l < r; l++) { po1[i + l] = to1[l]; po2[i + l] = to2[l]; }
                }
            }
        }
    }

    /// <summary>The block kernels on Vector256 (AVX2 + FMA): 8 elements per block.</summary>
    internal static unsafe partial class Avx2Kernels
    {
        /// <summary>Elements per block.</summary>
        public const int Width = 8;

        /// <summary>True when these kernels can run.</summary>
        public static bool IsSupported => VectorMath.IsSupported;

        // <generic> (RationalQuadraticSpline.Float512.g.cs is generated from this section with Vector512: tools/NormalizingFlows.Generators)

        public static unsafe void Block(FloatOp op, in FloatSetup c, float* a, float* p, float* g1, float* g2, float* o1, float* o2, float* gp, byte* bytes)
        {
            var scratch = (V*)bytes;
            switch (op)
            {
                case FloatOp.Forward: BlockForward(in c, a, p, o1, o2, scratch); break;
                case FloatOp.Inverse: BlockInverse(in c, a, p, o1, o2, scratch); break;
                case FloatOp.ForwardBackward: BlockForwardBackward(in c, a, p, g1, g2, o1, gp, scratch); break;
                default: BlockInverseBackward(in c, a, p, g1, g2, o1, gp, scratch); break;
            }
        }


        // ------------------------------------------------------------------------------------------ block kernels

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private static unsafe void BlockForward(in FloatSetup c, float* a, float* p, float* y, float* ld, V* scratch)
        {
            var x = Vector256.Load(a);
            var inside = Vector256.GreaterThanOrEqual(x, Vector256.Create(c.Left)) & Vector256.LessThanOrEqual(x, Vector256.Create(c.Right));
            var nan = Vector256.IsNaN(x);
            if (c.Identity && inside == V.Zero)
            {
                x.Store(y);
                Blend(V.Zero, x, nan).Store(ld); // NaN stays NaN, else 0
                return;
            }
            var k = new FloatKnots(in c, p, scratch);
            var xc = Min(Max(x, Vector256.Create(c.Left)), Vector256.Create(c.Right)); // NaN → Left
            SelectBin(in c, xc, k.Cw, k, out var xk, out var wk, out var yk, out var hk, out var dk, out var dk1, out _, out _);
            var yIn = Narrow(LocalYD(Lo(xc), Lo(xk), Lo(wk), Lo(yk), Lo(hk), Lo(dk), Lo(dk1)),
                             LocalYD(Hi(xc), Hi(xk), Hi(wk), Hi(yk), Hi(hk), Hi(dk), Hi(dk1)));
            var xi = Clamp01((xc - xk) / wk);
            var ldIn = Log(LocalSlope(xi, wk, hk, dk, dk1));
            V yOut, ldOut;
            if (c.Identity)
            {
                yOut = Blend(x, yIn, inside);
                ldOut = Blend(Blend(V.Zero, x, nan), ldIn, inside);
            }
            else
            {
                var below = Vector256.LessThan(x, Vector256.Create(c.Left));
                var above = Vector256.GreaterThan(x, Vector256.Create(c.Right));
                var d0 = k.D0; var dK = k.DK;
                yOut = Blend(x, yIn, inside);
                yOut = Blend(yOut, MulAdd(d0, x - Vector256.Create(c.Left), Vector256.Create(c.Bottom)), below);
                yOut = Blend(yOut, MulAdd(dK, x - Vector256.Create(c.Right), Vector256.Create(c.Top)), above);
                ldOut = Blend(x, ldIn, inside);
                ldOut = Blend(ldOut, Log(d0), below);
                ldOut = Blend(ldOut, Log(dK), above);
            }
            yOut.Store(y);
            ldOut.Store(ld);
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private static unsafe void BlockInverse(in FloatSetup c, float* a, float* p, float* x, float* ld, V* scratch)
        {
            var y = Vector256.Load(a);
            var inside = Vector256.GreaterThanOrEqual(y, Vector256.Create(c.Bottom)) & Vector256.LessThanOrEqual(y, Vector256.Create(c.Top));
            var nan = Vector256.IsNaN(y);
            if (c.Identity && inside == V.Zero)
            {
                y.Store(x);
                Blend(V.Zero, y, nan).Store(ld);
                return;
            }
            var k = new FloatKnots(in c, p, scratch);
            var yc = Min(Max(y, Vector256.Create(c.Bottom)), Vector256.Create(c.Top));
            SelectBin(in c, yc, k.Ch, k, out var xk, out var wk, out var yk, out var hk, out var dk, out var dk1, out _, out _);
            InverseRoot(yc, xk, wk, yk, hk, dk, dk1, out var xIn, out var xi);
            var ldIn = -Log(LocalSlope(xi, wk, hk, dk, dk1));
            V xOut, ldOut;
            if (c.Identity)
            {
                xOut = Blend(y, xIn, inside);
                ldOut = Blend(Blend(V.Zero, y, nan), ldIn, inside);
            }
            else
            {
                var below = Vector256.LessThan(y, Vector256.Create(c.Bottom));
                var above = Vector256.GreaterThan(y, Vector256.Create(c.Top));
                var d0 = k.D0; var dK = k.DK;
                xOut = Blend(y, xIn, inside);
                xOut = Blend(xOut, Vector256.Create(c.Left) + (y - Vector256.Create(c.Bottom)) / d0, below);
                xOut = Blend(xOut, Vector256.Create(c.Right) + (y - Vector256.Create(c.Top)) / dK, above);
                ldOut = Blend(y, ldIn, inside);
                ldOut = Blend(ldOut, -Log(d0), below);
                ldOut = Blend(ldOut, -Log(dK), above);
            }
            xOut.Store(x);
            ldOut.Store(ld);
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private static unsafe void BlockForwardBackward(in FloatSetup c, float* a, float* p, float* g1, float* g2, float* gx, float* gp, V* scratch)
        {
            var x = Vector256.Load(a);
            var gy = Vector256.Load(g1); var gl = Vector256.Load(g2);
            var inside = Vector256.GreaterThanOrEqual(x, Vector256.Create(c.Left)) & Vector256.LessThanOrEqual(x, Vector256.Create(c.Right));
            var nan = Vector256.IsNaN(x);
            if (c.Identity && inside == V.Zero)
            {
                (Vector256.Load(gx) + Blend(gy, x, nan)).Store(gx);
                return;
            }
            var k = new FloatKnots(in c, p, scratch);
            var xc = Min(Max(x, Vector256.Create(c.Left)), Vector256.Create(c.Right));
            SelectBin(in c, xc, k.Cw, k, out var xk, out var wk, out var yk, out var hk, out var dk, out var dk1, out var sk, out var sk1);
            // x lies in its bin, so ξ ∈ [0, 1] (the double path's clamped case cannot occur)
            var xi = Clamp01((xc - xk) / wk);
            var gyi = gy & inside; var gli = gl & inside;
            LocalBackward(xi, wk, hk, dk, dk1, gyi, gli, out var gX, out var gXk, out var gWk, out var gHk, out var gDk, out var gDk1);
            V gxOut, tail0 = V.Zero, tailK = V.Zero;
            if (c.Identity) gxOut = Blend(Blend(gy, x, nan), gX, inside);
            else
            {
                var below = Vector256.LessThan(x, Vector256.Create(c.Left));
                var above = Vector256.GreaterThan(x, Vector256.Create(c.Right));
                var d0 = k.D0; var dK = k.DK;
                gxOut = Blend(x, gX, inside);
                gxOut = Blend(gxOut, gy * d0, below);
                gxOut = Blend(gxOut, gy * dK, above);
                tail0 = MulAdd(gy, x - Vector256.Create(c.Left), gl / d0) * k.Sg0 & below;
                tailK = MulAdd(gy, x - Vector256.Create(c.Right), gl / dK) * k.SgK & above;
            }
            (Vector256.Load(gx) + gxOut).Store(gx);
            Chain(in c, k, xc, k.Cw, gXk * Vector256.Create(c.Sw), gWk * Vector256.Create(c.Sw), gyi * Vector256.Create(c.Sh), gHk * Vector256.Create(c.Sh), gDk * sk, gDk1 * sk1, tail0, tailK, gp);
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private static unsafe void BlockInverseBackward(in FloatSetup c, float* a, float* p, float* g1, float* g2, float* gy, float* gp, V* scratch)
        {
            var y = Vector256.Load(a);
            var gx = Vector256.Load(g1); var gl = Vector256.Load(g2);
            var inside = Vector256.GreaterThanOrEqual(y, Vector256.Create(c.Bottom)) & Vector256.LessThanOrEqual(y, Vector256.Create(c.Top));
            var nan = Vector256.IsNaN(y);
            if (c.Identity && inside == V.Zero)
            {
                (Vector256.Load(gy) + Blend(gx, y, nan)).Store(gy);
                return;
            }
            var k = new FloatKnots(in c, p, scratch);
            var yc = Min(Max(y, Vector256.Create(c.Bottom)), Vector256.Create(c.Top));
            SelectBin(in c, yc, k.Ch, k, out var xk, out var wk, out var yk, out var hk, out var dk, out var dk1, out var sk, out var sk1);
            InverseRoot(yc, xk, wk, yk, hk, dk, dk1, out _, out var xi);
            var gxi = gx & inside; var gli = gl & inside;
            // L = log f'(x; θ) at x = f⁻¹(y; θ); outputs x and −L; q = (gx − gl·∂L/∂x)/f'
            LocalBackward(xi, wk, hk, dk, dk1, V.Zero, V.One, out var lx, out _, out _, out _, out _, out _);
            var q = NegMulAdd(gli, lx, gxi) / LocalSlope(xi, wk, hk, dk, dk1);
            LocalBackward(xi, wk, hk, dk, dk1, -q, -gli, out _, out var gXk, out var gWk, out var gHk, out var gDk, out var gDk1);
            V gyOut, tail0 = V.Zero, tailK = V.Zero;
            if (c.Identity) gyOut = Blend(Blend(gx, y, nan), q, inside);
            else
            {
                var below = Vector256.LessThan(y, Vector256.Create(c.Bottom));
                var above = Vector256.GreaterThan(y, Vector256.Create(c.Top));
                var d0 = k.D0; var dK = k.DK;
                gyOut = Blend(y, q, inside);
                gyOut = Blend(gyOut, gx / d0, below);
                gyOut = Blend(gyOut, gx / dK, above);
                // x = edgeX + (y − edgeY)/d, logdet = −ln d
                tail0 = (-gx * (y - Vector256.Create(c.Bottom)) / (d0 * d0) - gl / d0) * k.Sg0 & below;
                tailK = (-gx * (y - Vector256.Create(c.Top)) / (dK * dK) - gl / dK) * k.SgK & above;
            }
            (Vector256.Load(gy) + gyOut).Store(gy);
            Chain(in c, k, yc, k.Ch, gXk * Vector256.Create(c.Sw), gWk * Vector256.Create(c.Sw), -q * Vector256.Create(c.Sh), gHk * Vector256.Create(c.Sh), gDk * sk, gDk1 * sk1, tail0, tailK, gp);
        }

        // ------------------------------------------------------------------------------------------ shared pieces

        /// <summary>
        /// Pointers into the block scratch: parameters (SoA), gradients, shares, bin sizes, knots; and, without identity
        /// tails, the end derivatives and their softplus' sigmoids. Inner derivatives are computed only for the selected bin.
        /// </summary>
        private readonly unsafe struct FloatKnots
        {
            public readonly V* P, G, Smw, Smh, W, H, Cw, Ch;
            public readonly V D0, DK, Sg0, SgK;

            [MethodImpl(MethodImplOptions.AggressiveInlining)]
            public FloatKnots(in FloatSetup c, float* p, V* scratch)
            {
                int k = c.K, cl = c.Chunks * ChunkWidth;
                P = scratch; G = P + cl; Smw = G + cl; Smh = Smw + k; W = Smh + k; H = W + k; Cw = H + k; Ch = Cw + k + 1;
                for (int q = 0; q < c.Chunks; q++) LoadTransposed(p + q * ChunkWidth, c.M, P + q * ChunkWidth);
                Softmax(P, k, Smw);
                Softmax(P + k, k, Smh);
                Cumulate(Smw, k, c.Left, c.Right, c.Mw, c.Sw, W, Cw);
                Cumulate(Smh, k, c.Bottom, c.Top, c.Mh, c.Sh, H, Ch);
                if (c.Identity) { D0 = DK = V.One; Sg0 = SgK = V.Zero; }
                else
                {
                    var minD = Vector256.Create(c.MinD);
                    SoftplusSigmoid(P[2 * k], minD, out D0, out Sg0);
                    SoftplusSigmoid(P[3 * k], minD, out DK, out SgK);
                }
            }
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static unsafe void Softmax(V* u, int k, V* sm)
        {
            var mx = u[0];
            for (int j = 1; j < k; j++) mx = Max(mx, u[j]);
            mx = mx & Vector256.Equals(mx - mx, V.Zero); // a non-finite maximum is treated as 0
            var sum = V.Zero;
            for (int j = 0; j < k; j++) { var e = Exp(u[j] - mx); sm[j] = e; sum += e; }
            var inv = V.One / sum;
            for (int j = 0; j < k; j++) sm[j] *= inv;
        }

        /// <summary>
        /// Knots: the cumulative sum of min + scale·share with the last one pinned (as the double path); bin sizes as the
        /// knots' differences, so that the bins tile the interval exactly and ξ stays in [0, 1] for any x in its bin.
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static unsafe void Cumulate(V* sm, int k, float start, float end, float min, float scale, V* sizes, V* knots)
        {
            var acc = Vector256.Create(start); var mn = Vector256.Create(min); var sc = Vector256.Create(scale);
            knots[0] = acc;
            for (int j = 0; j < k; j++) { acc = MulAdd(sc, sm[j], acc + mn); knots[j + 1] = acc; }
            knots[k] = Vector256.Create(end);
            for (int j = 0; j < k; j++) sizes[j] = knots[j + 1] - knots[j];
        }

        /// <summary>d = min + softplus(u) and σ(u) = dd/du, sharing e = exp(−|u|) (the JIT drops σ where unused).</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void SoftplusSigmoid(V u, V minD, out V d, out V sg)
        {
            var e = Exp(u | Vector256.Create(-0f));
            var onePlus = e + V.One;
            var r = V.One / onePlus;
            var log1p = Log(onePlus) + (e - (onePlus - V.One)) * r; // rounding of 1 + e corrected
            d = minD + Max(u, V.Zero) + log1p;
            sg = Blend(e * r, r, Vector256.GreaterThanOrEqual(u, V.Zero));
        }

        /// <summary>
        /// Per lane: the bin b (largest j ≤ K − 1 with v ≥ search[j]), its knot, width, height, and the derivatives at its
        /// two knots with their softplus' sigmoids (0 for a knot fixed to 1 by identity tails); only the two selected
        /// derivative parameters go through the softplus.
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static unsafe void SelectBin(in FloatSetup c, V v, V* search, in FloatKnots kn, out V xk, out V wk, out V yk, out V hk,
            out V dk, out V dk1, out V sk, out V sk1)
        {
            int k = c.K;
            V* cw = kn.Cw, ch = kn.Ch, w = kn.W, h = kn.H;
            // raw parameter of knot j: P[dOff + j] (j = 1 … K − 1 with identity tails, 0 … K otherwise)
            V* dp = kn.P + (c.Identity ? 2 * k - 1 : 2 * k);
            V x0 = cw[0], w0 = w[0], y0 = ch[0], h0 = h[0];
            V u0 = c.Identity ? V.Zero : dp[0];
            V u1 = c.Identity && k == 1 ? V.Zero : dp[1];
            V first = V.Zero, last = V.Zero; // lanes in bin ≥ 1 and in bin K − 1
            for (int j = 1; j < k; j++)
            {
                var msk = Vector256.GreaterThanOrEqual(v, search[j]);
                x0 = Blend(x0, cw[j], msk); w0 = Blend(w0, w[j], msk);
                y0 = Blend(y0, ch[j], msk); h0 = Blend(h0, h[j], msk);
                u0 = Blend(u0, dp[j], msk);
                if (j + 1 < k || !c.Identity) u1 = Blend(u1, dp[j + 1], msk);
                if (j == 1) first = msk;
                last = msk;
            }
            xk = x0; wk = w0; yk = y0; hk = h0;
            var minD = Vector256.Create(c.MinD);
            SoftplusSigmoid(u0, minD, out dk, out sk);
            SoftplusSigmoid(u1, minD, out dk1, out sk1);
            if (c.Identity)
            {
                // knot 0 (lanes in bin 0) and knot K (lanes in bin K − 1) have derivative 1 and no parameter
                var fixed0 = k == 1 ? V.AllBitsSet : ~first;
                var fixed1 = k == 1 ? V.AllBitsSet : last;
                dk = Blend(dk, V.One, fixed0); sk = AndNot(fixed0, sk);
                dk1 = Blend(dk1, V.One, fixed1); sk1 = AndNot(fixed1, sk1);
            }
        }

        /// <summary>
        /// Chains the bin-local gradients through the knot cumsums and softmax shares (widths, heights) into the parameter
        /// gradients of the block, places those of the derivative parameters (gDk, gDk1 and the tails' already through the
        /// softplus) at the bin's knots, then adds them all (transposed back) into gp.
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static unsafe void Chain(in FloatSetup c, in FloatKnots kn, V v, V* search, V gBeforeW, V gAtW, V gBeforeH, V gAtH, V gDk, V gDk1,
            V tail0, V tailK, float* gp)
        {
            int k = c.K, m = c.M;
            V* g = kn.G; V* smw = kn.Smw; V* smh = kn.Smh;
            V dotW = V.Zero, dotH = V.Zero;
            var geCur = V.AllBitsSet; // v ≥ search[0]: lanes whose bin is ≥ j
            var eqPrev = V.Zero;      // lanes whose bin is j − 1
            int dOff = c.Identity ? 2 * k - 1 : 2 * k;
            for (int j = 0; j < k; j++)
            {
                var geNext = j + 1 < k ? Vector256.GreaterThanOrEqual(v, search[j + 1]) : V.Zero; // bin > j
                var eq = AndNot(geNext, geCur);                                                 // bin == j
                var gw = Blend(gAtW & eq, gBeforeW, geNext);
                var gh = Blend(gAtH & eq, gBeforeH, geNext);
                dotW = MulAdd(smw[j], gw, dotW);
                dotH = MulAdd(smh[j], gh, dotH);
                g[j] = gw; g[k + j] = gh;
                var gd = (gDk & eq) + (gDk1 & eqPrev);
                if (j == 0) gd += tail0;
                if (!c.Identity || j > 0) g[dOff + j] = gd;
                geCur = geNext; eqPrev = eq;
            }
            if (!c.Identity) g[dOff + k] = (gDk1 & eqPrev) + tailK;
            for (int j = 0; j < k; j++)
            {
                g[j] = smw[j] * (g[j] - dotW);
                g[k + j] = smh[j] * (g[k + j] - dotH);
            }
            for (int j = m; j < c.Chunks * ChunkWidth; j++) g[j] = V.Zero;
            for (int q = 0; q < c.Chunks; q++) AddTransposed(g + q * ChunkWidth, gp + q * ChunkWidth, m);
        }

        // ------------------------------------------------------------------------------------------ bin-local maths

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static V Clamp01(V v) => Min(Max(v, V.Zero), V.One);

        /// <summary>f'(x) inside the bin at ξ: s²·(dₖ₊₁ξ² + 2sξ(1−ξ) + dₖ(1−ξ)²)/den².</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static V LocalSlope(V xi, V wk, V hk, V dk, V dk1)
        {
            var s = hk / wk;
            var t = xi - xi * xi;
            var den = MulAdd(dk1 + dk - (s + s), t, s);
            var omx = V.One - xi;
            var pp = MulAdd(dk1 * xi, xi, MulAdd((s + s), t, dk * omx * omx));
            var r = s / den;
            return r * r * pp;
        }

        /// <summary>y = yₖ + hₖ(sξ² + dₖξ(1−ξ))/den in double (4 lanes), ξ clamped to [0, 1].</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static VD LocalYD(VD x, VD xk, VD wk, VD yk, VD hk, VD dk, VD dk1)
        {
            var xi = Min(Max((x - xk) / wk, VD.Zero), VD.One);
            var s = hk / wk;
            var t = xi * (VD.One - xi);
            var den = s + (dk1 + dk - (s + s)) * t;
            var num = hk * (s * xi * xi + dk * t);
            return yk + num / den;
        }

        /// <summary>ξ ∈ [0, 1] (root of the bin's quadratic, stable form) in double (4 lanes).</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static VD LocalInverseXiD(VD y, VD wk, VD yk, VD hk, VD dk, VD dk1)
        {
            var s = hk / wk;
            var dy = y - yk;
            var c2 = dk1 + dk - (s + s);
            var a = hk * (s - dk) + dy * c2;
            var b = hk * dk - dy * c2;
            var c = -s * dy;
            var disc = Max(b * b - Vector256.Create(4.0) * a * c, VD.Zero);
            var denom = -b - Sqrt(disc);
            var xi = (c + c) / denom;
            xi = Blend(xi, VD.Zero, Vector256.Equals(denom, VD.Zero));
            return Min(Max(xi, VD.Zero), VD.One);
        }

        /// <summary>x = xₖ + ξ·wₖ with ξ the root, both in double; returns x and ξ rounded to float.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void InverseRoot(V y, V xk, V wk, V yk, V hk, V dk, V dk1, out V x, out V xi)
        {
            var xiLo = LocalInverseXiD(Lo(y), Lo(wk), Lo(yk), Lo(hk), Lo(dk), Lo(dk1));
            var xiHi = LocalInverseXiD(Hi(y), Hi(wk), Hi(yk), Hi(hk), Hi(dk), Hi(dk1));
            x = Narrow(Lo(xk) + xiLo * Lo(wk), Hi(xk) + xiHi * Hi(wk));
            xi = Narrow(xiLo, xiHi);
        }

        /// <summary>
        /// Reverse-mode derivatives of (y, logDet) of the bin-local map (as the double LocalBackward) at ξ ∈ [0, 1] for
        /// upstream gradients (gy, gl). The yₖ gradient is gy. ξ is never genuinely clamped here (x lies in its bin).
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void LocalBackward(V xi, V wk, V hk, V dk, V dk1, V gy, V gl,
            out V gX, out V gXk, out V gWk, out V gHk, out V gDk, out V gDk1)
        {
            var rwk = V.One / wk;
            var s = hk * rwk;
            var xi2 = xi * xi;
            var t = xi - xi2;
            var c = dk1 + dk - (s + s);
            var den = MulAdd(c, t, s);
            var a = MulAdd(s, xi2, dk * t);
            var omx = V.One - xi;
            var pp = MulAdd(dk1, xi2, MulAdd(s + s, t, dk * omx * omx));
            var rden = V.One / den;

            var gNum = gy * rden;
            var gDen = -(gNum * hk * a + (gl + gl)) * rden;  // −gy·num/den² − 2gl/den
            var gP = gl / pp;
            var gS = (gl + gl) / s;
            var gD1 = gP * xi2;
            gS = MulAdd(gP + gP, t, gS);
            var gT = gP * (s + s);
            var gD = gP * omx * omx;
            var gXi = (gP + gP) * NegMulAdd(dk, omx, dk1 * xi);
            var gH = gNum * a;
            var gA = gNum * hk;
            gS = MulAdd(gA, xi2, gS);
            gXi = MulAdd(gA * (s + s), xi, gXi);
            gD = MulAdd(gA, t, gD);
            gT = MulAdd(gA, dk, gT);
            gS += gDen;
            var gC = gDen * t;
            gT = MulAdd(gDen, c, gT);
            gD1 += gC;
            gD += gC;
            gS -= gC + gC;
            gXi = MulAdd(gT, V.One - (xi + xi), gXi);
            gH = MulAdd(gS, rwk, gH);
            var gW = -gS * hk * rwk * rwk;
            gX = gXi * rwk;
            gXk = -gX;
            gWk = NegMulAdd(gX, xi, gW);
            gHk = gH; gDk = gD; gDk1 = gD1;
        }

        // </generic>

        // ------------------------------------------------------------------------------------------ width-specific helpers

        [MethodImpl(MethodImplOptions.AggressiveInlining)] private static V Exp(V x) => VectorMath.Exp(x);
        [MethodImpl(MethodImplOptions.AggressiveInlining)] private static V Log(V x) => VectorMath.Log(x);
        [MethodImpl(MethodImplOptions.AggressiveInlining)] private static V Blend(V ifClear, V ifSet, V mask) => Avx.BlendVariable(ifClear, ifSet, mask);
        [MethodImpl(MethodImplOptions.AggressiveInlining)] private static VD Blend(VD ifClear, VD ifSet, VD mask) => Avx.BlendVariable(ifClear, ifSet, mask);
        /// <summary>maxps: the second operand where either is NaN.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)] private static V Max(V a, V b) => Avx.Max(a, b);
        [MethodImpl(MethodImplOptions.AggressiveInlining)] private static V Min(V a, V b) => Avx.Min(a, b);
        [MethodImpl(MethodImplOptions.AggressiveInlining)] private static VD Max(VD a, VD b) => Avx.Max(a, b);
        [MethodImpl(MethodImplOptions.AggressiveInlining)] private static VD Min(VD a, VD b) => Avx.Min(a, b);
        [MethodImpl(MethodImplOptions.AggressiveInlining)] private static V MulAdd(V a, V b, V c) => Fma.MultiplyAdd(a, b, c);
        /// <summary>c − a·b.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)] private static V NegMulAdd(V a, V b, V c) => Fma.MultiplyAddNegated(a, b, c);
        /// <summary>~a &amp; b.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)] private static V AndNot(V a, V b) => Avx.AndNot(a, b);
        [MethodImpl(MethodImplOptions.AggressiveInlining)] private static VD Sqrt(VD a) => Avx.Sqrt(a);

        // ------------------------------------------------------------------------------------------ data movement (width-specific)

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static VD Lo(V v) => Avx.ConvertToVector256Double(v.GetLower());

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static VD Hi(V v) => Avx.ConvertToVector256Double(v.GetUpper());

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static V Narrow(VD lo, VD hi) => Vector256.Create(Avx.ConvertToVector128Single(lo), Avx.ConvertToVector128Single(hi));

        /// <summary>Loads an 8×8 block (rows <paramref name="stride"/> apart) and stores its transpose: dst[j] = column j.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        internal static unsafe void LoadTransposed(float* src, int stride, V* dst)
        {
            var r0 = Vector256.Load(src); var r1 = Vector256.Load(src + stride); var r2 = Vector256.Load(src + 2 * stride); var r3 = Vector256.Load(src + 3 * stride);
            var r4 = Vector256.Load(src + 4 * stride); var r5 = Vector256.Load(src + 5 * stride); var r6 = Vector256.Load(src + 6 * stride); var r7 = Vector256.Load(src + 7 * stride);
            Transpose(ref r0, ref r1, ref r2, ref r3, ref r4, ref r5, ref r6, ref r7);
            dst[0] = r0; dst[1] = r1; dst[2] = r2; dst[3] = r3; dst[4] = r4; dst[5] = r5; dst[6] = r6; dst[7] = r7;
        }

        /// <summary>Adds the transpose of src[0..8) into the 8×8 block at dst (rows <paramref name="stride"/> apart), row by row.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        internal static unsafe void AddTransposed(V* src, float* dst, int stride)
        {
            V r0 = src[0], r1 = src[1], r2 = src[2], r3 = src[3], r4 = src[4], r5 = src[5], r6 = src[6], r7 = src[7];
            Transpose(ref r0, ref r1, ref r2, ref r3, ref r4, ref r5, ref r6, ref r7);
            // in row order: a row's overhang past its parameters (zeros added) reaches the next row only after that row
            // was written, so the read-add-write of overlapping rows composes
            (Vector256.Load(dst) + r0).Store(dst);
            (Vector256.Load(dst + stride) + r1).Store(dst + stride);
            (Vector256.Load(dst + 2 * stride) + r2).Store(dst + 2 * stride);
            (Vector256.Load(dst + 3 * stride) + r3).Store(dst + 3 * stride);
            (Vector256.Load(dst + 4 * stride) + r4).Store(dst + 4 * stride);
            (Vector256.Load(dst + 5 * stride) + r5).Store(dst + 5 * stride);
            (Vector256.Load(dst + 6 * stride) + r6).Store(dst + 6 * stride);
            (Vector256.Load(dst + 7 * stride) + r7).Store(dst + 7 * stride);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        internal static void Transpose(ref V r0, ref V r1, ref V r2, ref V r3, ref V r4, ref V r5, ref V r6, ref V r7)
        {
            var t0 = Avx.UnpackLow(r0, r1); var t1 = Avx.UnpackHigh(r0, r1);
            var t2 = Avx.UnpackLow(r2, r3); var t3 = Avx.UnpackHigh(r2, r3);
            var t4 = Avx.UnpackLow(r4, r5); var t5 = Avx.UnpackHigh(r4, r5);
            var t6 = Avx.UnpackLow(r6, r7); var t7 = Avx.UnpackHigh(r6, r7);
            var s0 = Avx.Shuffle(t0, t2, 0x44); var s1 = Avx.Shuffle(t0, t2, 0xEE);
            var s2 = Avx.Shuffle(t1, t3, 0x44); var s3 = Avx.Shuffle(t1, t3, 0xEE);
            var s4 = Avx.Shuffle(t4, t6, 0x44); var s5 = Avx.Shuffle(t4, t6, 0xEE);
            var s6 = Avx.Shuffle(t5, t7, 0x44); var s7 = Avx.Shuffle(t5, t7, 0xEE);
            r0 = Avx.Permute2x128(s0, s4, 0x20); r1 = Avx.Permute2x128(s1, s5, 0x20);
            r2 = Avx.Permute2x128(s2, s6, 0x20); r3 = Avx.Permute2x128(s3, s7, 0x20);
            r4 = Avx.Permute2x128(s0, s4, 0x31); r5 = Avx.Permute2x128(s1, s5, 0x31);
            r6 = Avx.Permute2x128(s2, s6, 0x31); r7 = Avx.Permute2x128(s3, s7, 0x31);
        }
    }
}
