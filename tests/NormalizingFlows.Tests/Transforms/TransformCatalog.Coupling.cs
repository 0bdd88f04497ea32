using System.Numerics;
using NormalizingFlows.Flows;
using NormalizingFlows.Tensors;
using NormalizingFlows.Transforms;
using NormalizingFlows.Transforms.Coupling;
using NormalizingFlows.Transforms.Splines;

namespace NormalizingFlows.Tests.Transforms;

public static partial class TransformCatalog
{
    private static readonly ConditionerOptions Small = new() { HiddenFeatures = 12 };
    private static readonly ConditionerOptions SmallResidual = new() { HiddenFeatures = 10, Residual = true };

    // Bounded hidden units keep the randomised parameters moderate. With ReLU nets and 0.3-sized noise, a random
    // rational-quadratic spline can have a derivative far below its minimum knot derivative inside a bin (large knot
    // derivatives around a flat bin), and a sigmoid or unclamped scale next to a shift that grows with |x_a| cancels
    // catastrophically: float round trips then lose digits for reasons of conditioning, not of the implementation.
    private static readonly ConditionerOptions SmallTanh = new() { HiddenFeatures = 8, Activation = NormalizingFlows.Nn.Activation.Tanh };
    private static readonly ConditionerOptions SmallResidualTanh = new() { HiddenFeatures = 8, Residual = true, Activation = NormalizingFlows.Nn.Activation.Tanh };

    private static Transform<T> Affine<T>(Rng r, CouplingMask m, int ctx = 0, ConditionerOptions? o = null, AffineScale? s = null)
        where T : unmanaged, IFloatingPointIeee754<T> => new AffineCoupling<T>(m, r, ctx, o ?? Small, s);

    private static Transform<T> Additive<T>(Rng r, CouplingMask m, int ctx = 0, ConditionerOptions? o = null)
        where T : unmanaged, IFloatingPointIeee754<T> => new AdditiveCoupling<T>(m, r, ctx, o ?? Small);

    private static Transform<T> SplineC<T>(Rng r, CouplingMask m, IElementwiseSpline spline, int ctx = 0, ConditionerOptions? o = null)
        where T : unmanaged, IFloatingPointIeee754<T> => new SplineCoupling<T>(m, spline, r, ctx, o ?? Small);

    private static readonly RationalQuadraticSpline Rq5 = new(5, SplineDomain.Symmetric(3));
    private static readonly RationalQuadraticSpline RqUnit = new(4, SplineDomain.UnitInterval);
    private static readonly PiecewiseLinearSpline Pl4 = new(4);
    private static readonly PiecewiseQuadraticSpline Pq4 = new(4);

    /// <summary>Coupling layers (affine, additive, spline; every mask kind; conditional) and coupling builders.</summary>
    public static readonly TransformCase[] Coupling =
    [
        new("coupling_affine_exp_alternating", r => Affine<double>(r, CouplingMask.Alternating(5)), r => Affine<float>(r, CouplingMask.Alternating(5)), 5),
        new("coupling_affine_exp_unclamped_odd", r => Affine<double>(r, CouplingMask.Alternating(3, even: false), o: SmallTanh, s: AffineScale.SoftClampedExp(double.PositiveInfinity)),
            r => Affine<float>(r, CouplingMask.Alternating(3, even: false), o: SmallTanh, s: AffineScale.SoftClampedExp(double.PositiveInfinity)), 3),
        new("coupling_affine_sigmoid_half", r => Affine<double>(r, CouplingMask.Half(4), s: AffineScale.Sigmoid),
            r => Affine<float>(r, CouplingMask.Half(4), s: AffineScale.Sigmoid), 4),
        new("coupling_affine_checkerboard_2x2", r => Affine<double>(r, CouplingMask.Checkerboard(2, 2)), r => Affine<float>(r, CouplingMask.Checkerboard(2, 2)), 4),
        new("coupling_affine_checkerboard_1d_flipped_half", r => Affine<double>(r, CouplingMask.Checkerboard(5, even: false)),
            r => Affine<float>(r, CouplingMask.Half(5, flip: true)), 5),
        new("coupling_affine_custom", r => Affine<double>(r, CouplingMask.Custom([true, false, false, true, false])),
            r => Affine<float>(r, CouplingMask.Custom([true, false, false, true, false])), 5),
        new("coupling_affine_residual", r => Affine<double>(r, CouplingMask.Alternating(4), o: SmallResidual),
            r => Affine<float>(r, CouplingMask.Alternating(4), o: SmallResidual), 4),
        new("coupling_affine_conditional", r => Affine<double>(r, CouplingMask.Alternating(4, even: false), ctx: 2),
            r => Affine<float>(r, CouplingMask.Alternating(4, even: false), ctx: 2), 4, ContextFeatures: 2),
        new("coupling_affine_sigmoid_conditional", r => Affine<double>(r, CouplingMask.Half(3), 2, SmallTanh, AffineScale.Sigmoid),
            r => Affine<float>(r, CouplingMask.Half(3), 2, SmallTanh, AffineScale.Sigmoid), 3, ContextFeatures: 2),
        new("coupling_additive_half", r => Additive<double>(r, CouplingMask.Half(4)), r => Additive<float>(r, CouplingMask.Half(4)), 4),
        new("coupling_additive_conditional", r => Additive<double>(r, CouplingMask.Alternating(3), ctx: 2),
            r => Additive<float>(r, CouplingMask.Alternating(3), ctx: 2), 3, ContextFeatures: 2),
        new("coupling_rqs", r => SplineC<double>(r, CouplingMask.Alternating(5), Rq5), r => SplineC<float>(r, CouplingMask.Alternating(5), Rq5), 5),
        new("coupling_rqs_factory_half", r => SplineCoupling<double>.RationalQuadratic(CouplingMask.Half(4), r, bins: 4, bound: 2, conditioner: SmallTanh),
            r => SplineCoupling<float>.RationalQuadratic(CouplingMask.Half(4), r, bins: 4, bound: 2, conditioner: SmallTanh), 4),
        new("coupling_rqs_conditional_residual", r => SplineC<double>(r, CouplingMask.Alternating(4), Rq5, 2, SmallResidualTanh),
            r => SplineC<float>(r, CouplingMask.Alternating(4), Rq5, 2, SmallResidualTanh), 4, ContextFeatures: 2),
        new("coupling_rqs_unit_interval", r => SplineC<double>(r, CouplingMask.Alternating(3), RqUnit), r => SplineC<float>(r, CouplingMask.Alternating(3), RqUnit), 3),
        new("coupling_rqs_unit_interval_inputs", r => SplineC<double>(r, CouplingMask.Alternating(3), RqUnit), r => SplineC<float>(r, CouplingMask.Alternating(3), RqUnit), 3,
            Domain: InputDomain.UnitInterval),
        new("coupling_piecewise_linear", r => SplineC<double>(r, CouplingMask.Alternating(3), Pl4), r => SplineC<float>(r, CouplingMask.Alternating(3), Pl4), 3),
        new("coupling_piecewise_linear_unit_inputs", r => SplineC<double>(r, CouplingMask.Half(2), Pl4), r => SplineC<float>(r, CouplingMask.Half(2), Pl4), 2,
            Domain: InputDomain.UnitInterval),
        new("coupling_piecewise_quadratic", r => SplineC<double>(r, CouplingMask.Alternating(3), Pq4), r => SplineC<float>(r, CouplingMask.Alternating(3), Pq4), 3),
        new("coupling_piecewise_quadratic_conditional_unit_inputs", r => SplineC<double>(r, CouplingMask.Half(3), Pq4, ctx: 2),
            r => SplineC<float>(r, CouplingMask.Half(3), Pq4, ctx: 2), 3, ContextFeatures: 2, Domain: InputDomain.UnitInterval),
        // two layers (both halves transformed once): with the matrix's random perturbation, float round trips at ±50 lose
        // accuracy with depth through conditioning alone — worst over 20 seeds 4.6e-6 (1 layer), 9.8e-5 (2), 7.8e-4 (3),
        // identical for the double-internal and the vectorised float affine op
        new("flow_realnvp", r => FlowBuilders.RealNvp<double>(4, layers: 2, hidden: 8, rng: r).Transform,
            r => FlowBuilders.RealNvp<float>(4, layers: 2, hidden: 8, rng: r).Transform, 4),
        new("flow_realnvp_sigmoid_conditional", r => FlowBuilders.RealNvp<double>(3, layers: 2, hidden: 8, contextFeatures: 2, rng: r, scale: AffineScale.Sigmoid).Transform,
            r => FlowBuilders.RealNvp<float>(3, layers: 2, hidden: 8, contextFeatures: 2, rng: r, scale: AffineScale.Sigmoid).Transform, 3, ContextFeatures: 2),
        new("flow_nsf", r => FlowBuilders.NeuralSplineFlow<double>(3, layers: 2, hidden: 8, bins: 4, rng: r).Transform,
            r => FlowBuilders.NeuralSplineFlow<float>(3, layers: 2, hidden: 8, bins: 4, rng: r).Transform, 3),
        // Two random spline layers in float: the inverse of layer 1 sees layer 2's rounding through its conditioner, amplified
        // by 1/s' of its splines, so the conditional spline flow uses bounded (tanh) hidden units; residual conditioners
        // are exercised by the better-conditioned (|log s| < 3) RealNVP.
        new("flow_nsf_conditional", r => FlowBuilders.NeuralSplineFlow<double>(4, layers: 2, hidden: 8, bins: 3, contextFeatures: 2, rng: r, conditioner: SmallTanh).Transform,
            r => FlowBuilders.NeuralSplineFlow<float>(4, layers: 2, hidden: 8, bins: 3, contextFeatures: 2, rng: r, conditioner: SmallTanh).Transform, 4, ContextFeatures: 2),
        new("flow_realnvp_conditional_residual", r => FlowBuilders.RealNvp<double>(4, layers: 2, hidden: 8, contextFeatures: 2, rng: r,
                conditioner: new ConditionerOptions { Residual = true, HiddenLayers = 1 }).Transform,
            r => FlowBuilders.RealNvp<float>(4, layers: 2, hidden: 8, contextFeatures: 2, rng: r,
                conditioner: new ConditionerOptions { Residual = true, HiddenLayers = 1 }).Transform, 4, ContextFeatures: 2),
    ];
}
