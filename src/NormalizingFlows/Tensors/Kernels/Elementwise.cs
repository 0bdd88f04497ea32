using System.Numerics;

namespace NormalizingFlows.Tensors.Kernels;

/// <summary>
/// Elementwise kernels on spans: forward maps (destination[i] = f(x[i])) and fused backward maps that accumulate
/// (gx[i] += gy[i]·f'(x[i])). The destination may alias the input for forward maps. NaN propagates.
/// (Skeleton: scalar reference implementations; the SIMD kernels replace this file keeping the signatures.)
/// </summary>
public static class Elementwise
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

    /// <summary>y = exp(x).</summary>
    public static void Exp<T>(ReadOnlySpan<T> x, Span<T> y) where T : unmanaged, IFloatingPointIeee754<T>
    { Check(x, y); for (int i = 0; i < x.Length; i++) y[i] = T.Exp(x[i]); }

    /// <summary>y = ln(x).</summary>
    public static void Log<T>(ReadOnlySpan<T> x, Span<T> y) where T : unmanaged, IFloatingPointIeee754<T>
    { Check(x, y); for (int i = 0; i < x.Length; i++) y[i] = T.Log(x[i]); }

    /// <summary>y = ln(1 + x), accurate for small x.</summary>
    public static void Log1p<T>(ReadOnlySpan<T> x, Span<T> y) where T : unmanaged, IFloatingPointIeee754<T>
    { Check(x, y); for (int i = 0; i < x.Length; i++) y[i] = T.CreateTruncating(Math.Log(1.0 + double.CreateTruncating(x[i]))); }

    /// <summary>y = tanh(x).</summary>
    public static void Tanh<T>(ReadOnlySpan<T> x, Span<T> y) where T : unmanaged, IFloatingPointIeee754<T>
    { Check(x, y); for (int i = 0; i < x.Length; i++) y[i] = T.Tanh(x[i]); }

    /// <summary>y = 1 / (1 + exp(−x)), saturating without overflow.</summary>
    public static void Sigmoid<T>(ReadOnlySpan<T> x, Span<T> y) where T : unmanaged, IFloatingPointIeee754<T>
    {
        Check(x, y);
        for (int i = 0; i < x.Length; i++)
        {
            T v = x[i];
            if (v >= T.Zero) y[i] = T.One / (T.One + T.Exp(-v));
            else { T e = T.Exp(v); y[i] = e / (T.One + e); }
        }
    }

    /// <summary>y = ln(1 + exp(x)), computed as max(x, 0) + log1p(exp(−|x|)).</summary>
    public static void Softplus<T>(ReadOnlySpan<T> x, Span<T> y) where T : unmanaged, IFloatingPointIeee754<T>
    {
        Check(x, y);
        for (int i = 0; i < x.Length; i++)
        {
            double v = double.CreateTruncating(x[i]);
            y[i] = T.CreateTruncating(Math.Max(v, 0) + Math.Log(1 + Math.Exp(-Math.Abs(v))));
        }
    }

    /// <summary>y = max(x, 0).</summary>
    public static void Relu<T>(ReadOnlySpan<T> x, Span<T> y) where T : unmanaged, IFloatingPointIeee754<T>
    { Check(x, y); for (int i = 0; i < x.Length; i++) y[i] = x[i] > T.Zero ? x[i] : T.Zero; }

    /// <summary>y = x for x &gt; 0, slope·x otherwise.</summary>
    public static void LeakyRelu<T>(ReadOnlySpan<T> x, T slope, Span<T> y) where T : unmanaged, IFloatingPointIeee754<T>
    { Check(x, y); for (int i = 0; i < x.Length; i++) y[i] = x[i] > T.Zero ? x[i] : slope * x[i]; }

    /// <summary>y = x for x &gt; 0, alpha·(exp(x) − 1) otherwise.</summary>
    public static void Elu<T>(ReadOnlySpan<T> x, T alpha, Span<T> y) where T : unmanaged, IFloatingPointIeee754<T>
    {
        Check(x, y);
        for (int i = 0; i < x.Length; i++)
            y[i] = x[i] > T.Zero ? x[i] : alpha * T.CreateTruncating(Math.Exp(double.CreateTruncating(x[i])) - 1.0);
    }

    /// <summary>y = x·sigmoid(x).</summary>
    public static void Silu<T>(ReadOnlySpan<T> x, Span<T> y) where T : unmanaged, IFloatingPointIeee754<T>
    {
        Check(x, y);
        for (int i = 0; i < x.Length; i++) { T v = x[i]; y[i] = v / (T.One + T.Exp(-v)); }
    }

    /// <summary>y = x².</summary>
    public static void Square<T>(ReadOnlySpan<T> x, Span<T> y) where T : unmanaged, IFloatingPointIeee754<T>
    { Check(x, y); for (int i = 0; i < x.Length; i++) y[i] = x[i] * x[i]; }

    /// <summary>y = √x.</summary>
    public static void Sqrt<T>(ReadOnlySpan<T> x, Span<T> y) where T : unmanaged, IFloatingPointIeee754<T>
    { Check(x, y); for (int i = 0; i < x.Length; i++) y[i] = T.Sqrt(x[i]); }

    /// <summary>y = |x|.</summary>
    public static void Abs<T>(ReadOnlySpan<T> x, Span<T> y) where T : unmanaged, IFloatingPointIeee754<T>
    { Check(x, y); for (int i = 0; i < x.Length; i++) y[i] = T.Abs(x[i]); }

    /// <summary>y = a + b.</summary>
    public static void Add<T>(ReadOnlySpan<T> a, ReadOnlySpan<T> b, Span<T> y) where T : unmanaged, IFloatingPointIeee754<T>
    { Check(a, b, y); for (int i = 0; i < a.Length; i++) y[i] = a[i] + b[i]; }

    /// <summary>y = a − b.</summary>
    public static void Subtract<T>(ReadOnlySpan<T> a, ReadOnlySpan<T> b, Span<T> y) where T : unmanaged, IFloatingPointIeee754<T>
    { Check(a, b, y); for (int i = 0; i < a.Length; i++) y[i] = a[i] - b[i]; }

    /// <summary>y = a·b.</summary>
    public static void Multiply<T>(ReadOnlySpan<T> a, ReadOnlySpan<T> b, Span<T> y) where T : unmanaged, IFloatingPointIeee754<T>
    { Check(a, b, y); for (int i = 0; i < a.Length; i++) y[i] = a[i] * b[i]; }

    /// <summary>y = a / b.</summary>
    public static void Divide<T>(ReadOnlySpan<T> a, ReadOnlySpan<T> b, Span<T> y) where T : unmanaged, IFloatingPointIeee754<T>
    { Check(a, b, y); for (int i = 0; i < a.Length; i++) y[i] = a[i] / b[i]; }

    /// <summary>y = scale·x + shift.</summary>
    public static void ScaleShift<T>(ReadOnlySpan<T> x, T scale, T shift, Span<T> y) where T : unmanaged, IFloatingPointIeee754<T>
    { Check(x, y); for (int i = 0; i < x.Length; i++) y[i] = scale * x[i] + shift; }

    /// <summary>y += alpha·x.</summary>
    public static void Axpy<T>(T alpha, ReadOnlySpan<T> x, Span<T> y) where T : unmanaged, IFloatingPointIeee754<T>
    { Check(x, y); for (int i = 0; i < x.Length; i++) y[i] += alpha * x[i]; }

    /// <summary>y += a·b.</summary>
    public static void MultiplyAdd<T>(ReadOnlySpan<T> a, ReadOnlySpan<T> b, Span<T> y) where T : unmanaged, IFloatingPointIeee754<T>
    { Check(a, b, y); for (int i = 0; i < a.Length; i++) y[i] += a[i] * b[i]; }

    /// <summary>y = min(max(x, lo), hi).</summary>
    public static void Clamp<T>(ReadOnlySpan<T> x, T lo, T hi, Span<T> y) where T : unmanaged, IFloatingPointIeee754<T>
    { Check(x, y); for (int i = 0; i < x.Length; i++) y[i] = T.Min(T.Max(x[i], lo), hi); }

    // ------------------------------------------------------------ fused backward (accumulate into gx)

    /// <summary>gx += gy·y where y = exp(x).</summary>
    public static void ExpBackward<T>(ReadOnlySpan<T> y, ReadOnlySpan<T> gy, Span<T> gx) where T : unmanaged, IFloatingPointIeee754<T>
        => MultiplyAdd(gy, y, gx);

    /// <summary>gx += gy / x (for y = ln x).</summary>
    public static void LogBackward<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> gy, Span<T> gx) where T : unmanaged, IFloatingPointIeee754<T>
    { Check(x, gy, gx); for (int i = 0; i < x.Length; i++) gx[i] += gy[i] / x[i]; }

    /// <summary>gx += gy / (1 + x) (for y = log1p x).</summary>
    public static void Log1pBackward<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> gy, Span<T> gx) where T : unmanaged, IFloatingPointIeee754<T>
    { Check(x, gy, gx); for (int i = 0; i < x.Length; i++) gx[i] += gy[i] / (T.One + x[i]); }

    /// <summary>gx += gy·(1 − y²) where y = tanh(x).</summary>
    public static void TanhBackward<T>(ReadOnlySpan<T> y, ReadOnlySpan<T> gy, Span<T> gx) where T : unmanaged, IFloatingPointIeee754<T>
    { Check(y, gy, gx); for (int i = 0; i < y.Length; i++) gx[i] += gy[i] * (T.One - y[i] * y[i]); }

    /// <summary>gx += gy·y·(1 − y) where y = sigmoid(x).</summary>
    public static void SigmoidBackward<T>(ReadOnlySpan<T> y, ReadOnlySpan<T> gy, Span<T> gx) where T : unmanaged, IFloatingPointIeee754<T>
    { Check(y, gy, gx); for (int i = 0; i < y.Length; i++) gx[i] += gy[i] * y[i] * (T.One - y[i]); }

    /// <summary>gx += gy·sigmoid(x) (for y = softplus x).</summary>
    public static void SoftplusBackward<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> gy, Span<T> gx) where T : unmanaged, IFloatingPointIeee754<T>
    {
        Check(x, gy, gx);
        for (int i = 0; i < x.Length; i++)
        {
            T v = x[i];
            T s = v >= T.Zero ? T.One / (T.One + T.Exp(-v)) : T.Exp(v) / (T.One + T.Exp(v));
            gx[i] += gy[i] * s;
        }
    }

    /// <summary>gx += gy·[x &gt; 0].</summary>
    public static void ReluBackward<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> gy, Span<T> gx) where T : unmanaged, IFloatingPointIeee754<T>
    { Check(x, gy, gx); for (int i = 0; i < x.Length; i++) if (x[i] > T.Zero) gx[i] += gy[i]; }

    /// <summary>gx += gy·(x &gt; 0 ? 1 : slope).</summary>
    public static void LeakyReluBackward<T>(ReadOnlySpan<T> x, T slope, ReadOnlySpan<T> gy, Span<T> gx) where T : unmanaged, IFloatingPointIeee754<T>
    { Check(x, gy, gx); for (int i = 0; i < x.Length; i++) gx[i] += x[i] > T.Zero ? gy[i] : slope * gy[i]; }

    /// <summary>gx += gy·(x &gt; 0 ? 1 : y + alpha) where y = elu(x).</summary>
    public static void EluBackward<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> y, T alpha, ReadOnlySpan<T> gy, Span<T> gx) where T : unmanaged, IFloatingPointIeee754<T>
    { Check(x, gy, gx); for (int i = 0; i < x.Length; i++) gx[i] += x[i] > T.Zero ? gy[i] : gy[i] * (y[i] + alpha); }

    /// <summary>gx += gy·(s + x·s·(1 − s)), s = sigmoid(x) (for y = silu x).</summary>
    public static void SiluBackward<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> gy, Span<T> gx) where T : unmanaged, IFloatingPointIeee754<T>
    {
        Check(x, gy, gx);
        for (int i = 0; i < x.Length; i++)
        {
            T v = x[i];
            T s = v >= T.Zero ? T.One / (T.One + T.Exp(-v)) : T.Exp(v) / (T.One + T.Exp(v));
            gx[i] += gy[i] * (s + v * s * (T.One - s));
        }
    }
}
