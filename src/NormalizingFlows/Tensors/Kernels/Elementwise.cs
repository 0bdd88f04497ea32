using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace NormalizingFlows.Tensors.Kernels;

/// <summary>
/// Elementwise kernels on spans: forward maps (destination[i] = f(x[i])) and fused backward maps that accumulate
/// (gx[i] += gy[i]·f'(x[i])). The destination may alias the input exactly (same start) for forward maps. NaN
/// propagates. Float runs fused AVX2/FMA kernels (a few ulp, see <see cref="VectorMath"/>); double runs scalar
/// double-precision math (≈ 1 ulp); arithmetic maps are vectorised for both. Spans of ≥ 16K–64K elements are split
/// over <see cref="WorkerPool"/>; results do not depend on the thread count.
/// </summary>
public static unsafe partial class Elementwise
{
    private static void Check<T>(ReadOnlySpan<T> x, Span<T> y)
    {
        if (x.Length != y.Length) throw new ArgumentException($"length mismatch: source {x.Length}, destination {y.Length}");
    }
    private static void Check<T>(ReadOnlySpan<T> a, ReadOnlySpan<T> b, Span<T> y)
    {
        if (a.Length != b.Length || a.Length != y.Length)
            throw new ArgumentException($"length mismatch: {a.Length}, {b.Length}, destination {y.Length}");
    }

    private static bool FastF<T>() => typeof(T) == typeof(float) && VectorMath.IsSupported;
    private static bool FastV<T>() where T : unmanaged => Vector256.IsHardwareAccelerated && Vector256<T>.IsSupported;
    private static double D<T>(T v) where T : IFloatingPointIeee754<T> => double.CreateTruncating(v);
    private static T R<T>(double v) where T : IFloatingPointIeee754<T> => T.CreateTruncating(v);

    private static void Map1<T, TOp>(ReadOnlySpan<T> a, Span<T> y, TOp op, int threshold) where T : unmanaged where TOp : unmanaged, IVec1<T>
    {
        fixed (T* pa = a, py = y)
            ElementwiseDriver.Run(new ElementwiseDriver.K1<T, TOp> { Op = op }, pa, null, null, null, py, a.Length, threshold);
    }
    private static void Map2<T, TOp>(ReadOnlySpan<T> a, ReadOnlySpan<T> b, Span<T> y, TOp op, int threshold) where T : unmanaged where TOp : unmanaged, IVec2<T>
    {
        fixed (T* pa = a, pb = b, py = y)
            ElementwiseDriver.Run(new ElementwiseDriver.K2<T, TOp> { Op = op }, pa, pb, null, null, py, a.Length, threshold);
    }
    private static void Map3<T, TOp>(ReadOnlySpan<T> a, ReadOnlySpan<T> b, ReadOnlySpan<T> c, Span<T> y, TOp op, int threshold) where T : unmanaged where TOp : unmanaged, IVec3<T>
    {
        fixed (T* pa = a, pb = b, pc = c, py = y)
            ElementwiseDriver.Run(new ElementwiseDriver.K3<T, TOp> { Op = op }, pa, pb, pc, null, py, a.Length, threshold);
    }
    private static void Map4<T, TOp>(ReadOnlySpan<T> a, ReadOnlySpan<T> b, ReadOnlySpan<T> c, ReadOnlySpan<T> d, Span<T> y, TOp op, int threshold) where T : unmanaged where TOp : unmanaged, IVec4<T>
    {
        fixed (T* pa = a, pb = b, pc = c, pd = d, py = y)
            ElementwiseDriver.Run(new ElementwiseDriver.K4<T, TOp> { Op = op }, pa, pb, pc, pd, py, a.Length, threshold);
    }

    private static ReadOnlySpan<float> F<T>(ReadOnlySpan<T> s) where T : struct => MemoryMarshal.Cast<T, float>(s);
    private static Span<float> F<T>(Span<T> s) where T : struct => MemoryMarshal.Cast<T, float>(s);
    private static float F<T>(T v) where T : struct => Unsafe.As<T, float>(ref v);

    private const int Costly = ElementwiseDriver.CostlyThreshold, Cheap = ElementwiseDriver.CheapThreshold;

    // ------------------------------------------------------------ transcendental forward maps

    /// <summary>y = exp(x).</summary>
    public static void Exp<T>(ReadOnlySpan<T> x, Span<T> y) where T : unmanaged, IFloatingPointIeee754<T>
    {
        Check(x, y);
        if (FastF<T>()) { Map1(F(x), F(y), default(ExpOp), Costly); return; }
        for (int i = 0; i < x.Length; i++) y[i] = R<T>(Math.Exp(D(x[i])));
    }

    /// <summary>y = ln(x).</summary>
    public static void Log<T>(ReadOnlySpan<T> x, Span<T> y) where T : unmanaged, IFloatingPointIeee754<T>
    {
        Check(x, y);
        if (FastF<T>()) { Map1(F(x), F(y), default(LogOp), Costly); return; }
        for (int i = 0; i < x.Length; i++) y[i] = R<T>(Math.Log(D(x[i])));
    }

    /// <summary>y = ln(1 + x), accurate for small x.</summary>
    public static void Log1p<T>(ReadOnlySpan<T> x, Span<T> y) where T : unmanaged, IFloatingPointIeee754<T>
    {
        Check(x, y);
        if (FastF<T>()) { Map1(F(x), F(y), default(Log1pOp), Costly); return; }
        for (int i = 0; i < x.Length; i++) y[i] = R<T>(VectorMath.Log1p(D(x[i])));
    }

    /// <summary>y = exp(x) − 1, accurate for small x.</summary>
    public static void Expm1<T>(ReadOnlySpan<T> x, Span<T> y) where T : unmanaged, IFloatingPointIeee754<T>
    {
        Check(x, y);
        for (int i = 0; i < x.Length; i++) y[i] = R<T>(VectorMath.Expm1(D(x[i])));
    }

    /// <summary>y = tanh(x).</summary>
    public static void Tanh<T>(ReadOnlySpan<T> x, Span<T> y) where T : unmanaged, IFloatingPointIeee754<T>
    {
        Check(x, y);
        if (FastF<T>()) { Map1(F(x), F(y), default(TanhOp), Costly); return; }
        for (int i = 0; i < x.Length; i++) y[i] = R<T>(Math.Tanh(D(x[i])));
    }

    /// <summary>y = 1 / (1 + exp(−x)), saturating without overflow.</summary>
    public static void Sigmoid<T>(ReadOnlySpan<T> x, Span<T> y) where T : unmanaged, IFloatingPointIeee754<T>
    {
        Check(x, y);
        if (FastF<T>()) { Map1(F(x), F(y), default(SigmoidOp), Costly); return; }
        for (int i = 0; i < x.Length; i++) y[i] = R<T>(VectorMath.Sigmoid(D(x[i])));
    }

    /// <summary>y = ln(1 + exp(x)), computed as max(x, 0) + log1p(exp(−|x|)).</summary>
    public static void Softplus<T>(ReadOnlySpan<T> x, Span<T> y) where T : unmanaged, IFloatingPointIeee754<T>
    {
        Check(x, y);
        if (FastF<T>()) { Map1(F(x), F(y), default(SoftplusOp), Costly); return; }
        for (int i = 0; i < x.Length; i++) y[i] = R<T>(VectorMath.Softplus(D(x[i])));
    }

    /// <summary>y = x for x &gt; 0, alpha·(exp(x) − 1) otherwise.</summary>
    public static void Elu<T>(ReadOnlySpan<T> x, T alpha, Span<T> y) where T : unmanaged, IFloatingPointIeee754<T>
    {
        Check(x, y);
        if (FastF<T>()) { Map1(F(x), F(y), new EluOp { Alpha = Vector256.Create(F(alpha)) }, Costly); return; }
        for (int i = 0; i < x.Length; i++)
            y[i] = x[i] > T.Zero ? x[i] : alpha * R<T>(VectorMath.Expm1(D(x[i])));
    }

    /// <summary>y = x·sigmoid(x) (silu(−∞) = −0).</summary>
    public static void Silu<T>(ReadOnlySpan<T> x, Span<T> y) where T : unmanaged, IFloatingPointIeee754<T>
    {
        Check(x, y);
        if (FastF<T>()) { Map1(F(x), F(y), default(SiluOp), Costly); return; }
        for (int i = 0; i < x.Length; i++) y[i] = R<T>(VectorMath.Silu(D(x[i])));
    }

    // ------------------------------------------------------------ simple maps

    /// <summary>y = max(x, 0) (NaN propagates; −0 gives +0).</summary>
    public static void Relu<T>(ReadOnlySpan<T> x, Span<T> y) where T : unmanaged, IFloatingPointIeee754<T>
    {
        Check(x, y);
        if (FastV<T>()) { Map1(x, y, default(ReluOp<T>), Cheap); return; }
        for (int i = 0; i < x.Length; i++) y[i] = x[i] > T.Zero || T.IsNaN(x[i]) ? x[i] : T.Zero;
    }

    /// <summary>y = x for x &gt; 0, slope·x otherwise.</summary>
    public static void LeakyRelu<T>(ReadOnlySpan<T> x, T slope, Span<T> y) where T : unmanaged, IFloatingPointIeee754<T>
    {
        Check(x, y);
        if (FastV<T>()) { Map1(x, y, new LeakyReluOp<T> { Slope = Vector256.Create(slope) }, Cheap); return; }
        for (int i = 0; i < x.Length; i++) y[i] = x[i] > T.Zero ? x[i] : slope * x[i];
    }

    /// <summary>y = x².</summary>
    public static void Square<T>(ReadOnlySpan<T> x, Span<T> y) where T : unmanaged, IFloatingPointIeee754<T>
    {
        Check(x, y);
        if (FastV<T>()) { Map1(x, y, default(SquareOp<T>), Cheap); return; }
        for (int i = 0; i < x.Length; i++) y[i] = x[i] * x[i];
    }

    /// <summary>y = √x.</summary>
    public static void Sqrt<T>(ReadOnlySpan<T> x, Span<T> y) where T : unmanaged, IFloatingPointIeee754<T>
    {
        Check(x, y);
        if (FastV<T>()) { Map1(x, y, default(SqrtOp<T>), Cheap); return; }
        for (int i = 0; i < x.Length; i++) y[i] = T.Sqrt(x[i]);
    }

    /// <summary>y = |x|.</summary>
    public static void Abs<T>(ReadOnlySpan<T> x, Span<T> y) where T : unmanaged, IFloatingPointIeee754<T>
    {
        Check(x, y);
        if (FastV<T>()) { Map1(x, y, default(AbsOp<T>), Cheap); return; }
        for (int i = 0; i < x.Length; i++) y[i] = T.Abs(x[i]);
    }

    /// <summary>y = a + b.</summary>
    public static void Add<T>(ReadOnlySpan<T> a, ReadOnlySpan<T> b, Span<T> y) where T : unmanaged, IFloatingPointIeee754<T>
    {
        Check(a, b, y);
        if (FastV<T>()) { Map2(a, b, y, default(AddOp<T>), Cheap); return; }
        for (int i = 0; i < a.Length; i++) y[i] = a[i] + b[i];
    }

    /// <summary>y = a − b.</summary>
    public static void Subtract<T>(ReadOnlySpan<T> a, ReadOnlySpan<T> b, Span<T> y) where T : unmanaged, IFloatingPointIeee754<T>
    {
        Check(a, b, y);
        if (FastV<T>()) { Map2(a, b, y, default(SubOp<T>), Cheap); return; }
        for (int i = 0; i < a.Length; i++) y[i] = a[i] - b[i];
    }

    /// <summary>y = a·b.</summary>
    public static void Multiply<T>(ReadOnlySpan<T> a, ReadOnlySpan<T> b, Span<T> y) where T : unmanaged, IFloatingPointIeee754<T>
    {
        Check(a, b, y);
        if (FastV<T>()) { Map2(a, b, y, default(MulOp<T>), Cheap); return; }
        for (int i = 0; i < a.Length; i++) y[i] = a[i] * b[i];
    }

    /// <summary>y = a / b.</summary>
    public static void Divide<T>(ReadOnlySpan<T> a, ReadOnlySpan<T> b, Span<T> y) where T : unmanaged, IFloatingPointIeee754<T>
    {
        Check(a, b, y);
        if (FastV<T>()) { Map2(a, b, y, default(DivOp<T>), Cheap); return; }
        for (int i = 0; i < a.Length; i++) y[i] = a[i] / b[i];
    }

    /// <summary>y = scale·x + shift.</summary>
    public static void ScaleShift<T>(ReadOnlySpan<T> x, T scale, T shift, Span<T> y) where T : unmanaged, IFloatingPointIeee754<T>
    {
        Check(x, y);
        if (FastV<T>()) { Map1(x, y, new ScaleShiftOp<T> { Scale = Vector256.Create(scale), Shift = Vector256.Create(shift) }, Cheap); return; }
        for (int i = 0; i < x.Length; i++) y[i] = scale * x[i] + shift;
    }

    /// <summary>y += alpha·x.</summary>
    public static void Axpy<T>(T alpha, ReadOnlySpan<T> x, Span<T> y) where T : unmanaged, IFloatingPointIeee754<T>
    {
        Check(x, y);
        if (FastV<T>()) { Map2(x, y, y, new AxpyOp<T> { Alpha = Vector256.Create(alpha) }, Cheap); return; }
        for (int i = 0; i < x.Length; i++) y[i] += alpha * x[i];
    }

    /// <summary>y += a·b.</summary>
    public static void MultiplyAdd<T>(ReadOnlySpan<T> a, ReadOnlySpan<T> b, Span<T> y) where T : unmanaged, IFloatingPointIeee754<T>
    {
        Check(a, b, y);
        if (FastV<T>()) { Map3(a, b, y, y, default(MulAddOp<T>), Cheap); return; }
        for (int i = 0; i < a.Length; i++) y[i] += a[i] * b[i];
    }

    /// <summary>y = min(max(x, lo), hi) (NaN propagates).</summary>
    public static void Clamp<T>(ReadOnlySpan<T> x, T lo, T hi, Span<T> y) where T : unmanaged, IFloatingPointIeee754<T>
    {
        Check(x, y);
        if (FastV<T>()) { Map1(x, y, new ClampOp<T> { Lo = Vector256.Create(lo), Hi = Vector256.Create(hi) }, Cheap); return; }
        for (int i = 0; i < x.Length; i++) y[i] = T.Min(T.Max(x[i], lo), hi);
    }

    // ------------------------------------------------------------ fused backward (accumulate into gx)

    /// <summary>gx += gy·y where y = exp(x).</summary>
    public static void ExpBackward<T>(ReadOnlySpan<T> y, ReadOnlySpan<T> gy, Span<T> gx) where T : unmanaged, IFloatingPointIeee754<T>
        => MultiplyAdd(gy, y, gx);

    /// <summary>gx += gy / x (for y = ln x).</summary>
    public static void LogBackward<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> gy, Span<T> gx) where T : unmanaged, IFloatingPointIeee754<T>
    {
        Check(x, gy, gx);
        if (FastV<T>()) { Map3(x, gy, gx, gx, default(LogBwdOp<T>), Cheap); return; }
        for (int i = 0; i < x.Length; i++) gx[i] += gy[i] / x[i];
    }

    /// <summary>gx += gy / (1 + x) (for y = log1p x).</summary>
    public static void Log1pBackward<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> gy, Span<T> gx) where T : unmanaged, IFloatingPointIeee754<T>
    {
        Check(x, gy, gx);
        if (FastV<T>()) { Map3(x, gy, gx, gx, default(Log1pBwdOp<T>), Cheap); return; }
        for (int i = 0; i < x.Length; i++) gx[i] += gy[i] / (T.One + x[i]);
    }

    /// <summary>gx += gy·(1 − y²) where y = tanh(x).</summary>
    public static void TanhBackward<T>(ReadOnlySpan<T> y, ReadOnlySpan<T> gy, Span<T> gx) where T : unmanaged, IFloatingPointIeee754<T>
    {
        Check(y, gy, gx);
        if (FastV<T>()) { Map3(y, gy, gx, gx, default(TanhBwdOp<T>), Cheap); return; }
        for (int i = 0; i < y.Length; i++) gx[i] += gy[i] * (T.One - y[i] * y[i]);
    }

    /// <summary>gx += gy·y·(1 − y) where y = sigmoid(x).</summary>
    public static void SigmoidBackward<T>(ReadOnlySpan<T> y, ReadOnlySpan<T> gy, Span<T> gx) where T : unmanaged, IFloatingPointIeee754<T>
    {
        Check(y, gy, gx);
        if (FastV<T>()) { Map3(y, gy, gx, gx, default(SigmoidBwdOp<T>), Cheap); return; }
        for (int i = 0; i < y.Length; i++) gx[i] += gy[i] * y[i] * (T.One - y[i]);
    }

    /// <summary>gx += gy·sigmoid(x) (for y = softplus x).</summary>
    public static void SoftplusBackward<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> gy, Span<T> gx) where T : unmanaged, IFloatingPointIeee754<T>
    {
        Check(x, gy, gx);
        if (FastF<T>()) { Map3(F(x), F(gy), F(gx), F(gx), default(SoftplusBwdOp), Costly); return; }
        for (int i = 0; i < x.Length; i++) gx[i] += gy[i] * R<T>(VectorMath.Sigmoid(D(x[i])));
    }

    /// <summary>gx += gy·[x &gt; 0].</summary>
    public static void ReluBackward<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> gy, Span<T> gx) where T : unmanaged, IFloatingPointIeee754<T>
    {
        Check(x, gy, gx);
        if (FastV<T>()) { Map3(x, gy, gx, gx, default(ReluBwdOp<T>), Cheap); return; }
        for (int i = 0; i < x.Length; i++) if (x[i] > T.Zero) gx[i] += gy[i];
    }

    /// <summary>gx += gy·(x &gt; 0 ? 1 : slope).</summary>
    public static void LeakyReluBackward<T>(ReadOnlySpan<T> x, T slope, ReadOnlySpan<T> gy, Span<T> gx) where T : unmanaged, IFloatingPointIeee754<T>
    {
        Check(x, gy, gx);
        if (FastV<T>()) { Map3(x, gy, gx, gx, new LeakyReluBwdOp<T> { Slope = Vector256.Create(slope) }, Cheap); return; }
        for (int i = 0; i < x.Length; i++) gx[i] += x[i] > T.Zero ? gy[i] : slope * gy[i];
    }

    /// <summary>gx += gy·(x &gt; 0 ? 1 : y + alpha) where y = elu(x).</summary>
    public static void EluBackward<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> y, T alpha, ReadOnlySpan<T> gy, Span<T> gx) where T : unmanaged, IFloatingPointIeee754<T>
    {
        Check(x, gy, gx);
        if (y.Length != x.Length) throw new ArgumentException($"length mismatch: x {x.Length}, y {y.Length}");
        if (FastV<T>()) { Map4(x, y, gy, gx, gx, new EluBwdOp<T> { Alpha = Vector256.Create(alpha) }, Cheap); return; }
        for (int i = 0; i < x.Length; i++) gx[i] += x[i] > T.Zero ? gy[i] : gy[i] * (y[i] + alpha);
    }

    /// <summary>gx += gy·(s + x·s·(1 − s)), s = sigmoid(x) (for y = silu x).</summary>
    public static void SiluBackward<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> gy, Span<T> gx) where T : unmanaged, IFloatingPointIeee754<T>
    {
        Check(x, gy, gx);
        if (FastF<T>()) { Map3(F(x), F(gy), F(gx), F(gx), default(SiluBwdOp), Costly); return; }
        for (int i = 0; i < x.Length; i++) gx[i] += gy[i] * R<T>(VectorMath.SiluDerivative(D(x[i])));
    }
}
