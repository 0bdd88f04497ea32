using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace NormalizingFlows.Tensors.Kernels;

/// <summary>
/// Vector256&lt;float&gt; cores of the transcendental functions (AVX2 + FMA), with their special-value handling:
/// Cephes-style range reduction and minimax polynomials, a few ulp over the whole float range. Only call the
/// vector functions when <see cref="IsSupported"/>. The scalar functions are double-precision references used by
/// the fallback paths (double, or machines without AVX2/FMA).
/// </summary>
internal static partial class VectorMath
{
    /// <summary>True when the AVX2/FMA float kernels can run.</summary>
    public static bool IsSupported => Avx2.IsSupported && Fma.IsSupported;

    /// <summary>
    /// True when the Vector512 twins (VectorMath.Float512.g.cs, generated from the section below) can run: the same
    /// operations lane by lane, so the same values as the Vector256 functions.
    /// </summary>
    public static bool IsSupported512 => IsSupported && Avx512F.IsSupported && Vector512.IsHardwareAccelerated;

    private const float Log2E = 1.44269504088896341f;
    private const float Shift = 12582912f; // 1.5·2^23: adding it rounds to an integer held in the low mantissa bits
    private const int ShiftBits = 0x4B400000;
    private const float Ln2Hi = 0.693359375f;
    private const float Ln2Lo = -2.12194440e-4f;

    // <generic> the Vector256 functions; tools/NormalizingFlows.Generators writes their Vector512 twins

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> C(float v) => Vector256.Create(v);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Fm(Vector256<float> a, Vector256<float> b, Vector256<float> c) => Fma.MultiplyAdd(a, b, c);

    /// <summary>Polynomial of exp(r) − 1 − r on |r| ≤ ln2/2, divided by r² (Cephes expf).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> ExpPoly(Vector256<float> r)
    {
        var p = Fm(C(1.9875691500e-4f), r, C(1.3981999507e-3f));
        p = Fm(p, r, C(8.3334519073e-3f));
        p = Fm(p, r, C(4.1665795894e-2f));
        p = Fm(p, r, C(1.6666665459e-1f));
        p = Fm(p, r, C(5.0000001201e-1f));
        return p;
    }

    /// <summary>
    /// exp(x): x ≥ 88.73 gives +∞, x ≤ −103.98 gives 0, gradual underflow in between, NaN propagates. ≤ 2 ulp.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Exp(Vector256<float> x)
    {
        x = Avx.Max(C(-104f), x); // maxps returns the second operand when it is NaN
        x = Avx.Min(C(89f), x);
        var t = Fm(x, C(Log2E), C(Shift));
        var n = t - C(Shift);
        var r = Fma.MultiplyAddNegated(n, C(Ln2Hi), x);
        r = Fma.MultiplyAddNegated(n, C(Ln2Lo), r);
        var e = Fm(ExpPoly(r), r * r, r) + C(1f);
        // 2^n as two normal factors so that n in [−150, 128] under/overflows exactly once, in the last product.
        var ni = t.AsInt32() - Vector256.Create(ShiftBits);
        var n1 = Vector256.ShiftRightArithmetic(ni, 1);
        var n2 = ni - n1;
        var s1 = Vector256.ShiftLeft(n1 + Vector256.Create(127), 23).AsSingle();
        var s2 = Vector256.ShiftLeft(n2 + Vector256.Create(127), 23).AsSingle();
        return e * s1 * s2;
    }

    /// <summary>exp(x) − 1 for x ≤ 0 (accurate near 0, −1 below −17.3, NaN propagates). Inputs above 0 are treated as 0.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Expm1NonPositive(Vector256<float> x)
    {
        x = Avx.Min(Vector256<float>.Zero, x); // NaN kept
        x = Avx.Max(C(-87f), x);
        var t = Fm(x, C(Log2E), C(Shift));
        var n = t - C(Shift);
        var r = Fma.MultiplyAddNegated(n, C(Ln2Hi), x);
        r = Fma.MultiplyAddNegated(n, C(Ln2Lo), r);
        var em1 = Fm(ExpPoly(r), r * r, r); // exp(r) − 1
        var ni = t.AsInt32() - Vector256.Create(ShiftBits);
        var s = Vector256.ShiftLeft(ni + Vector256.Create(127), 23).AsSingle(); // 2^n, n in [−126, 0]
        return Fm(s, em1, s - C(1f)); // 2^n·(exp(r) − 1) + (2^n − 1)
    }

    /// <summary>ln(m) for the mantissa part, valid only for positive normal finite x (no special handling).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> LogCore(Vector256<float> x, Vector256<float> kBias)
    {
        // Split x = 2^k·m with m in [√½, √2): subtracting the bits of √½ puts the exponent carry in the right place.
        var tmp = x.AsInt32() - Vector256.Create(0x3F3504F3);
        var k = Vector256.ShiftRightArithmetic(tmp, 23);
        var m = ((tmp & Vector256.Create(0x007FFFFF)) + Vector256.Create(0x3F3504F3)).AsSingle();
        var f = m - C(1f);
        var kf = Avx.ConvertToVector256Single(k) - kBias;
        var z = f * f;
        var p = Fm(C(7.0376836292e-2f), f, C(-1.1514610310e-1f));
        p = Fm(p, f, C(1.1676998740e-1f));
        p = Fm(p, f, C(-1.2420140846e-1f));
        p = Fm(p, f, C(1.4249322787e-1f));
        p = Fm(p, f, C(-1.6668057665e-1f));
        p = Fm(p, f, C(2.0000714765e-1f));
        p = Fm(p, f, C(-2.4999993993e-1f));
        p = Fm(p, f, C(3.3333331174e-1f));
        var y = p * f * z;
        y = Fm(kf, C(Ln2Lo), y);
        y = Fm(C(-0.5f), z, y);
        return Fm(kf, C(Ln2Hi), f + y);
    }

    /// <summary>ln(x): log(±0) = −∞, log(x &lt; 0) = NaN, log(+∞) = +∞, denormals handled. ≤ 2 ulp.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Log(Vector256<float> x)
    {
        var ok = Vector256.GreaterThanOrEqual(x, C(1.17549435e-38f)) & Vector256.LessThan(x, C(float.PositiveInfinity));
        if (ok.ExtractMostSignificantBits() == 0xFF) return LogCore(x, Vector256<float>.Zero);
        return LogSlow(x);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static Vector256<float> LogSlow(Vector256<float> x)
    {
        var den = Vector256.LessThan(x, C(1.17549435e-38f));
        var xs = Vector256.ConditionalSelect(den, x * C(8388608f), x);
        var r = LogCore(xs, den & C(23f));
        var ok = Vector256.GreaterThan(x, Vector256<float>.Zero) & Vector256.LessThan(x, C(float.PositiveInfinity));
        var special = Vector256.ConditionalSelect(Vector256.LessThan(x, Vector256<float>.Zero), C(float.NaN), x); // +∞, NaN stay
        special = Vector256.ConditionalSelect(Vector256.Equals(x, Vector256<float>.Zero), C(float.NegativeInfinity), special);
        return Vector256.ConditionalSelect(ok, r, special);
    }

    /// <summary>ln(1 + x), accurate near 0 (Kahan: log(u)·x/(u − 1), u = 1 + x); −1 → −∞, &lt; −1 → NaN.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Log1p(Vector256<float> x)
    {
        var u = x + C(1f);
        var r = Log(u) * (x / (u - C(1f)));
        r = Vector256.ConditionalSelect(Vector256.Equals(u, C(1f)), x, r);
        return Vector256.ConditionalSelect(Vector256.Equals(u, C(float.PositiveInfinity)), u, r);
    }

    /// <summary>ln(1 + e) for e in [0, 1] or NaN (softplus tail): log(u) + (e − (u − 1))/u.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Log1pUnit(Vector256<float> e)
    {
        var u = e + C(1f);
        var c = e - (u - C(1f)); // rounding error of u, exact
        return LogCore(u, Vector256<float>.Zero) + c / u; // NaN e makes c NaN
    }

    /// <summary>tanh(x): odd polynomial for |x| &lt; 0.625, else ±(1 − 2/(exp(2|x|) + 1)); saturates to ±1 exactly.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Tanh(Vector256<float> x)
    {
        var sign = x & C(-0f);
        var ax = x ^ sign;
        var z = x * x;
        var p = Fm(C(-5.70498872745e-3f), z, C(2.06390887954e-2f));
        p = Fm(p, z, C(-5.37397155531e-2f));
        p = Fm(p, z, C(1.33314422036e-1f));
        p = Fm(p, z, C(-3.33332819422e-1f));
        var small = Fm(p, ax * z, ax) | sign; // on |x| so that tanh(−0) = −0
        var e = Exp(ax + ax);
        var large = (C(1f) - C(2f) / (e + C(1f))) | sign;
        return Vector256.ConditionalSelect(Vector256.LessThan(ax, C(0.625f)), small, large);
    }

    /// <summary>Returns (q, e) with e = exp(−|x|), q = 1/(1 + e): sigmoid(x) = x ≥ 0 ? q : e·q.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (Vector256<float> Q, Vector256<float> E) SigmoidParts(Vector256<float> x)
    {
        var e = Exp(x | C(-0f));
        return (C(1f) / (e + C(1f)), e);
    }

    /// <summary>sigmoid(x) = 1/(1 + exp(−x)) without overflow; exactly 0/1 at ∓∞; accurate in the far left tail.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Sigmoid(Vector256<float> x)
    {
        var e = Exp(x | C(-0f));
        var num = Vector256.ConditionalSelect(Vector256.GreaterThanOrEqual(x, Vector256<float>.Zero), C(1f), e);
        return num / (e + C(1f));
    }

    /// <summary>softplus(x) = max(x, 0) + log1p(exp(−|x|)): x for large x, exp(x) for very negative x.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Softplus(Vector256<float> x)
    {
        var e = Exp(x | C(-0f));
        return Avx.Max(Vector256<float>.Zero, x) + Log1pUnit(e);
    }

    /// <summary>silu(x) = x·sigmoid(x), computed as (x ≥ 0 ? x : x·e)/(1 + e), e = exp(−|x|); silu(−∞) = −0.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Silu(Vector256<float> x)
    {
        var e = Exp(x | C(-0f));
        var xc = Avx.Max(C(-1e30f), x); // −∞·0 would be NaN
        var num = Vector256.ConditionalSelect(Vector256.GreaterThanOrEqual(x, Vector256<float>.Zero), x, xc * e);
        return num / (e + C(1f));
    }

    /// <summary>sigmoid(x) and 1 − sigmoid(x), both without cancellation.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static (Vector256<float> S, Vector256<float> OneMinusS) SigmoidBoth(Vector256<float> x)
    {
        var (q, e) = SigmoidParts(x);
        var eq = e * q;
        var pos = Vector256.GreaterThanOrEqual(x, Vector256<float>.Zero);
        return (Vector256.ConditionalSelect(pos, q, eq), Vector256.ConditionalSelect(pos, eq, q));
    }

    /// <summary>d silu/dx = s·(1 + x·(1 − s)); 1 at +∞, 0 at −∞.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> SiluDerivative(Vector256<float> x)
    {
        var (s, oms) = SigmoidBoth(x);
        var xc = Avx.Min(C(1e30f), Avx.Max(C(-1e30f), x));
        return Fm(s * xc, oms, s);
    }

    // </generic>

    // ------------------------------------------------------------------ double-precision scalar references

    /// <summary>ln(1 + x) in double, accurate near 0.</summary>
    public static double Log1p(double x)
    {
        double u = 1.0 + x;
        if (u == 1.0) return x;
        if (double.IsPositiveInfinity(u)) return u;
        return Math.Log(u) * (x / (u - 1.0));
    }

    /// <summary>exp(x) − 1 in double, accurate near 0.</summary>
    public static double Expm1(double x)
    {
        double u = Math.Exp(x);
        if (u == 1.0) return x;
        double um1 = u - 1.0;
        if (um1 == -1.0) return -1.0;
        if (double.IsPositiveInfinity(u)) return u;
        return um1 * (x / Math.Log(u));
    }

    /// <summary>sigmoid(x) in double without overflow.</summary>
    public static double Sigmoid(double x)
    {
        if (x >= 0) return 1.0 / (1.0 + Math.Exp(-x));
        double e = Math.Exp(x);
        return e / (1.0 + e);
    }

    /// <summary>softplus(x) in double.</summary>
    public static double Softplus(double x) => Math.Max(x, 0.0) + Log1p(Math.Exp(-Math.Abs(x)));

    /// <summary>silu(x) in double; silu(−∞) = −0.</summary>
    public static double Silu(double x)
    {
        if (double.IsNegativeInfinity(x)) return -0.0;
        return x * Sigmoid(x);
    }

    /// <summary>d silu/dx in double.</summary>
    public static double SiluDerivative(double x)
    {
        if (double.IsNegativeInfinity(x)) return 0.0;
        if (double.IsPositiveInfinity(x)) return 1.0;
        double s = Sigmoid(x), oms = Sigmoid(-x);
        return s + x * s * oms;
    }
}
