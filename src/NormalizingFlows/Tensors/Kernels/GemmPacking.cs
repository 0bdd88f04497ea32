using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace NormalizingFlows.Tensors.Kernels;

/// <summary>
/// Packing of GEMM operands into the micro-panel layout the micro-kernels read: for each k step, W consecutive
/// values (W = MR for A, NR for B), streams beyond the matrix edge filled with zeros. Two source layouts:
/// "streams" (each of the W values is a contiguous run along k: rows of A, columns of a transposed B), packed by
/// 8×8 (float) or 4×4 (double) AVX transposes; and "rows" (the W values are contiguous for a fixed k), packed by
/// vector copies. Destination buffers must have at least 8 elements of slack after kc·W.
/// </summary>
internal static unsafe class GemmPacking
{
    /// <summary>dst[p·W + s] = src[s·sstride + p] for s &lt; w (zeros for w ≤ s &lt; W), p &lt; kc.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void PackStreams<T>(T* src, nint sstride, int w, int kc, int W, T* dst, bool vector) where T : unmanaged
    {
        if (vector && Avx2.IsSupported)
        {
            if (typeof(T) == typeof(float)) { PackStreamsF32((float*)src, sstride, w, kc, W, (float*)dst); return; }
            if (typeof(T) == typeof(double)) { PackStreamsF64((double*)src, sstride, w, kc, W, (double*)dst); return; }
        }
        PackStreamsScalar(src, sstride, w, kc, W, dst, 0);
    }

    private static void PackStreamsScalar<T>(T* src, nint sstride, int w, int kc, int W, T* dst, int p0) where T : unmanaged
    {
        for (int s = 0; s < W; s++)
        {
            T* d = dst + s;
            if (s < w)
            {
                T* r = src + s * sstride;
                for (int p = p0; p < kc; p++) d[(nint)p * W] = r[p];
            }
            else
            {
                for (int p = p0; p < kc; p++) d[(nint)p * W] = default;
            }
        }
    }

    private static void PackStreamsF32(float* src, nint sstride, int w, int kc, int W, float* dst)
    {
        int p = 0;
        int partial = W & 7;           // a block of fewer than 8 streams, handled first in each p block so that
        int fullBlocks = W >> 3;       // its 8-wide stores spill only into places rewritten afterwards
        for (; p + 8 <= kc; p += 8)
        {
            float* d = dst + (nint)p * W;
            if (partial != 0) Transpose8F32(src, sstride, fullBlocks * 8, w, p, d, W);
            for (int blk = 0; blk < fullBlocks; blk++) Transpose8F32(src, sstride, blk * 8, w, p, d, W);
        }
        if (p < kc) PackStreamsScalar(src, sstride, w, kc, W, dst, p);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Transpose8F32(float* src, nint sstride, int s0, int w, int p, float* d, int W)
    {
        float* r = src + s0 * sstride + p;
        int n = w - s0;
        Vector256<float> r0, r1, r2, r3, r4, r5, r6, r7;
        if (n >= 8)
        {
            r0 = Avx.LoadVector256(r); r1 = Avx.LoadVector256(r + sstride);
            r2 = Avx.LoadVector256(r + 2 * sstride); r3 = Avx.LoadVector256(r + 3 * sstride);
            r4 = Avx.LoadVector256(r + 4 * sstride); r5 = Avx.LoadVector256(r + 5 * sstride);
            r6 = Avx.LoadVector256(r + 6 * sstride); r7 = Avx.LoadVector256(r + 7 * sstride);
        }
        else
        {
            var z = Vector256<float>.Zero;
            r0 = n > 0 ? Avx.LoadVector256(r) : z; r1 = n > 1 ? Avx.LoadVector256(r + sstride) : z;
            r2 = n > 2 ? Avx.LoadVector256(r + 2 * sstride) : z; r3 = n > 3 ? Avx.LoadVector256(r + 3 * sstride) : z;
            r4 = n > 4 ? Avx.LoadVector256(r + 4 * sstride) : z; r5 = n > 5 ? Avx.LoadVector256(r + 5 * sstride) : z;
            r6 = n > 6 ? Avx.LoadVector256(r + 6 * sstride) : z; r7 = z;
        }
        var t0 = Avx.UnpackLow(r0, r1); var t1 = Avx.UnpackHigh(r0, r1);
        var t2 = Avx.UnpackLow(r2, r3); var t3 = Avx.UnpackHigh(r2, r3);
        var t4 = Avx.UnpackLow(r4, r5); var t5 = Avx.UnpackHigh(r4, r5);
        var t6 = Avx.UnpackLow(r6, r7); var t7 = Avx.UnpackHigh(r6, r7);
        var u0 = Avx.Shuffle(t0, t2, 0x44); var u1 = Avx.Shuffle(t0, t2, 0xEE);
        var u2 = Avx.Shuffle(t1, t3, 0x44); var u3 = Avx.Shuffle(t1, t3, 0xEE);
        var u4 = Avx.Shuffle(t4, t6, 0x44); var u5 = Avx.Shuffle(t4, t6, 0xEE);
        var u6 = Avx.Shuffle(t5, t7, 0x44); var u7 = Avx.Shuffle(t5, t7, 0xEE);
        float* o = d + s0;
        Avx.Store(o, Avx.Permute2x128(u0, u4, 0x20));
        Avx.Store(o + W, Avx.Permute2x128(u1, u5, 0x20));
        Avx.Store(o + 2 * W, Avx.Permute2x128(u2, u6, 0x20));
        Avx.Store(o + 3 * W, Avx.Permute2x128(u3, u7, 0x20));
        Avx.Store(o + 4 * W, Avx.Permute2x128(u0, u4, 0x31));
        Avx.Store(o + 5 * W, Avx.Permute2x128(u1, u5, 0x31));
        Avx.Store(o + 6 * W, Avx.Permute2x128(u2, u6, 0x31));
        Avx.Store(o + 7 * W, Avx.Permute2x128(u3, u7, 0x31));
    }

    private static void PackStreamsF64(double* src, nint sstride, int w, int kc, int W, double* dst)
    {
        int p = 0;
        int partial = W & 3, fullBlocks = W >> 2;
        for (; p + 4 <= kc; p += 4)
        {
            double* d = dst + (nint)p * W;
            if (partial != 0) Transpose4F64(src, sstride, fullBlocks * 4, w, p, d, W);
            for (int blk = 0; blk < fullBlocks; blk++) Transpose4F64(src, sstride, blk * 4, w, p, d, W);
        }
        if (p < kc) PackStreamsScalar(src, sstride, w, kc, W, dst, p);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Transpose4F64(double* src, nint sstride, int s0, int w, int p, double* d, int W)
    {
        double* r = src + s0 * sstride + p;
        int n = w - s0;
        var z = Vector256<double>.Zero;
        var r0 = n > 0 ? Avx.LoadVector256(r) : z;
        var r1 = n > 1 ? Avx.LoadVector256(r + sstride) : z;
        var r2 = n > 2 ? Avx.LoadVector256(r + 2 * sstride) : z;
        var r3 = n > 3 ? Avx.LoadVector256(r + 3 * sstride) : z;
        var t0 = Avx.UnpackLow(r0, r1); var t1 = Avx.UnpackHigh(r0, r1);
        var t2 = Avx.UnpackLow(r2, r3); var t3 = Avx.UnpackHigh(r2, r3);
        double* o = d + s0;
        Avx.Store(o, Avx.Permute2x128(t0, t2, 0x20));
        Avx.Store(o + W, Avx.Permute2x128(t1, t3, 0x20));
        Avx.Store(o + 2 * W, Avx.Permute2x128(t0, t2, 0x31));
        Avx.Store(o + 3 * W, Avx.Permute2x128(t1, t3, 0x31));
    }

    /// <summary>
    /// Packs <paramref name="panels"/> full W-wide micro-panels from a source whose W values per k step are
    /// contiguous (panel q at src + q·W, k stride pstride) into dst + q·dstPanelStride, walking the source row by row so that
    /// reads are sequential. Only for 24- and 48-byte panel rows (float MR 6 or 12, double MR 6), which are copied
    /// with one or two overlapping 32-byte vectors; panel q goes to dst + q·dstPanelStride. Returns the number of
    /// rows of the block packed (0 when not applicable).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static int PackRowsBlock<T>(T* src, nint pstride, int panels, int kc, int W, T* dst, nint dstPanelStride, int readable) where T : unmanaged
    {
        int bytes = W * sizeof(T);
        if (!Avx.IsSupported || panels == 0 || (bytes != 24 && bytes != 48)) return 0;
        int vecBytes = bytes == 24 ? 32 : 64;
        // The last panel's over-read must stay inside the readable part of each row.
        if ((long)readable * sizeof(T) < (long)(panels - 1) * bytes + vecBytes) panels--;
        if (panels <= 0) return 0;
        nint panelStride = dstPanelStride * sizeof(T);
        byte* s0 = (byte*)src;
        byte* d0 = (byte*)dst;
        nint ps = pstride * sizeof(T);
        for (int p = 0; p < kc; p++, s0 += ps, d0 += bytes)
        {
            byte* s = s0;
            byte* d = d0;
            if (p + 1 < kc)
            {
                // Spills into row p + 1 of the same panel, which is written on the next step.
                if (bytes == 24)
                    for (int q = 0; q < panels; q++, s += 24, d += panelStride) Avx.Store(d, Avx.LoadVector256(s));
                else
                    for (int q = 0; q < panels; q++, s += 48, d += panelStride)
                    {
                        var v0 = Avx.LoadVector256(s);
                        var v1 = Avx.LoadVector256(s + 32);
                        Avx.Store(d, v0);
                        Avx.Store(d + 32, v1);
                    }
            }
            else
            {
                // Last row: exact copies (a spill would land in the next panel's first row).
                for (int q = 0; q < panels; q++, s += bytes, d += panelStride)
                {
                    Sse.Store((float*)d, Sse.LoadVector128((float*)s));
                    *(long*)(d + 16) = *(long*)(s + 16);
                    if (bytes == 48)
                    {
                        Avx.Store(d + 16, Avx.LoadVector256(s + 16));
                    }
                }
            }
        }
        return panels * W;
    }

    /// <summary>
    /// dst[p·W + s] = src[p·pstride + s] for s &lt; w (zeros for w ≤ s &lt; W), p &lt; kc. <paramref name="readable"/> is
    /// how many elements may be read from the start of each source row; when it covers whole 32-byte vectors, rows
    /// whose width is not a multiple of 32 bytes are copied with overlapping full-vector stores (each spill into the
    /// next row is rewritten by that row; the last one lands in the buffer's slack).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void PackRows<T>(T* src, nint pstride, int w, int kc, int W, T* dst, bool vector, int readable) where T : unmanaged
    {
        if (w == W && vector && Avx.IsSupported)
        {
            int bytes = W * sizeof(T);
            byte* s = (byte*)src;
            byte* d = (byte*)dst;
            nint ps = pstride * sizeof(T);
            int vecBytes = (bytes + 31) & ~31;
            if (bytes != vecBytes && (long)readable * sizeof(T) >= vecBytes && vecBytes - bytes <= 8 * sizeof(T) - 4)
            {
                if (vecBytes == 32)
                {
                    for (int p = 0; p < kc; p++, s += ps, d += bytes) Avx.Store(d, Avx.LoadVector256(s));
                    return;
                }
                if (vecBytes == 64)
                {
                    for (int p = 0; p < kc; p++, s += ps, d += bytes)
                    {
                        var v0 = Avx.LoadVector256(s);
                        var v1 = Avx.LoadVector256(s + 32);
                        Avx.Store(d, v0);
                        Avx.Store(d + 32, v1);
                    }
                    return;
                }
            }
            if (bytes == 64)
            {
                for (int p = 0; p < kc; p++, s += ps, d += 64)
                {
                    Avx.Store(d, Avx.LoadVector256(s));
                    Avx.Store(d + 32, Avx.LoadVector256(s + 32));
                }
                return;
            }
            if (bytes == 128)
            {
                for (int p = 0; p < kc; p++, s += ps, d += 128)
                {
                    Avx.Store(d, Avx.LoadVector256(s)); Avx.Store(d + 32, Avx.LoadVector256(s + 32));
                    Avx.Store(d + 64, Avx.LoadVector256(s + 64)); Avx.Store(d + 96, Avx.LoadVector256(s + 96));
                }
                return;
            }
            for (int p = 0; p < kc; p++, s += ps, d += bytes)
            {
                int o = 0;
                for (; o + 32 <= bytes; o += 32) Avx.Store(d + o, Avx.LoadVector256(s + o));
                if (o + 16 <= bytes) { Sse.Store((float*)(d + o), Sse.LoadVector128((float*)(s + o))); o += 16; }
                if (o + 8 <= bytes) { *(long*)(d + o) = *(long*)(s + o); o += 8; }
                if (o < bytes) *(int*)(d + o) = *(int*)(s + o);
            }
            return;
        }
        for (int p = 0; p < kc; p++)
        {
            T* sp = src + p * pstride;
            T* dp = dst + (nint)p * W;
            int j = 0;
            for (; j < w; j++) dp[j] = sp[j];
            for (; j < W; j++) dp[j] = default;
        }
    }
}
