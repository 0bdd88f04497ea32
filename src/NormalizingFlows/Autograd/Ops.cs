using System.Numerics;
using NormalizingFlows.Tensors;
using NormalizingFlows.Tensors.Kernels;

namespace NormalizingFlows.Autograd;

/// <summary>
/// Differentiable operations on <see cref="Var{T}"/>. Each op computes its value with the span kernels and, when
/// gradients are being recorded, one node whose backward function accumulates into its inputs' gradients.
/// Binary ops broadcast as NumPy does for the 2-D patterns used by flows: equal shapes, a scalar, a row vector
/// ([C] or [1, C]) against [N, C], or a column ([N, 1]) against [N, C].
/// </summary>
public static partial class Ops
{
    internal static bool Record<T>(Var<T> a) where T : unmanaged, IFloatingPointIeee754<T>
        => GradMode.IsEnabled && a.RequiresGrad;

    internal static bool Record<T>(Var<T> a, Var<T> b) where T : unmanaged, IFloatingPointIeee754<T>
        => GradMode.IsEnabled && (a.RequiresGrad || b.RequiresGrad);

    internal static bool Record<T>(ReadOnlySpan<Var<T>> xs) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (!GradMode.IsEnabled) return false;
        foreach (var x in xs) if (x.RequiresGrad) return true;
        return false;
    }

    // ================================================================= unary elementwise

    private delegate void Forward<T>(ReadOnlySpan<T> x, Span<T> y) where T : unmanaged, IFloatingPointIeee754<T>;

    /// <summary>exp(x).</summary>
    public static Var<T> Exp<T>(Var<T> x) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var y = Tensor<T>.EmptyLike(x.Value);
        Elementwise.Exp(x.Value.ReadOnlySpan, y.Span);
        if (!Record(x)) return ConstantNode<T>.Create(y);
        return new Var<T>(y, [x], o => Elementwise.ExpBackward(o.Value.ReadOnlySpan, o.Grad!.ReadOnlySpan, x.GradBuffer().Span));
    }

    /// <summary>ln(x).</summary>
    public static Var<T> Log<T>(Var<T> x) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var y = Tensor<T>.EmptyLike(x.Value);
        Elementwise.Log(x.Value.ReadOnlySpan, y.Span);
        if (!Record(x)) return ConstantNode<T>.Create(y);
        return new Var<T>(y, [x], o => Elementwise.LogBackward(x.Value.ReadOnlySpan, o.Grad!.ReadOnlySpan, x.GradBuffer().Span));
    }

    /// <summary>ln(1 + x).</summary>
    public static Var<T> Log1p<T>(Var<T> x) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var y = Tensor<T>.EmptyLike(x.Value);
        Elementwise.Log1p(x.Value.ReadOnlySpan, y.Span);
        if (!Record(x)) return ConstantNode<T>.Create(y);
        return new Var<T>(y, [x], o => Elementwise.Log1pBackward(x.Value.ReadOnlySpan, o.Grad!.ReadOnlySpan, x.GradBuffer().Span));
    }

    /// <summary>tanh(x).</summary>
    public static Var<T> Tanh<T>(Var<T> x) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var y = Tensor<T>.EmptyLike(x.Value);
        Elementwise.Tanh(x.Value.ReadOnlySpan, y.Span);
        if (!Record(x)) return ConstantNode<T>.Create(y);
        return new Var<T>(y, [x], o => Elementwise.TanhBackward(o.Value.ReadOnlySpan, o.Grad!.ReadOnlySpan, x.GradBuffer().Span));
    }

    /// <summary>1 / (1 + exp(−x)).</summary>
    public static Var<T> Sigmoid<T>(Var<T> x) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var y = Tensor<T>.EmptyLike(x.Value);
        Elementwise.Sigmoid(x.Value.ReadOnlySpan, y.Span);
        if (!Record(x)) return ConstantNode<T>.Create(y);
        return new Var<T>(y, [x], o => Elementwise.SigmoidBackward(o.Value.ReadOnlySpan, o.Grad!.ReadOnlySpan, x.GradBuffer().Span));
    }

    /// <summary>ln(1 + exp(x)).</summary>
    public static Var<T> Softplus<T>(Var<T> x) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var y = Tensor<T>.EmptyLike(x.Value);
        Elementwise.Softplus(x.Value.ReadOnlySpan, y.Span);
        if (!Record(x)) return ConstantNode<T>.Create(y);
        return new Var<T>(y, [x], o => Elementwise.SoftplusBackward(x.Value.ReadOnlySpan, o.Grad!.ReadOnlySpan, x.GradBuffer().Span));
    }

    /// <summary>max(x, 0).</summary>
    public static Var<T> Relu<T>(Var<T> x) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var y = Tensor<T>.EmptyLike(x.Value);
        Elementwise.Relu(x.Value.ReadOnlySpan, y.Span);
        if (!Record(x)) return ConstantNode<T>.Create(y);
        return new Var<T>(y, [x], o => Elementwise.ReluBackward(x.Value.ReadOnlySpan, o.Grad!.ReadOnlySpan, x.GradBuffer().Span));
    }

    /// <summary>x for x &gt; 0, slope·x otherwise.</summary>
    public static Var<T> LeakyRelu<T>(Var<T> x, double slope = 0.01) where T : unmanaged, IFloatingPointIeee754<T>
    {
        T s = T.CreateTruncating(slope);
        var y = Tensor<T>.EmptyLike(x.Value);
        Elementwise.LeakyRelu(x.Value.ReadOnlySpan, s, y.Span);
        if (!Record(x)) return ConstantNode<T>.Create(y);
        return new Var<T>(y, [x], o => Elementwise.LeakyReluBackward(x.Value.ReadOnlySpan, s, o.Grad!.ReadOnlySpan, x.GradBuffer().Span));
    }

    /// <summary>x for x &gt; 0, alpha·(exp(x) − 1) otherwise.</summary>
    public static Var<T> Elu<T>(Var<T> x, double alpha = 1.0) where T : unmanaged, IFloatingPointIeee754<T>
    {
        T a = T.CreateTruncating(alpha);
        var y = Tensor<T>.EmptyLike(x.Value);
        Elementwise.Elu(x.Value.ReadOnlySpan, a, y.Span);
        if (!Record(x)) return ConstantNode<T>.Create(y);
        return new Var<T>(y, [x], o => Elementwise.EluBackward(x.Value.ReadOnlySpan, o.Value.ReadOnlySpan, a, o.Grad!.ReadOnlySpan, x.GradBuffer().Span));
    }

    /// <summary>x·sigmoid(x).</summary>
    public static Var<T> Silu<T>(Var<T> x) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var y = Tensor<T>.EmptyLike(x.Value);
        Elementwise.Silu(x.Value.ReadOnlySpan, y.Span);
        if (!Record(x)) return ConstantNode<T>.Create(y);
        return new Var<T>(y, [x], o => Elementwise.SiluBackward(x.Value.ReadOnlySpan, o.Grad!.ReadOnlySpan, x.GradBuffer().Span));
    }

    /// <summary>x².</summary>
    public static Var<T> Square<T>(Var<T> x) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var y = Tensor<T>.EmptyLike(x.Value);
        Elementwise.Square(x.Value.ReadOnlySpan, y.Span);
        if (!Record(x)) return ConstantNode<T>.Create(y);
        return new Var<T>(y, [x], o => Elementwise.Axpy(T.CreateTruncating(2), Mul(o.Grad!, x.Value).ReadOnlySpan, x.GradBuffer().Span));
    }

    /// <summary>√x.</summary>
    public static Var<T> Sqrt<T>(Var<T> x) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var y = Tensor<T>.EmptyLike(x.Value);
        Elementwise.Sqrt(x.Value.ReadOnlySpan, y.Span);
        if (!Record(x)) return ConstantNode<T>.Create(y);
        return new Var<T>(y, [x], o =>
        {
            var gy = o.Grad!.ReadOnlySpan; var yv = o.Value.ReadOnlySpan; var gx = x.GradBuffer().Span;
            T half = T.CreateTruncating(0.5);
            for (int i = 0; i < gx.Length; i++) gx[i] += half * gy[i] / yv[i];
        });
    }

    /// <summary>|x| (gradient sign(x), 0 at 0).</summary>
    public static Var<T> Abs<T>(Var<T> x) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var y = Tensor<T>.EmptyLike(x.Value);
        Elementwise.Abs(x.Value.ReadOnlySpan, y.Span);
        if (!Record(x)) return ConstantNode<T>.Create(y);
        return new Var<T>(y, [x], o =>
        {
            var gy = o.Grad!.ReadOnlySpan; var xv = x.Value.ReadOnlySpan; var gx = x.GradBuffer().Span;
            for (int i = 0; i < gx.Length; i++) gx[i] += xv[i] > T.Zero ? gy[i] : xv[i] < T.Zero ? -gy[i] : T.Zero;
        });
    }

    /// <summary>scale·x + shift with constant scale and shift.</summary>
    public static Var<T> ScaleShift<T>(Var<T> x, double scale, double shift = 0) where T : unmanaged, IFloatingPointIeee754<T>
    {
        T s = T.CreateTruncating(scale), b = T.CreateTruncating(shift);
        var y = Tensor<T>.EmptyLike(x.Value);
        Elementwise.ScaleShift(x.Value.ReadOnlySpan, s, b, y.Span);
        if (!Record(x)) return ConstantNode<T>.Create(y);
        return StateNode<T, T>.Create(y, [x], s, static (s, o) => Elementwise.Axpy(s, o.Grad!.ReadOnlySpan, o.Inputs[0].GradBuffer().Span));
    }

    /// <summary>−x.</summary>
    public static Var<T> Neg<T>(Var<T> x) where T : unmanaged, IFloatingPointIeee754<T> => ScaleShift(x, -1.0);

    /// <summary>min(max(x, lo), hi); the gradient passes where lo &lt; x &lt; hi.</summary>
    public static Var<T> Clamp<T>(Var<T> x, double lo, double hi) where T : unmanaged, IFloatingPointIeee754<T>
    {
        T l = T.CreateTruncating(lo), h = T.CreateTruncating(hi);
        var y = Tensor<T>.EmptyLike(x.Value);
        Elementwise.Clamp(x.Value.ReadOnlySpan, l, h, y.Span);
        if (!Record(x)) return ConstantNode<T>.Create(y);
        return new Var<T>(y, [x], o =>
        {
            var gy = o.Grad!.ReadOnlySpan; var xv = x.Value.ReadOnlySpan; var gx = x.GradBuffer().Span;
            for (int i = 0; i < gx.Length; i++) if (xv[i] > l && xv[i] < h) gx[i] += gy[i];
        });
    }

    // small helper for backward code: elementwise product into a fresh (scope-tracked) tensor
    private static Tensor<T> Mul<T>(Tensor<T> a, Tensor<T> b) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var t = Tensor<T>.EmptyLike(a);
        Elementwise.Multiply(a.ReadOnlySpan, b.ReadOnlySpan, t.Span);
        return t;
    }
}
