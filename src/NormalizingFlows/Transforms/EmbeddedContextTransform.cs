using System.Numerics;
using NormalizingFlows.Autograd;
using NormalizingFlows.Nn;

namespace NormalizingFlows.Transforms;

/// <summary>
/// A transform that maps its context before passing it on: Forward(x, c) = inner.Forward(x, map(c)), map being a
/// context embedding (<see cref="Nn.Embeddings.ContextEmbedding{T}"/>), a context preprocessing, or both in a row.
/// Wrapping a flow's transform this way lets a trainer fit the map jointly with the flow (its parameters are
/// registered here as "summary", the flow's as "inner").
/// </summary>
public sealed class EmbeddedContextTransform<T> : Transform<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Wraps <paramref name="inner"/> (conditioned on the map's output) behind <paramref name="map"/>, which reads <paramref name="contextFeatures"/> values per row.</summary>
    public EmbeddedContextTransform(Transform<T> inner, Module<T> map, int contextFeatures)
        : base((inner ?? throw new ArgumentNullException(nameof(inner))).Features, contextFeatures)
    {
        ArgumentNullException.ThrowIfNull(map);
        if (map is not ILayer<T> layer) throw new ArgumentException($"the context map ({map.GetType().Name}) must be an ILayer", nameof(map));
        ArgumentOutOfRangeException.ThrowIfLessThan(contextFeatures, 1);
        Inner = RegisterModule("inner", inner);
        Map = RegisterModule("summary", map);
        _layer = layer;
    }

    private readonly ILayer<T> _layer;

    /// <summary>The wrapped transform, conditioned on the mapped context.</summary>
    public Transform<T> Inner { get; }

    /// <summary>The context map.</summary>
    public Module<T> Map { get; }

    /// <summary>The mapped context the inner transform reads.</summary>
    public Var<T> MapContext(Var<T> context) => _layer.Forward(context);

    /// <inheritdoc/>
    public override (Var<T> Y, Var<T> LogAbsDet) Forward(Var<T> x, Var<T>? context = null)
    {
        CheckShapes(x, context);
        return Inner.Forward(x, _layer.Forward(context!));
    }

    /// <inheritdoc/>
    public override (Var<T> X, Var<T> LogAbsDet) Inverse(Var<T> y, Var<T>? context = null)
    {
        CheckShapes(y, context);
        return Inner.Inverse(y, _layer.Forward(context!));
    }

    /// <inheritdoc/>
    public override Var<T> InverseWithoutLogDet(Var<T> y, Var<T>? context = null)
    {
        CheckShapes(y, context);
        return Inner.InverseWithoutLogDet(y, _layer.Forward(context!));
    }
}
