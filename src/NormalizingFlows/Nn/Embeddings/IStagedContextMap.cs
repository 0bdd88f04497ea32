using System.Numerics;
using NormalizingFlows.Autograd;

namespace NormalizingFlows.Nn.Embeddings;

/// <summary>
/// A context map in two stages, a leading one (a fitted context preprocessing) followed by a context embedding
/// (FlowModel's), so that a device trainer can run the leading stage once on the host and train the embedding with the flow.
/// </summary>
internal interface IStagedContextMap<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>The leading stage (null: none).</summary>
    Module<T>? Leading { get; }

    /// <summary>The context through the leading stage (the context itself without one).</summary>
    Var<T> ApplyLeading(Var<T> context);

    /// <summary>The embedding after it (null: none).</summary>
    ContextEmbedding<T>? Embedding { get; }
}
