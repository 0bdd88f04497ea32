using System.Numerics;
using NormalizingFlows.Nn;
using NormalizingFlows.Tensors;
using NormalizingFlows.Transforms.Splines;

namespace NormalizingFlows.Transforms.Autoregressive;

/// <summary>
/// Masked spline autoregressive transform (MAF with splines, Durkan et al. 2019): y_i = s(x_i; θ_i(x_&lt;i, c)) — an
/// <see cref="AutoregressiveTransform{T}"/> with a <see cref="SplineUpdate"/> (rational-quadratic with identity tails:
/// MADE multiplier 3K − 1). Fast density (Forward, one MADE pass), slow sampling (Inverse, D passes).
/// </summary>
/// <param name="features">Features D.</param>
/// <param name="spline">The spline family.</param>
/// <param name="rng">Seeds the MADE.</param>
/// <param name="contextFeatures">Context features C.</param>
/// <param name="conditioner">MADE settings (default <see cref="ConditionerOptions.Default"/>).</param>
/// <param name="order">The MADE order.</param>
/// <param name="customOrder">A custom order (overrides <paramref name="order"/>).</param>
public sealed class MaskedSplineAutoregressive<T>(int features, IElementwiseSpline spline, Rng rng, int contextFeatures = 0,
    ConditionerOptions? conditioner = null, MadeOrder order = MadeOrder.Natural, int[]? customOrder = null)
    : AutoregressiveTransform<T>(features, new SplineUpdate(spline), rng, contextFeatures, (conditioner ?? ConditionerOptions.Default).ForMade(), order, customOrder)
    where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>A rational-quadratic spline MAF with <paramref name="bins"/> bins on [−bound, bound] and identity (linear) tails.</summary>
    public static MaskedSplineAutoregressive<T> RationalQuadratic(int features, Rng rng, int bins = 8, double bound = 3.0, int contextFeatures = 0,
        ConditionerOptions? conditioner = null, MadeOrder order = MadeOrder.Natural, double minDerivative = 1e-3)
        => new(features, new RationalQuadraticSpline(bins, SplineDomain.Symmetric(bound), minDerivative: minDerivative), rng, contextFeatures, conditioner, order);

    /// <summary>The spline family.</summary>
    public IElementwiseSpline Spline => ((SplineUpdate)Update).Spline;
}
