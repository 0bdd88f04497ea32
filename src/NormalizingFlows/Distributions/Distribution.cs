using System.Numerics;
using NormalizingFlows.Autograd;
using NormalizingFlows.Nn;
using NormalizingFlows.Tensors;

namespace NormalizingFlows.Distributions;

/// <summary>Base class of distributions: a module (learnable parameters save and load) with shape checks.</summary>
public abstract class Distribution<T> : Module<T>, IDistribution<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Creates a distribution over <paramref name="features"/> features with <paramref name="contextFeatures"/> context features.</summary>
    protected Distribution(int features, int contextFeatures = 0)
    {
        if (features <= 0) throw new ArgumentOutOfRangeException(nameof(features), features, "a distribution needs at least one feature");
        Features = features;
        ContextFeatures = contextFeatures;
    }

    /// <inheritdoc/>
    public int Features { get; }

    /// <summary>Context features it is conditioned on (0: unconditional).</summary>
    public int ContextFeatures { get; }

    /// <inheritdoc/>
    public abstract Var<T> LogProb(Var<T> x, Var<T>? context = null);

    /// <inheritdoc/>
    public abstract Var<T> Sample(int n, Rng rng, Var<T>? context = null);

    /// <summary>Throws unless x is [N, Features] (and the context fits when conditional).</summary>
    protected void CheckInput(Var<T> x, Var<T>? context)
    {
        var v = x.Value;
        if (v.Rank != 2 || v.Dim(1) != Features)
            throw new ArgumentException($"{TypeNames.Of(this)}: input must be [batch, {Features}], got {v.ShapeString}");
        if (ContextFeatures > 0) CheckContext(context, v.Dim(0));
    }

    /// <summary>Throws unless the context is [rows, ContextFeatures] (when conditional).</summary>
    protected void CheckContext(Var<T>? context, int rows)
    {
        if (ContextFeatures == 0) return;
        if (context is null) throw new ArgumentException($"{TypeNames.Of(this)} is conditional: it needs a context of [batch, {ContextFeatures}]");
        var c = context.Value;
        if (c.Rank != 2 || c.Dim(1) != ContextFeatures || c.Dim(0) != rows)
            throw new ArgumentException($"{TypeNames.Of(this)}: context must be [{rows}, {ContextFeatures}], got {c.ShapeString}");
    }

    /// <summary>Throws unless n is non-negative.</summary>
    protected static void CheckCount(int n)
    {
        if (n < 0) throw new ArgumentOutOfRangeException(nameof(n), n, "the number of samples must be ≥ 0");
    }

    /// <summary>ln(2π).</summary>
    protected const double Log2Pi = 1.8378770664093453;
}
