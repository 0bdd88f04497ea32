using NormalizingFlows.Flows;

namespace NormalizingFlows.Tests.Transforms;

public static partial class TransformCatalog
{
    /// <summary>
    /// Whole transforms of the Glow and planar builders (the other builders' cases sit with their families). Glow uses one
    /// step (ActNorm → LU → coupling): two randomly perturbed steps are so ill-conditioned at inputs of ±50 that float
    /// rounding alone gives 4e-4 relative round-trip error (each stage alone stays ≤ 3e-5), which says nothing about the code.
    /// </summary>
    public static readonly TransformCase[] Builders =
    [
        new("flow_glow", r => FlowBuilders.Glow<double>(4, layers: 1, hidden: 8, rng: r).Transform,
            r => FlowBuilders.Glow<float>(4, layers: 1, hidden: 8, rng: r).Transform, 4),
        new("flow_glow_conditional", r => FlowBuilders.Glow<double>(3, layers: 2, hidden: 8, contextFeatures: 2, rng: r).Transform,
            r => FlowBuilders.Glow<float>(3, layers: 2, hidden: 8, contextFeatures: 2, rng: r).Transform, 3, ContextFeatures: 2),
        new("flow_planar", r => FlowBuilders.PlanarFlow<double>(3, layers: 4, rng: r).Transform,
            r => FlowBuilders.PlanarFlow<float>(3, layers: 4, rng: r).Transform, 3),
    ];
}
