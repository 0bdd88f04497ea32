using System.Numerics;
using NormalizingFlows.Autograd;

namespace NormalizingFlows.Transforms;

/// <summary>The inverse of a transform: its Forward is the inner Inverse and vice versa (e.g. IAF = inverse MAF).</summary>
public sealed class InverseTransform<T> : Transform<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Wraps <paramref name="inner"/>.</summary>
    public InverseTransform(Transform<T> inner) : base(inner.Features, inner.ContextFeatures)
        => Inner = RegisterModule("inner", inner);

    /// <summary>The wrapped transform.</summary>
    public Transform<T> Inner { get; }

    /// <inheritdoc/>
    public override (Var<T> Y, Var<T> LogAbsDet) Forward(Var<T> x, Var<T>? context = null) => Inner.Inverse(x, context);

    /// <inheritdoc/>
    public override (Var<T> X, Var<T> LogAbsDet) Inverse(Var<T> y, Var<T>? context = null) => Inner.Forward(y, context);
}
