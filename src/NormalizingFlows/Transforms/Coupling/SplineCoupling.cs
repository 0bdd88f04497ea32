using System.Numerics;
using NormalizingFlows.Autograd;
using NormalizingFlows.Tensors;
using NormalizingFlows.Transforms.Splines;

namespace NormalizingFlows.Transforms.Coupling;

/// <summary>
/// Spline coupling layer (neural spline flows, Durkan et al. 2019; piecewise-linear/quadratic couplings, Müller et al.
/// 2019): each transformed feature goes through its own monotone spline whose parameters the conditioner computes
/// from [x_a, context]. Any <see cref="IElementwiseSpline"/> works: rational-quadratic on [−B, B] with identity tails
/// (<see cref="RationalQuadratic"/>), or piecewise-linear / piecewise-quadratic / rational-quadratic on [0, 1] for
/// unit-hypercube flows. Forward and Inverse both cost one conditioner pass plus the fused <see cref="SplineOp"/>.
/// </summary>
public sealed class SplineCoupling<T> : CouplingTransform<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Creates the layer with <paramref name="spline"/> (its ParametersPerElement outputs per transformed feature).</summary>
    public SplineCoupling(CouplingMask mask, IElementwiseSpline spline, Rng rng, int contextFeatures = 0, ConditionerOptions? conditioner = null)
        : base(mask, (spline ?? throw new ArgumentNullException(nameof(spline))).ParametersPerElement, rng, contextFeatures, conditioner,
            SplineIdentity.Parameters(spline))
        => Spline = spline;

    /// <summary>A rational-quadratic spline coupling with <paramref name="bins"/> bins on [−bound, bound] and identity tails (nflows/zuko NSF).</summary>
    public static SplineCoupling<T> RationalQuadratic(CouplingMask mask, Rng rng, int bins = 8, double bound = 3.0, int contextFeatures = 0,
        ConditionerOptions? conditioner = null, double minDerivative = 1e-3)
        => new(mask, new RationalQuadraticSpline(bins, SplineDomain.Symmetric(bound), minDerivative: minDerivative), rng, contextFeatures, conditioner);

    /// <summary>The spline family.</summary>
    public IElementwiseSpline Spline { get; }

    /// <inheritdoc/>
    protected override (Var<T> Output, Var<T> LogAbsDet) TransformFeatures(Var<T> input, Var<T> parameters, bool inverse)
        => SplineOp.Apply(Spline, input, parameters, inverse);
}

/// <summary>Unnormalised spline parameters that make a spline the identity (for initialising conditioners' output biases).</summary>
public static class SplineIdentity
{
    /// <summary>
    /// The ParametersPerElement values giving the identity map: rational-quadratic: widths and heights 0 (equal bins),
    /// derivatives <see cref="RationalQuadraticSpline.IdentityDerivativeParameter"/>; piecewise-linear and
    /// piecewise-quadratic: all 0 (uniform density). Other families: all 0.
    /// </summary>
    public static double[] Parameters(IElementwiseSpline spline)
    {
        ArgumentNullException.ThrowIfNull(spline);
        var p = new double[spline.ParametersPerElement];
        if (spline is RationalQuadraticSpline rq)
            for (int j = 2 * rq.Bins; j < p.Length; j++) p[j] = rq.IdentityDerivativeParameter;
        return p;
    }
}
