using NormalizingFlows.Flows;
using NormalizingFlows.Nn.Embeddings;
using NormalizingFlows.Transforms;

namespace NormalizingFlows.Tests.Transforms;

public static partial class TransformCatalog
{
    /// <summary>Conditional flows whose context goes through an embedding first (an MLP of 5 → 2; the set embedding passes no gradient back to its input, so the matrix's context-gradient check does not apply to it).</summary>
    public static readonly TransformCase[] Embedded =
    [
        new("embedded_context_mlp",
            r => new EmbeddedContextTransform<double>(FlowBuilders.RealNvp<double>(3, layers: 2, hidden: 8, contextFeatures: 2, rng: r).Transform,
                new EmbeddingSpec { Kind = EmbeddingSpec.Mlp, Features = 2, Hidden = 6, Layers = 1 }.Build<double>(5, r), 5),
            r => new EmbeddedContextTransform<float>(FlowBuilders.RealNvp<float>(3, layers: 2, hidden: 8, contextFeatures: 2, rng: r).Transform,
                new EmbeddingSpec { Kind = EmbeddingSpec.Mlp, Features = 2, Hidden = 6, Layers = 1 }.Build<float>(5, r), 5),
            3, ContextFeatures: 5),
    ];
}
