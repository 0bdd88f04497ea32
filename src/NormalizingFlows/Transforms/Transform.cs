using System.Numerics;
using NormalizingFlows.Autograd;
using NormalizingFlows.Nn;
using NormalizingFlows.Tensors;

namespace NormalizingFlows.Transforms;

/// <summary>
/// Base class of the transforms: a <see cref="Module{T}"/> (so parameters and state save and load by name) that maps
/// [N, <see cref="Features"/>] to [N, Features], optionally conditioned on a [N, <see cref="ContextFeatures"/>] context.
/// </summary>
public abstract class Transform<T> : Module<T>, ITransform<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Creates a transform of <paramref name="features"/> features (and <paramref name="contextFeatures"/> context features, 0 for none).</summary>
    protected Transform(int features, int contextFeatures = 0)
    {
        if (features <= 0) throw new ArgumentOutOfRangeException(nameof(features), features, "a transform needs at least one feature");
        if (contextFeatures < 0) throw new ArgumentOutOfRangeException(nameof(contextFeatures), contextFeatures, "must be ≥ 0");
        Features = features;
        ContextFeatures = contextFeatures;
    }

    /// <summary>Number of features of the data it maps.</summary>
    public int Features { get; }

    /// <summary>Number of context features it is conditioned on (0: unconditional; a context passed anyway is ignored).</summary>
    public int ContextFeatures { get; }

    /// <inheritdoc/>
    public abstract (Var<T> Y, Var<T> LogAbsDet) Forward(Var<T> x, Var<T>? context = null);

    /// <inheritdoc/>
    public abstract (Var<T> X, Var<T> LogAbsDet) Inverse(Var<T> y, Var<T>? context = null);

    /// <summary>
    /// The inverse map alone, without log|det J| (what sampling needs). The default is <see cref="Inverse"/>'s x; a
    /// transform whose log-determinant costs real work (a continuous flow's trace) overrides it, and so do the
    /// containers, so that the saving reaches it.
    /// </summary>
    public virtual Var<T> InverseWithoutLogDet(Var<T> y, Var<T>? context = null) => Inverse(y, context).X;

    /// <summary>Throws a clear error unless <paramref name="x"/> is [N, Features] and the context fits.</summary>
    protected void CheckShapes(Var<T> x, Var<T>? context)
    {
        var v = x.Value;
        if (v.Rank != 2 || v.Dim(1) != Features)
            throw new ArgumentException($"{TypeNames.Of(this)}: input must be [batch, {Features}], got {v.ShapeString}");
        if (ContextFeatures > 0)
        {
            if (context is null)
                throw new ArgumentException($"{TypeNames.Of(this)} is conditional: it needs a context of [batch, {ContextFeatures}]");
            var c = context.Value;
            if (c.Rank != 2 || c.Dim(1) != ContextFeatures || c.Dim(0) != v.Dim(0))
                throw new ArgumentException($"{TypeNames.Of(this)}: context must be [{v.Dim(0)}, {ContextFeatures}], got {c.ShapeString}");
        }
    }

    /// <summary>A constant zero log-determinant for <paramref name="rows"/> rows.</summary>
    protected static Var<T> ZeroLogDet(int rows) => new(Tensor<T>.Zeros(rows));
}
