using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace NormalizingFlows.Transforms.Splines;

using V = Vector512<float>;
using VD = Vector512<double>;
using V8 = Vector256<float>;

// The AVX-512 block kernels: 16 elements per block. The section between the markers is generated from
// RationalQuadraticSpline.Float.cs (same markers) by replacing Vector256 with Vector512 — edit it there and
// regenerate with tools/sync_spline_avx512.py; the width-specific helpers below are written for Vector512.
public sealed partial class RationalQuadraticSpline
{
    /// <summary>The block kernels on Vector512 (AVX-512F): 16 elements per block.</summary>
    private static unsafe class Avx512Kernels
    {
        /// <summary>Elements per block.</summary>
        public const int Width = 16;

        /// <summary>True when these kernels can run (and 512-bit vectors are not slower than 256-bit ones).</summary>
        public static bool IsSupported => Avx512F.IsSupported && Vector512.IsHardwareAccelerated;

        // <generic> generated from RationalQuadraticSpline.Float.cs: the section between the markers with Vector256 → Vector512

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
            var x = Vector512.Load(a);
            var inside = Vector512.GreaterThanOrEqual(x, Vector512.Create(c.Left)) & Vector512.LessThanOrEqual(x, Vector512.Create(c.Right));
            var nan = Vector512.IsNaN(x);
            if (c.Identity && inside == V.Zero)
            {
                x.Store(y);
                Blend(V.Zero, x, nan).Store(ld); // NaN stays NaN, else 0
                return;
            }
            var k = new FloatKnots(in c, p, scratch);
            var xc = Min(Max(x, Vector512.Create(c.Left)), Vector512.Create(c.Right)); // NaN → Left
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
                var below = Vector512.LessThan(x, Vector512.Create(c.Left));
                var above = Vector512.GreaterThan(x, Vector512.Create(c.Right));
                var d0 = k.D0; var dK = k.DK;
                yOut = Blend(x, yIn, inside);
                yOut = Blend(yOut, MulAdd(d0, x - Vector512.Create(c.Left), Vector512.Create(c.Bottom)), below);
                yOut = Blend(yOut, MulAdd(dK, x - Vector512.Create(c.Right), Vector512.Create(c.Top)), above);
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
            var y = Vector512.Load(a);
            var inside = Vector512.GreaterThanOrEqual(y, Vector512.Create(c.Bottom)) & Vector512.LessThanOrEqual(y, Vector512.Create(c.Top));
            var nan = Vector512.IsNaN(y);
            if (c.Identity && inside == V.Zero)
            {
                y.Store(x);
                Blend(V.Zero, y, nan).Store(ld);
                return;
            }
            var k = new FloatKnots(in c, p, scratch);
            var yc = Min(Max(y, Vector512.Create(c.Bottom)), Vector512.Create(c.Top));
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
                var below = Vector512.LessThan(y, Vector512.Create(c.Bottom));
                var above = Vector512.GreaterThan(y, Vector512.Create(c.Top));
                var d0 = k.D0; var dK = k.DK;
                xOut = Blend(y, xIn, inside);
                xOut = Blend(xOut, Vector512.Create(c.Left) + (y - Vector512.Create(c.Bottom)) / d0, below);
                xOut = Blend(xOut, Vector512.Create(c.Right) + (y - Vector512.Create(c.Top)) / dK, above);
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
            var x = Vector512.Load(a);
            var gy = Vector512.Load(g1); var gl = Vector512.Load(g2);
            var inside = Vector512.GreaterThanOrEqual(x, Vector512.Create(c.Left)) & Vector512.LessThanOrEqual(x, Vector512.Create(c.Right));
            var nan = Vector512.IsNaN(x);
            if (c.Identity && inside == V.Zero)
            {
                (Vector512.Load(gx) + Blend(gy, x, nan)).Store(gx);
                return;
            }
            var k = new FloatKnots(in c, p, scratch);
            var xc = Min(Max(x, Vector512.Create(c.Left)), Vector512.Create(c.Right));
            SelectBin(in c, xc, k.Cw, k, out var xk, out var wk, out var yk, out var hk, out var dk, out var dk1, out var sk, out var sk1);
            // x lies in its bin, so ξ ∈ [0, 1] (the double path's clamped case cannot occur)
            var xi = Clamp01((xc - xk) / wk);
            var gyi = gy & inside; var gli = gl & inside;
            LocalBackward(xi, wk, hk, dk, dk1, gyi, gli, out var gX, out var gXk, out var gWk, out var gHk, out var gDk, out var gDk1);
            V gxOut, tail0 = V.Zero, tailK = V.Zero;
            if (c.Identity) gxOut = Blend(Blend(gy, x, nan), gX, inside);
            else
            {
                var below = Vector512.LessThan(x, Vector512.Create(c.Left));
                var above = Vector512.GreaterThan(x, Vector512.Create(c.Right));
                var d0 = k.D0; var dK = k.DK;
                gxOut = Blend(x, gX, inside);
                gxOut = Blend(gxOut, gy * d0, below);
                gxOut = Blend(gxOut, gy * dK, above);
                tail0 = MulAdd(gy, x - Vector512.Create(c.Left), gl / d0) * k.Sg0 & below;
                tailK = MulAdd(gy, x - Vector512.Create(c.Right), gl / dK) * k.SgK & above;
            }
            (Vector512.Load(gx) + gxOut).Store(gx);
            Chain(in c, k, xc, k.Cw, gXk * Vector512.Create(c.Sw), gWk * Vector512.Create(c.Sw), gyi * Vector512.Create(c.Sh), gHk * Vector512.Create(c.Sh), gDk * sk, gDk1 * sk1, tail0, tailK, gp);
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private static unsafe void BlockInverseBackward(in FloatSetup c, float* a, float* p, float* g1, float* g2, float* gy, float* gp, V* scratch)
        {
            var y = Vector512.Load(a);
            var gx = Vector512.Load(g1); var gl = Vector512.Load(g2);
            var inside = Vector512.GreaterThanOrEqual(y, Vector512.Create(c.Bottom)) & Vector512.LessThanOrEqual(y, Vector512.Create(c.Top));
            var nan = Vector512.IsNaN(y);
            if (c.Identity && inside == V.Zero)
            {
                (Vector512.Load(gy) + Blend(gx, y, nan)).Store(gy);
                return;
            }
            var k = new FloatKnots(in c, p, scratch);
            var yc = Min(Max(y, Vector512.Create(c.Bottom)), Vector512.Create(c.Top));
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
                var below = Vector512.LessThan(y, Vector512.Create(c.Bottom));
                var above = Vector512.GreaterThan(y, Vector512.Create(c.Top));
                var d0 = k.D0; var dK = k.DK;
                gyOut = Blend(y, q, inside);
                gyOut = Blend(gyOut, gx / d0, below);
                gyOut = Blend(gyOut, gx / dK, above);
                // x = edgeX + (y − edgeY)/d, logdet = −ln d
                tail0 = (-gx * (y - Vector512.Create(c.Bottom)) / (d0 * d0) - gl / d0) * k.Sg0 & below;
                tailK = (-gx * (y - Vector512.Create(c.Top)) / (dK * dK) - gl / dK) * k.SgK & above;
            }
            (Vector512.Load(gy) + gyOut).Store(gy);
            Chain(in c, k, yc, k.Ch, gXk * Vector512.Create(c.Sw), gWk * Vector512.Create(c.Sw), -q * Vector512.Create(c.Sh), gHk * Vector512.Create(c.Sh), gDk * sk, gDk1 * sk1, tail0, tailK, gp);
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
                    var minD = Vector512.Create(c.MinD);
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
            mx = mx & Vector512.Equals(mx - mx, V.Zero); // a non-finite maximum is treated as 0
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
            var acc = Vector512.Create(start); var mn = Vector512.Create(min); var sc = Vector512.Create(scale);
            knots[0] = acc;
            for (int j = 0; j < k; j++) { acc = MulAdd(sc, sm[j], acc + mn); knots[j + 1] = acc; }
            knots[k] = Vector512.Create(end);
            for (int j = 0; j < k; j++) sizes[j] = knots[j + 1] - knots[j];
        }

        /// <summary>d = min + softplus(u) and σ(u) = dd/du, sharing e = exp(−|u|) (the JIT drops σ where unused).</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void SoftplusSigmoid(V u, V minD, out V d, out V sg)
        {
            var e = Exp(u | Vector512.Create(-0f));
            var onePlus = e + V.One;
            var r = V.One / onePlus;
            var log1p = Log(onePlus) + (e - (onePlus - V.One)) * r; // rounding of 1 + e corrected
            d = minD + Max(u, V.Zero) + log1p;
            sg = Blend(e * r, r, Vector512.GreaterThanOrEqual(u, V.Zero));
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
                var msk = Vector512.GreaterThanOrEqual(v, search[j]);
                x0 = Blend(x0, cw[j], msk); w0 = Blend(w0, w[j], msk);
                y0 = Blend(y0, ch[j], msk); h0 = Blend(h0, h[j], msk);
                u0 = Blend(u0, dp[j], msk);
                if (j + 1 < k || !c.Identity) u1 = Blend(u1, dp[j + 1], msk);
                if (j == 1) first = msk;
                last = msk;
            }
            xk = x0; wk = w0; yk = y0; hk = h0;
            var minD = Vector512.Create(c.MinD);
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
                var geNext = j + 1 < k ? Vector512.GreaterThanOrEqual(v, search[j + 1]) : V.Zero; // bin > j
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
            var disc = Max(b * b - Vector512.Create(4.0) * a * c, VD.Zero);
            var denom = -b - Sqrt(disc);
            var xi = (c + c) / denom;
            xi = Blend(xi, VD.Zero, Vector512.Equals(denom, VD.Zero));
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

        private const float Log2E = 1.44269504088896341f;
        private const float Shift = 12582912f; // 1.5·2^23
        private const int ShiftBits = 0x4B400000;
        private const float Ln2Hi = 0.693359375f;
        private const float Ln2Lo = -2.12194440e-4f;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static V C(float v) => Vector512.Create(v);

        /// <summary>exp(x) as VectorMath.Exp (Cephes expf, ≤ 2 ulp; +∞ above 88.73, 0 below −103.98, NaN kept).</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static V Exp(V x)
        {
            x = Avx512F.Max(C(-104f), x);
            x = Avx512F.Min(C(89f), x);
            var t = MulAdd(x, C(Log2E), C(Shift));
            var n = t - C(Shift);
            var r = NegMulAdd(n, C(Ln2Hi), x);
            r = NegMulAdd(n, C(Ln2Lo), r);
            var p = MulAdd(C(1.9875691500e-4f), r, C(1.3981999507e-3f));
            p = MulAdd(p, r, C(8.3334519073e-3f));
            p = MulAdd(p, r, C(4.1665795894e-2f));
            p = MulAdd(p, r, C(1.6666665459e-1f));
            p = MulAdd(p, r, C(5.0000001201e-1f));
            var e = MulAdd(p, r * r, r) + C(1f);
            var ni = t.AsInt32() - Vector512.Create(ShiftBits);
            var n1 = Vector512.ShiftRightArithmetic(ni, 1);
            var n2 = ni - n1;
            var s1 = Vector512.ShiftLeft(n1 + Vector512.Create(127), 23).AsSingle();
            var s2 = Vector512.ShiftLeft(n2 + Vector512.Create(127), 23).AsSingle();
            return e * s1 * s2;
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static V LogCore(V x, V kBias)
        {
            var tmp = x.AsInt32() - Vector512.Create(0x3F3504F3);
            var k = Vector512.ShiftRightArithmetic(tmp, 23);
            var m = ((tmp & Vector512.Create(0x007FFFFF)) + Vector512.Create(0x3F3504F3)).AsSingle();
            var f = m - C(1f);
            var kf = Avx512F.ConvertToVector512Single(k) - kBias;
            var z = f * f;
            var p = MulAdd(C(7.0376836292e-2f), f, C(-1.1514610310e-1f));
            p = MulAdd(p, f, C(1.1676998740e-1f));
            p = MulAdd(p, f, C(-1.2420140846e-1f));
            p = MulAdd(p, f, C(1.4249322787e-1f));
            p = MulAdd(p, f, C(-1.6668057665e-1f));
            p = MulAdd(p, f, C(2.0000714765e-1f));
            p = MulAdd(p, f, C(-2.4999993993e-1f));
            p = MulAdd(p, f, C(3.3333331174e-1f));
            var y = p * f * z;
            y = MulAdd(kf, C(Ln2Lo), y);
            y = MulAdd(C(-0.5f), z, y);
            return MulAdd(kf, C(Ln2Hi), f + y);
        }

        /// <summary>ln(x) as VectorMath.Log (≤ 2 ulp; 0 → −∞, negative → NaN, +∞ and NaN kept, denormals handled).</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static V Log(V x)
        {
            var ok = Vector512.GreaterThanOrEqual(x, C(1.17549435e-38f)) & Vector512.LessThan(x, C(float.PositiveInfinity));
            if (ok.ExtractMostSignificantBits() == 0xFFFF) return LogCore(x, V.Zero);
            return LogSlow(x);
        }

        [MethodImpl(MethodImplOptions.NoInlining)]
        private static V LogSlow(V x)
        {
            var den = Vector512.LessThan(x, C(1.17549435e-38f));
            var xs = Blend(x, x * C(8388608f), den);
            var r = LogCore(xs, den & C(23f));
            var ok = Vector512.GreaterThan(x, V.Zero) & Vector512.LessThan(x, C(float.PositiveInfinity));
            var special = Blend(x, C(float.NaN), Vector512.LessThan(x, V.Zero));
            special = Blend(special, C(float.NegativeInfinity), Vector512.Equals(x, V.Zero));
            return Blend(special, r, ok);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)] private static V Blend(V ifClear, V ifSet, V mask) => Vector512.ConditionalSelect(mask, ifSet, ifClear);
        [MethodImpl(MethodImplOptions.AggressiveInlining)] private static VD Blend(VD ifClear, VD ifSet, VD mask) => Vector512.ConditionalSelect(mask, ifSet, ifClear);
        /// <summary>maxps: the second operand where either is NaN.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)] private static V Max(V a, V b) => Avx512F.Max(a, b);
        [MethodImpl(MethodImplOptions.AggressiveInlining)] private static V Min(V a, V b) => Avx512F.Min(a, b);
        [MethodImpl(MethodImplOptions.AggressiveInlining)] private static VD Max(VD a, VD b) => Avx512F.Max(a, b);
        [MethodImpl(MethodImplOptions.AggressiveInlining)] private static VD Min(VD a, VD b) => Avx512F.Min(a, b);
        [MethodImpl(MethodImplOptions.AggressiveInlining)] private static V MulAdd(V a, V b, V c) => Avx512F.FusedMultiplyAdd(a, b, c);
        /// <summary>c − a·b.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)] private static V NegMulAdd(V a, V b, V c) => Avx512F.FusedMultiplyAddNegated(a, b, c);
        /// <summary>~a &amp; b.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)] private static V AndNot(V a, V b) => b & ~a;
        [MethodImpl(MethodImplOptions.AggressiveInlining)] private static VD Sqrt(VD a) => Avx512F.Sqrt(a);

        // ------------------------------------------------------------------------------------------ data movement (width-specific)

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static VD Lo(V v) => Avx512F.ConvertToVector512Double(v.GetLower());

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static VD Hi(V v) => Avx512F.ConvertToVector512Double(v.GetUpper());

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static V Narrow(VD lo, VD hi) => Vector512.Create(Avx512F.ConvertToVector256Single(lo), Avx512F.ConvertToVector256Single(hi));

        /// <summary>Loads 16 rows (<paramref name="stride"/> apart) of 8 floats and stores column j of the 16×8 block in dst[j].</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void LoadTransposed(float* src, int stride, V* dst)
        {
            var a0 = Vector256.Load(src); var a1 = Vector256.Load(src + stride); var a2 = Vector256.Load(src + 2 * stride); var a3 = Vector256.Load(src + 3 * stride);
            var a4 = Vector256.Load(src + 4 * stride); var a5 = Vector256.Load(src + 5 * stride); var a6 = Vector256.Load(src + 6 * stride); var a7 = Vector256.Load(src + 7 * stride);
            float* s8 = src + 8 * stride;
            var b0 = Vector256.Load(s8); var b1 = Vector256.Load(s8 + stride); var b2 = Vector256.Load(s8 + 2 * stride); var b3 = Vector256.Load(s8 + 3 * stride);
            var b4 = Vector256.Load(s8 + 4 * stride); var b5 = Vector256.Load(s8 + 5 * stride); var b6 = Vector256.Load(s8 + 6 * stride); var b7 = Vector256.Load(s8 + 7 * stride);
            Avx2Kernels.Transpose(ref a0, ref a1, ref a2, ref a3, ref a4, ref a5, ref a6, ref a7);
            Avx2Kernels.Transpose(ref b0, ref b1, ref b2, ref b3, ref b4, ref b5, ref b6, ref b7);
            dst[0] = Vector512.Create(a0, b0); dst[1] = Vector512.Create(a1, b1); dst[2] = Vector512.Create(a2, b2); dst[3] = Vector512.Create(a3, b3);
            dst[4] = Vector512.Create(a4, b4); dst[5] = Vector512.Create(a5, b5); dst[6] = Vector512.Create(a6, b6); dst[7] = Vector512.Create(a7, b7);
        }

        /// <summary>Adds the transpose of src[0..8) (16 lanes each) into 16 rows of 8 floats at dst, row by row (see Avx2Kernels.AddTransposed).</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void AddTransposed(V* src, float* dst, int stride)
        {
            V8 a0 = src[0].GetLower(), a1 = src[1].GetLower(), a2 = src[2].GetLower(), a3 = src[3].GetLower();
            V8 a4 = src[4].GetLower(), a5 = src[5].GetLower(), a6 = src[6].GetLower(), a7 = src[7].GetLower();
            Avx2Kernels.Transpose(ref a0, ref a1, ref a2, ref a3, ref a4, ref a5, ref a6, ref a7);
            AddRows(dst, stride, a0, a1, a2, a3, a4, a5, a6, a7);
            V8 b0 = src[0].GetUpper(), b1 = src[1].GetUpper(), b2 = src[2].GetUpper(), b3 = src[3].GetUpper();
            V8 b4 = src[4].GetUpper(), b5 = src[5].GetUpper(), b6 = src[6].GetUpper(), b7 = src[7].GetUpper();
            Avx2Kernels.Transpose(ref b0, ref b1, ref b2, ref b3, ref b4, ref b5, ref b6, ref b7);
            AddRows(dst + 8 * stride, stride, b0, b1, b2, b3, b4, b5, b6, b7);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void AddRows(float* dst, int stride, V8 r0, V8 r1, V8 r2, V8 r3, V8 r4, V8 r5, V8 r6, V8 r7)
        {
            (Vector256.Load(dst) + r0).Store(dst);
            (Vector256.Load(dst + stride) + r1).Store(dst + stride);
            (Vector256.Load(dst + 2 * stride) + r2).Store(dst + 2 * stride);
            (Vector256.Load(dst + 3 * stride) + r3).Store(dst + 3 * stride);
            (Vector256.Load(dst + 4 * stride) + r4).Store(dst + 4 * stride);
            (Vector256.Load(dst + 5 * stride) + r5).Store(dst + 5 * stride);
            (Vector256.Load(dst + 6 * stride) + r6).Store(dst + 6 * stride);
            (Vector256.Load(dst + 7 * stride) + r7).Store(dst + 7 * stride);
        }
    }
}
