using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace NormalizingFlows.Tensors.Kernels;

/// <summary>
/// Write-out of a micro-tile into a transposed C (the narrow-N case computed as Cᵀ): C[j·ldc + i] =
/// alpha·acc[i·ldacc + j] + beta·C, by 8×8 (float) or 4×4 (double) AVX transposes, with the same rounding as the
/// micro-kernels' own write-out (multiply by alpha, then add beta·C; no fused multiply-add).
/// </summary>
internal static unsafe class GemmWriteOut
{
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Transposed<T>(T* acc, int ldacc, T* c, nint ldc, int mr, int nr, T alpha, T beta)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (Avx.IsSupported)
        {
            if (typeof(T) == typeof(float))
            {
                TransposedF32((float*)acc, ldacc, (float*)c, ldc, mr, nr, float.CreateTruncating(alpha), float.CreateTruncating(beta));
                return;
            }
            if (typeof(T) == typeof(double))
            {
                TransposedF64((double*)acc, ldacc, (double*)c, ldc, mr, nr, double.CreateTruncating(alpha), double.CreateTruncating(beta));
                return;
            }
        }
        GemmDriver<T>.WriteTile(acc, ldacc, c, 1, ldc, mr, nr, alpha, beta);
    }

    private static void TransposedF32(float* acc, int ldacc, float* c, nint ldc, int mr, int nr, float alpha, float beta)
    {
        int j0 = 0;
        var va = Vector256.Create(alpha);
        var vb = Vector256.Create(beta);
        for (; j0 + 8 <= nr; j0 += 8)
        {
            int i0 = 0;
            for (; i0 < mr; i0 += 8)
            {
                int rows = Math.Min(8, mr - i0);
                float* r = acc + i0 * ldacc + j0;
                var z = Vector256<float>.Zero;
                var r0 = Avx.LoadVector256(r);
                var r1 = rows > 1 ? Avx.LoadVector256(r + ldacc) : z;
                var r2 = rows > 2 ? Avx.LoadVector256(r + 2 * ldacc) : z;
                var r3 = rows > 3 ? Avx.LoadVector256(r + 3 * ldacc) : z;
                var r4 = rows > 4 ? Avx.LoadVector256(r + 4 * ldacc) : z;
                var r5 = rows > 5 ? Avx.LoadVector256(r + 5 * ldacc) : z;
                var r6 = rows > 6 ? Avx.LoadVector256(r + 6 * ldacc) : z;
                var r7 = rows > 7 ? Avx.LoadVector256(r + 7 * ldacc) : z;
                var t0 = Avx.UnpackLow(r0, r1); var t1 = Avx.UnpackHigh(r0, r1);
                var t2 = Avx.UnpackLow(r2, r3); var t3 = Avx.UnpackHigh(r2, r3);
                var t4 = Avx.UnpackLow(r4, r5); var t5 = Avx.UnpackHigh(r4, r5);
                var t6 = Avx.UnpackLow(r6, r7); var t7 = Avx.UnpackHigh(r6, r7);
                var u0 = Avx.Shuffle(t0, t2, 0x44); var u1 = Avx.Shuffle(t0, t2, 0xEE);
                var u2 = Avx.Shuffle(t1, t3, 0x44); var u3 = Avx.Shuffle(t1, t3, 0xEE);
                var u4 = Avx.Shuffle(t4, t6, 0x44); var u5 = Avx.Shuffle(t4, t6, 0xEE);
                var u6 = Avx.Shuffle(t5, t7, 0x44); var u7 = Avx.Shuffle(t5, t7, 0xEE);
                float* o = c + j0 * ldc + i0;
                Put(o, Avx.Permute2x128(u0, u4, 0x20), rows, alpha, beta, va, vb);
                Put(o + ldc, Avx.Permute2x128(u1, u5, 0x20), rows, alpha, beta, va, vb);
                Put(o + 2 * ldc, Avx.Permute2x128(u2, u6, 0x20), rows, alpha, beta, va, vb);
                Put(o + 3 * ldc, Avx.Permute2x128(u3, u7, 0x20), rows, alpha, beta, va, vb);
                Put(o + 4 * ldc, Avx.Permute2x128(u0, u4, 0x31), rows, alpha, beta, va, vb);
                Put(o + 5 * ldc, Avx.Permute2x128(u1, u5, 0x31), rows, alpha, beta, va, vb);
                Put(o + 6 * ldc, Avx.Permute2x128(u2, u6, 0x31), rows, alpha, beta, va, vb);
                Put(o + 7 * ldc, Avx.Permute2x128(u3, u7, 0x31), rows, alpha, beta, va, vb);
            }
        }
        if (j0 < nr) GemmDriver<float>.WriteTile(acc + j0, ldacc, c + j0 * ldc, 1, ldc, mr, nr - j0, alpha, beta);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Put(float* o, Vector256<float> v, int rows, float alpha, float beta, Vector256<float> va, Vector256<float> vb)
    {
        if (alpha != 1) v *= va;
        if (rows == 8)
        {
            if (beta == 0) Avx.Store(o, v);
            else if (beta == 1) Avx.Store(o, v + Avx.LoadVector256(o));
            else Avx.Store(o, v + Avx.LoadVector256(o) * vb);
        }
        else if (rows == 4)
        {
            var w = v.GetLower();
            if (beta == 0) Sse.Store(o, w);
            else if (beta == 1) Sse.Store(o, w + Sse.LoadVector128(o));
            else Sse.Store(o, w + Sse.LoadVector128(o) * vb.GetLower());
        }
        else
        {
            int i = 0;
            if (rows > 4)
            {
                var w = v.GetLower();
                if (beta == 0) Sse.Store(o, w);
                else if (beta == 1) Sse.Store(o, w + Sse.LoadVector128(o));
                else Sse.Store(o, w + Sse.LoadVector128(o) * vb.GetLower());
                i = 4;
            }
            for (; i < rows; i++)
            {
                float x = v.GetElement(i);
                o[i] = beta == 0 ? x : beta == 1 ? x + o[i] : x + o[i] * beta;
            }
        }
    }

    private static void TransposedF64(double* acc, int ldacc, double* c, nint ldc, int mr, int nr, double alpha, double beta)
    {
        int j0 = 0;
        var va = Vector256.Create(alpha);
        var vb = Vector256.Create(beta);
        for (; j0 + 4 <= nr; j0 += 4)
        {
            int i0 = 0;
            for (; i0 + 4 <= mr; i0 += 4)
            {
                double* r = acc + i0 * ldacc + j0;
                var r0 = Avx.LoadVector256(r); var r1 = Avx.LoadVector256(r + ldacc);
                var r2 = Avx.LoadVector256(r + 2 * ldacc); var r3 = Avx.LoadVector256(r + 3 * ldacc);
                var t0 = Avx.UnpackLow(r0, r1); var t1 = Avx.UnpackHigh(r0, r1);
                var t2 = Avx.UnpackLow(r2, r3); var t3 = Avx.UnpackHigh(r2, r3);
                double* o = c + j0 * ldc + i0;
                Put(o, Avx.Permute2x128(t0, t2, 0x20), alpha, beta, va, vb);
                Put(o + ldc, Avx.Permute2x128(t1, t3, 0x20), alpha, beta, va, vb);
                Put(o + 2 * ldc, Avx.Permute2x128(t0, t2, 0x31), alpha, beta, va, vb);
                Put(o + 3 * ldc, Avx.Permute2x128(t1, t3, 0x31), alpha, beta, va, vb);
            }
            if (i0 < mr) GemmDriver<double>.WriteTile(acc + i0 * ldacc + j0, ldacc, c + j0 * ldc + i0, 1, ldc, mr - i0, 4, alpha, beta);
        }
        if (j0 < nr) GemmDriver<double>.WriteTile(acc + j0, ldacc, c + j0 * ldc, 1, ldc, mr, nr - j0, alpha, beta);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Put(double* o, Vector256<double> v, double alpha, double beta, Vector256<double> va, Vector256<double> vb)
    {
        if (alpha != 1) v *= va;
        if (beta == 0) Avx.Store(o, v);
        else if (beta == 1) Avx.Store(o, v + Avx.LoadVector256(o));
        else Avx.Store(o, v + Avx.LoadVector256(o) * vb);
    }
}
