using System.Numerics;
using NormalizingFlows.Tensors;

namespace NormalizingFlows.Nn.Embeddings;

/// <summary>
/// How a context embedding kind is checked and built from its <see cref="EmbeddingSpec"/> (whose
/// <see cref="EmbeddingSpec.Kind"/> names it). The library's kinds are <see cref="EmbeddingSpec.Mlp"/> and
/// <see cref="EmbeddingSpec.Set"/>; register your own with <c>FlowArchitecture.RegisterEmbedding</c> so that model
/// files recording it load again. The rebuilt embedding must have the same parameters; their values come from the file.
/// </summary>
public interface IEmbeddingKind
{
    /// <summary>The kind name written as the spec's "kind" (distinct from the library's kinds).</summary>
    string Name { get; }

    /// <summary>
    /// Throws an <see cref="ArgumentException"/> naming a setting of <paramref name="spec"/> this kind cannot build for
    /// <paramref name="inputFeatures"/> context values (the common settings are checked before).
    /// </summary>
    void Validate(EmbeddingSpec spec, int inputFeatures);

    /// <summary>A fresh embedding [N, <paramref name="inputFeatures"/>] → [N, spec.Features], initialised from <paramref name="rng"/>.</summary>
    ContextEmbedding<T> Build<T>(EmbeddingSpec spec, int inputFeatures, Rng rng) where T : unmanaged, IFloatingPointIeee754<T>;
}
