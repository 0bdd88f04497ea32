using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace NormalizingFlows.Tensors.Kernels;

/// <summary>
/// Stride-2 gathers and scatters on flat float buffers: the column selections of alternating coupling masks on an
/// even number of features are exactly these over a whole row-major matrix (rows are contiguous and the parity
/// pattern continues across them).
/// </summary>
internal static unsafe class Interleave
{
    /// <summary>The parity p when <paramref name="columns"/> = {p, p + 2, …} lists every column of that parity of an even <paramref name="width"/>; otherwise −1.</summary>
    public static int ParityOf(int[] columns, int width)
    {
        if (width < 2 || (width & 1) != 0 || columns.Length * 2 != width) return -1;
        int p = columns[0];
        if (p is not (0 or 1)) return -1;
        for (int j = 0; j < columns.Length; j++)
            if (columns[j] != p + 2 * j) return -1;
        return p;
    }

    /// <summary>dst[i] = src[2i + parity] for i &lt; dst.Length (src.Length = 2·dst.Length).</summary>
    public static void TakeParity(ReadOnlySpan<float> src, int parity, Span<float> dst)
    {
        if (src.Length != 2 * dst.Length) throw new ArgumentException($"source of {src.Length} for {dst.Length} values");
        int m = dst.Length, i = 0;
        fixed (float* s = src, d = dst)
        {
            if (Avx2.IsSupported)
            {
                for (; i + 8 <= m; i += 8)
                {
                    var a = Avx.LoadVector256(s + 2 * i);
                    var b = Avx.LoadVector256(s + 2 * i + 8);
                    // per 128-bit lane [a0 a2 b0 b2 | a4 a6 b4 b6] (or the odd ones), then the 64-bit quarters in order
                    var v = parity == 0 ? Avx.Shuffle(a, b, 0b10_00_10_00) : Avx.Shuffle(a, b, 0b11_01_11_01);
                    Avx.Store(d + i, Avx2.Permute4x64(v.AsDouble(), 0b11_01_10_00).AsSingle());
                }
            }
            for (; i < m; i++) d[i] = s[2 * i + parity];
        }
    }

    /// <summary>dst[2i] = even[i], dst[2i + 1] = odd[i] (dst.Length = 2·even.Length = 2·odd.Length).</summary>
    public static void Merge(ReadOnlySpan<float> even, ReadOnlySpan<float> odd, Span<float> dst)
    {
        if (even.Length != odd.Length || dst.Length != 2 * even.Length) throw new ArgumentException("interleave: lengths do not match");
        int m = even.Length, i = 0;
        fixed (float* e = even, o = odd, d = dst)
        {
            if (Avx.IsSupported)
                for (; i + 8 <= m; i += 8)
                {
                    var a = Avx.LoadVector256(e + i);
                    var b = Avx.LoadVector256(o + i);
                    var lo = Avx.UnpackLow(a, b);   // [e0 o0 e1 o1 | e4 o4 e5 o5]
                    var hi = Avx.UnpackHigh(a, b);  // [e2 o2 e3 o3 | e6 o6 e7 o7]
                    Avx.Store(d + 2 * i, Avx.Permute2x128(lo, hi, 0x20));
                    Avx.Store(d + 2 * i + 8, Avx.Permute2x128(lo, hi, 0x31));
                }
            for (; i < m; i++)
            {
                d[2 * i] = e[i];
                d[2 * i + 1] = o[i];
            }
        }
    }

    /// <summary>even[j] = interleaved[2j], odd[j] = interleaved[2j + 1] for j &lt; m (both parities in one pass).</summary>
    public static void Split(float* interleaved, float* even, float* odd, int m)
    {
        int j = 0;
        if (Avx2.IsSupported)
            for (; j + 8 <= m; j += 8)
            {
                var a = Avx.LoadVector256(interleaved + 2 * j);
                var b = Avx.LoadVector256(interleaved + 2 * j + 8);
                // per 128-bit lane: [a0 a2 b0 b2 | a4 a6 b4 b6], then the 64-bit quarters reordered to [a0 a2 a4 a6 b0 b2 b4 b6]
                var ev = Avx.Shuffle(a, b, 0b10_00_10_00);
                var od = Avx.Shuffle(a, b, 0b11_01_11_01);
                Avx.Store(even + j, Avx2.Permute4x64(ev.AsDouble(), 0b11_01_10_00).AsSingle());
                Avx.Store(odd + j, Avx2.Permute4x64(od.AsDouble(), 0b11_01_10_00).AsSingle());
            }
        for (; j < m; j++)
        {
            even[j] = interleaved[2 * j];
            odd[j] = interleaved[2 * j + 1];
        }
    }
}
