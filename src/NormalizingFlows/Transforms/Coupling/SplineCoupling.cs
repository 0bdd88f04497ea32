using System.Numerics;
using NormalizingFlows.Tensors;
using NormalizingFlows.Transforms.Splines;

namespace NormalizingFlows.Transforms.Coupling;

/// <summary>
/// Spline coupling layer (neural spline flows, Durkan et al. 2019; piecewise-linear/quadratic couplings, Müller et al.
/// 2019) — a <see cref="CouplingTransform{T}"/> with a <see cref="SplineUpdate"/>: each transformed feature goes
/// through its own monotone spline (any <see cref="IElementwiseSpline"/>) whose parameters the conditioner computes
/// from [x_a, context].
/// </summary>
/// <param name="mask">Which features are transformed.</param>
/// <param name="spline">The spline family (its ParametersPerElement outputs per transformed feature).</param>
/// <param name="rng">Seeds the conditioner.</param>
/// <param name="contextFeatures">Context features C.</param>
/// <param name="conditioner">Conditioner settings (default <see cref="ConditionerOptions.Default"/>).</param>
public sealed class SplineCoupling<T>(CouplingMask mask, IElementwiseSpline spline, Rng rng, int contextFeatures = 0, ConditionerOptions? conditioner = null)
    : CouplingTransform<T>(mask, new SplineUpdate(spline), rng, contextFeatures, (conditioner ?? ConditionerOptions.Default).ForCoupling())
    where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>A rational-quadratic spline coupling with <paramref name="bins"/> bins on [−bound, bound] and identity tails (nflows/zuko NSF).</summary>
    public static SplineCoupling<T> RationalQuadratic(CouplingMask mask, Rng rng, int bins = 8, double bound = 3.0, int contextFeatures = 0,
        ConditionerOptions? conditioner = null, double minDerivative = 1e-3)
        => new(mask, new RationalQuadraticSpline(bins, SplineDomain.Symmetric(bound), minDerivative: minDerivative), rng, contextFeatures, conditioner);

    /// <summary>The spline family.</summary>
    public IElementwiseSpline Spline => ((SplineUpdate)Update).Spline;
}
