using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using NormalizingFlows.Tensors.Kernels;

namespace NormalizingFlows.Transforms.Splines;

using V = Vector512<float>;
using VD = Vector512<double>;
using V8 = Vector256<float>;

// The AVX-512 block kernels: 16 elements per block. The kernels themselves are in RationalQuadraticSpline.Float512.g.cs,
// generated from the AVX2 ones of RationalQuadraticSpline.Float.cs by tools/NormalizingFlows.Generators (Vector256 →
// Vector512); the width-specific helpers they call are written here for Vector512.
public sealed partial class RationalQuadraticSpline
{
    /// <summary>The block kernels on Vector512 (AVX-512F): 16 elements per block.</summary>
    private static unsafe partial class Avx512Kernels
    {
        /// <summary>Elements per block.</summary>
        public const int Width = 16;

        /// <summary>True when these kernels can run (and 512-bit vectors are not slower than 256-bit ones).</summary>
        public static bool IsSupported => VectorMath.IsSupported512;

        // ------------------------------------------------------------------------------------------ width-specific helpers

        // exp and log: the Vector512 twins of VectorMath's (generated from its Vector256 functions, the same values)
        [MethodImpl(MethodImplOptions.AggressiveInlining)] private static V Exp(V x) => VectorMath.Exp(x);
        [MethodImpl(MethodImplOptions.AggressiveInlining)] private static V Log(V x) => VectorMath.Log(x);

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
