using System.Numerics;
using NormalizingFlows.Autograd;
using NormalizingFlows.Tensors;
using NormalizingFlows.Tensors.Kernels;

namespace NormalizingFlows.Nn;

/// <summary>
/// Inverted dropout: in training each element is zeroed with probability p and the survivors are scaled by
/// 1/(1 − p), so evaluation (the identity) needs no rescaling. The masks come from a seeded <see cref="Rng"/>.
/// </summary>
public sealed class Dropout<T> : Module<T>, ILayer<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <inheritdoc/>
    protected override bool TreatsRowsIndependently => !Training || P == 0; // draws from one shared generator

    private readonly Rng _rng;

    /// <summary>Creates the layer with drop probability <paramref name="p"/> in [0, 1].</summary>
    public Dropout(double p, Rng rng)
    {
        if (!(p >= 0 && p <= 1)) throw new ArgumentOutOfRangeException(nameof(p), p, "dropout probability must lie in [0, 1]");
        ArgumentNullException.ThrowIfNull(rng);
        P = p;
        _rng = rng;
    }

    /// <summary>Drop probability.</summary>
    public double P { get; }

    /// <inheritdoc/>
    public Var<T> Forward(Var<T> x)
    {
        if (!Training || P == 0) return x;
        var mask = Tensor<T>.EmptyLike(x.Value);
        var ms = mask.Span;
        if (P >= 1) ms.Clear();
        else
        {
            T keep = T.CreateTruncating(1.0 / (1.0 - P));
            for (int i = 0; i < ms.Length; i++) ms[i] = _rng.NextDouble() < P ? T.Zero : keep;
        }
        return ApplyMask(x, mask);
    }

    /// <summary>y = x∘mask with a fixed mask of the same shape (the dropout op itself; gradient gy∘mask).</summary>
    public static Var<T> ApplyMask(Var<T> x, Tensor<T> mask)
    {
        if (!mask.SameShape(x.Value)) throw new ArgumentException($"Dropout: mask {mask.ShapeString} differs from input {x.Value.ShapeString}");
        var y = Tensor<T>.EmptyLike(x.Value);
        Elementwise.Multiply(x.Value.ReadOnlySpan, mask.ReadOnlySpan, y.Span);
        if (!(GradMode.IsEnabled && x.RequiresGrad)) return new Var<T>(y);
        return new Var<T>(y, [x], o => Elementwise.MultiplyAdd(o.Grad!.ReadOnlySpan, mask.ReadOnlySpan, x.GradBuffer().Span));
    }
}
