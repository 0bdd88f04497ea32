using System.Numerics;
using NormalizingFlows.Flows;
using NormalizingFlows.Nn;
using NormalizingFlows.Tensors;
using NormalizingFlows.Transforms;
using NormalizingFlows.Transforms.Autoregressive;
using NormalizingFlows.Transforms.Splines;

namespace NormalizingFlows.Tests.Transforms;

public static partial class TransformCatalog
{
    private static Transform<T> MafAffine<T>(Rng r, int d, int ctx = 0, ConditionerOptions? o = null, MadeOrder order = MadeOrder.Natural, AffineScale? s = null)
        where T : unmanaged, IFloatingPointIeee754<T> => new MaskedAffineAutoregressive<T>(d, r, ctx, o ?? Small, order, scale: s);

    private static Transform<T> MafSpline<T>(Rng r, int d, IElementwiseSpline spline, int ctx = 0, ConditionerOptions? o = null, MadeOrder order = MadeOrder.Natural)
        where T : unmanaged, IFloatingPointIeee754<T> => new MaskedSplineAutoregressive<T>(d, spline, r, ctx, o ?? Small, order);

    private static readonly ConditionerOptions TorchInitMade = ConditionerOptions.Default with { OutputInit = ConditionerOutputInit.Random };
    private static readonly RationalQuadraticSpline Rq4 = new(4, SplineDomain.Symmetric(3));

    /// <summary>Masked autoregressive transforms (MAF affine and spline), IAF, and the autoregressive builders.</summary>
    public static readonly TransformCase[] Autoregressive =
    [
        new("maf_affine", r => MafAffine<double>(r, 4), r => MafAffine<float>(r, 4), 4, Autoregressive: true),
        new("maf_affine_sigmoid_reversed", r => MafAffine<double>(r, 3, order: MadeOrder.Reversed, s: AffineScale.Sigmoid),
            r => MafAffine<float>(r, 3, order: MadeOrder.Reversed, s: AffineScale.Sigmoid), 3, Autoregressive: true),
        new("maf_affine_random_order_conditional", r => MafAffine<double>(r, 4, ctx: 2, order: MadeOrder.Random),
            r => MafAffine<float>(r, 4, ctx: 2, order: MadeOrder.Random), 4, ContextFeatures: 2, Autoregressive: true),
        new("maf_affine_residual", r => MafAffine<double>(r, 4, o: SmallResidual), r => MafAffine<float>(r, 4, o: SmallResidual), 4, Autoregressive: true),
        // D = 1: the only feature's parameters depend on the context alone (without one, MADE's input weights are all masked)
        new("maf_affine_one_feature_conditional", r => MafAffine<double>(r, 1, ctx: 2), r => MafAffine<float>(r, 1, ctx: 2), 1, ContextFeatures: 2, Autoregressive: true),
        new("maf_rqs", r => MafSpline<double>(r, 3, Rq4), r => MafSpline<float>(r, 3, Rq4), 3, Autoregressive: true),
        new("maf_rqs_factory_reversed", r => MaskedSplineAutoregressive<double>.RationalQuadratic(4, r, bins: 5, bound: 2, conditioner: Small, order: MadeOrder.Reversed),
            r => MaskedSplineAutoregressive<float>.RationalQuadratic(4, r, bins: 5, bound: 2, conditioner: Small, order: MadeOrder.Reversed), 4, Autoregressive: true),
        new("maf_rqs_conditional_residual", r => MafSpline<double>(r, 3, Rq4, 2, SmallResidual), r => MafSpline<float>(r, 3, Rq4, 2, SmallResidual), 3,
            ContextFeatures: 2, Autoregressive: true),
        new("maf_piecewise_quadratic_unit_inputs", r => MafSpline<double>(r, 3, new PiecewiseQuadraticSpline(4)), r => MafSpline<float>(r, 3, new PiecewiseQuadraticSpline(4)), 3,
            Autoregressive: true, Domain: InputDomain.UnitInterval),
        new("iaf_affine", r => new InverseTransform<double>(MafAffine<double>(r, 4)), r => new InverseTransform<float>(MafAffine<float>(r, 4)), 4, Autoregressive: true),
        new("iaf_affine_conditional", r => new InverseTransform<double>(MafAffine<double>(r, 3, ctx: 2, order: MadeOrder.Reversed)),
            r => new InverseTransform<float>(MafAffine<float>(r, 3, ctx: 2, order: MadeOrder.Reversed)), 3, ContextFeatures: 2, Autoregressive: true),
        new("iaf_rqs", r => new InverseTransform<double>(MafSpline<double>(r, 3, Rq4)), r => new InverseTransform<float>(MafSpline<float>(r, 3, Rq4)), 3, Autoregressive: true),
        new("flow_maf", r => FlowBuilders.Maf<double>(3, layers: 2, hidden: 8, rng: r).Transform,
            r => FlowBuilders.Maf<float>(3, layers: 2, hidden: 8, rng: r).Transform, 3),
        new("maf_affine_rational_clamp", r => MafAffine<double>(r, 3, s: AffineScale.RationalClampedExp(2)),
            r => MafAffine<float>(r, 3, s: AffineScale.RationalClampedExp(2)), 3, Autoregressive: true),
        // The sigmoid scale reaches 1e-3, where the inverse multiplies the float rounding of the shift by 1000; with the
        // builder's He-initialised conditioner, inputs at |x| = 50 give shifts of O(100) and a round trip good to only
        // ~1e-4 relative in float (exact in double). PyTorch's default init keeps the shifts small enough to test 1e-4.
        new("flow_maf_sigmoid_conditional", r => FlowBuilders.Maf<double>(4, layers: 2, hidden: 8, contextFeatures: 2, rng: r, scale: AffineScale.Sigmoid, conditioner: TorchInitMade).Transform,
            r => FlowBuilders.Maf<float>(4, layers: 2, hidden: 8, contextFeatures: 2, rng: r, scale: AffineScale.Sigmoid, conditioner: TorchInitMade).Transform, 4, ContextFeatures: 2),
        new("flow_maf_rqs", r => FlowBuilders.MafRqs<double>(3, layers: 2, hidden: 8, bins: 4, rng: r).Transform,
            r => FlowBuilders.MafRqs<float>(3, layers: 2, hidden: 8, bins: 4, rng: r).Transform, 3),
        new("flow_iaf", r => FlowBuilders.Iaf<double>(3, layers: 2, hidden: 8, rng: r).Transform,
            r => FlowBuilders.Iaf<float>(3, layers: 2, hidden: 8, rng: r).Transform, 3),
        new("flow_iaf_rqs_conditional", r => FlowBuilders.Iaf<double>(3, layers: 2, hidden: 8, contextFeatures: 2, rng: r, bins: 3).Transform,
            r => FlowBuilders.Iaf<float>(3, layers: 2, hidden: 8, contextFeatures: 2, rng: r, bins: 3).Transform, 3, ContextFeatures: 2),
        new("flow_maf_one_layer", r => FlowBuilders.Maf<double>(3, layers: 1, hidden: 8, rng: r).Transform,
            r => FlowBuilders.Maf<float>(3, layers: 1, hidden: 8, rng: r).Transform, 3, Autoregressive: true),
    ];
}
