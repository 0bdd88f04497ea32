using System.Numerics;
using NormalizingFlows.Distributions;
using NormalizingFlows.Transforms;

namespace NormalizingFlows.Flows;

/// <summary>A flow conditioned on a context, p(x | c) (cINN): the same as <see cref="Flow{T}"/>, but a context is required.</summary>
public sealed class ConditionalFlow<T> : Flow<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Builds p(x | c); the transform (or the base) must take context features.</summary>
    public ConditionalFlow(Transform<T> transform, Distribution<T> baseDistribution) : base(transform, baseDistribution)
    {
        if (ContextFeatures == 0) throw new ArgumentException("a conditional flow needs a transform or base with context features");
    }
}
