using System.Numerics;
using NormalizingFlows.Distributions;
using NormalizingFlows.Flows;
using NormalizingFlows.Models;
using NormalizingFlows.Nn;
using NormalizingFlows.Tensors;
using NormalizingFlows.Transforms;
using NormalizingFlows.Transforms.Autoregressive;
using NormalizingFlows.Transforms.Coupling;
using NormalizingFlows.Transforms.Splines;

namespace NormalizingFlows.Tests.Transforms;

public static partial class TransformCatalog
{
    private static readonly CouplingConditioner SmallCoupling = new() { HiddenFeatures = 8, Activation = Activation.Tanh };
    private static readonly MadeConditioner SmallMade = new() { HiddenFeatures = 12 };
    private static readonly TinyConditionerFactory Tiny = new(6);
    private static readonly TinyConditionerFactory TinyMade = new(9, Autoregressive: true);

    private static Transform<T> Coupled<T>(Rng r, CouplingMask m, IElementwiseUpdate u, IConditionerFactory c, int ctx = 0)
        where T : unmanaged, IFloatingPointIeee754<T> => new CouplingTransform<T>(m, u, r, ctx, c);

    private static Transform<T> Masked<T>(Rng r, int d, IElementwiseUpdate u, IConditionerFactory c, int ctx = 0, MadeOrder order = MadeOrder.Natural)
        where T : unmanaged, IFloatingPointIeee754<T> => new AutoregressiveTransform<T>(d, u, r, ctx, c, order);

    private static Transform<T> InverseMasked<T>(Rng r, int d, IElementwiseUpdate u, IConditionerFactory c, int ctx = 0)
        where T : unmanaged, IFloatingPointIeee754<T> => new InverseAutoregressiveTransform<T>(d, u, r, ctx, c, MadeOrder.Reversed);

    /// <summary>A small hand-assembled flow of every kind of part, rebuilt from its architecture description.</summary>
    private static Transform<T> Rebuilt<T>(Rng r) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var flow = new Flow<T>(new CompositeTransform<T>(
            new ActNorm<T>(4),
            new CouplingTransform<T>(CouplingMask.Half(4), new AffineUpdate(AffineScale.Softplus), r, 0, SmallCoupling),
            new AutoregressiveTransform<T>(4, SplineUpdate.RationalQuadratic(4), r, 0, SmallMade, MadeOrder.Reversed),
            Permutation<T>.Random(4, r),
            new InverseTransform<T>(new CouplingTransform<T>(CouplingMask.Alternating(4), new AdditiveUpdate(), r, 0, Tiny))), new StandardNormal<T>(4));
        FlowArchitecture.RegisterConditioner(TinyConditionerFactory.KindName, TinyConditionerFactory.Read);
        var json = System.Text.Json.Nodes.JsonNode.Parse(FlowArchitecture.Describe(flow).ToJsonString())!.AsObject();
        return FlowArchitecture.Build<T>(json, r).Transform;
    }

    /// <summary>Compositions of structure × update × conditioner the named layers do not cover, user conditioners included.</summary>
    public static readonly TransformCase[] Parts =
    [
        new("parts_coupling_affine_softplus", r => Coupled<double>(r, CouplingMask.Alternating(4), new AffineUpdate(AffineScale.Softplus), SmallCoupling),
            r => Coupled<float>(r, CouplingMask.Alternating(4), new AffineUpdate(AffineScale.Softplus), SmallCoupling), 4),
        new("parts_coupling_affine_user_conditioner", r => Coupled<double>(r, CouplingMask.Half(4), new AffineUpdate(), Tiny, ctx: 2),
            r => Coupled<float>(r, CouplingMask.Half(4), new AffineUpdate(), Tiny, ctx: 2), 4, ContextFeatures: 2),
        new("parts_coupling_rqs_user_conditioner", r => Coupled<double>(r, CouplingMask.Alternating(3), SplineUpdate.RationalQuadratic(4), Tiny),
            r => Coupled<float>(r, CouplingMask.Alternating(3), SplineUpdate.RationalQuadratic(4), Tiny), 3),
        new("parts_coupling_piecewise_linear_residual_unit_inputs", r => Coupled<double>(r, CouplingMask.Half(3), new SplineUpdate(new PiecewiseLinearSpline(4)), SmallCoupling with { Residual = true }),
            r => Coupled<float>(r, CouplingMask.Half(3), new SplineUpdate(new PiecewiseLinearSpline(4)), SmallCoupling with { Residual = true }), 3, Domain: InputDomain.UnitInterval),
        new("parts_autoregressive_additive", r => Masked<double>(r, 4, new AdditiveUpdate(), SmallMade), r => Masked<float>(r, 4, new AdditiveUpdate(), SmallMade), 4, Autoregressive: true),
        new("parts_autoregressive_piecewise_linear_unit_inputs", r => Masked<double>(r, 3, new SplineUpdate(new PiecewiseLinearSpline(4)), SmallMade, order: MadeOrder.Random),
            r => Masked<float>(r, 3, new SplineUpdate(new PiecewiseLinearSpline(4)), SmallMade, order: MadeOrder.Random), 3, Autoregressive: true, Domain: InputDomain.UnitInterval),
        new("parts_autoregressive_affine_user_made", r => Masked<double>(r, 4, new AffineUpdate(), TinyMade, ctx: 2),
            r => Masked<float>(r, 4, new AffineUpdate(), TinyMade, ctx: 2), 4, ContextFeatures: 2, Autoregressive: true),
        new("parts_autoregressive_rqs_user_made", r => Masked<double>(r, 3, SplineUpdate.RationalQuadratic(4), TinyMade, order: MadeOrder.Reversed),
            r => Masked<float>(r, 3, SplineUpdate.RationalQuadratic(4), TinyMade, order: MadeOrder.Reversed), 3, Autoregressive: true),
        new("parts_inverse_autoregressive_additive", r => InverseMasked<double>(r, 4, new AdditiveUpdate(), SmallMade),
            r => InverseMasked<float>(r, 4, new AdditiveUpdate(), SmallMade), 4, Autoregressive: true),
        new("parts_inverse_autoregressive_piecewise_quadratic_user_made_unit_inputs", r => InverseMasked<double>(r, 3, new SplineUpdate(new PiecewiseQuadraticSpline(4)), TinyMade, ctx: 2),
            r => InverseMasked<float>(r, 3, new SplineUpdate(new PiecewiseQuadraticSpline(4)), TinyMade, ctx: 2), 3, ContextFeatures: 2, Autoregressive: true, Domain: InputDomain.UnitInterval),
        new("parts_rebuilt_from_architecture", Rebuilt<double>, Rebuilt<float>, 4),
    ];
}
