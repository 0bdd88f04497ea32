using System.Numerics;
using NormalizingFlows.Flows;
using NormalizingFlows.Tensors;
using NormalizingFlows.Transforms;
using NormalizingFlows.Transforms.Autoregressive;
using NormalizingFlows.Transforms.Coupling;
using NormalizingFlows.Transforms.Splines;

namespace NormalizingFlows.Tests.Transforms;

public static partial class TransformCatalog
{
    private static readonly CircularRationalQuadraticSpline Circ4 = new(4);

    private static Transform<T> MafMixed<T>(Rng r) where T : unmanaged, IFloatingPointIeee754<T>
        => new AutoregressiveTransform<T>(3, FlowBuilders.PeriodicUpdate([true, false, true], 4, 3.0), r, 0, Small.ForMade());

    /// <summary>Circular splines (angles): in couplings, in MAF, mixed with ordinary splines per feature, and the periodic builders.</summary>
    public static readonly TransformCase[] Circular =
    [
        // tanh conditioner: with ReLU, inputs spread over [−3, 3] give bins so flat (log|det| ≈ −10) that float round trips
        // lose digits by conditioning (see SmallTanh)
        new("coupling_circular_spline", r => SplineC<double>(r, CouplingMask.Alternating(3), Circ4, o: SmallTanh),
            r => SplineC<float>(r, CouplingMask.Alternating(3), Circ4, o: SmallTanh), 3, Domain: InputDomain.Circle),
        new("maf_circular_spline", r => MafSpline<double>(r, 3, Circ4), r => MafSpline<float>(r, 3, Circ4), 3, Autoregressive: true, Domain: InputDomain.Circle),
        new("maf_circular_spline_conditional", r => MafSpline<double>(r, 2, new CircularRationalQuadraticSpline(3, bound: 3.5), ctx: 2),
            r => MafSpline<float>(r, 2, new CircularRationalQuadraticSpline(3, bound: 3.5), ctx: 2), 2, ContextFeatures: 2, Autoregressive: true, Domain: InputDomain.Circle),
        new("maf_masked_periodic_update", MafMixed<double>, MafMixed<float>, 3, Autoregressive: true, Domain: InputDomain.Circle),
        new("flow_nsf_periodic", r => FlowBuilders.NeuralSplineFlow<double>(3, layers: 2, hidden: 8, bins: 4, rng: r, periodic: [0, 1]).Transform,
            r => FlowBuilders.NeuralSplineFlow<float>(3, layers: 2, hidden: 8, bins: 4, rng: r, periodic: [0, 1]).Transform, 3, Domain: InputDomain.Circle),
        new("flow_maf_rqs_periodic", r => FlowBuilders.MafRqs<double>(3, layers: 2, hidden: 8, bins: 4, rng: r, periodic: [1]).Transform,
            r => FlowBuilders.MafRqs<float>(3, layers: 2, hidden: 8, bins: 4, rng: r, periodic: [1]).Transform, 3, Domain: InputDomain.Circle),
    ];
}
