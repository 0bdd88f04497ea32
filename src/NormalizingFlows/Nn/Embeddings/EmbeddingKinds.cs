using System.Collections.Concurrent;
using System.Numerics;
using NormalizingFlows.Tensors;

namespace NormalizingFlows.Nn.Embeddings;

/// <summary>
/// The registry of embedding kinds behind <see cref="EmbeddingSpec.Validate"/> and <see cref="EmbeddingSpec.Build{T}"/>:
/// the library's two, and those a user registers (through <c>FlowArchitecture.RegisterEmbedding</c>).
/// </summary>
internal static class EmbeddingKinds
{
    private static readonly IEmbeddingKind[] Library = [new MlpKind(), new SetKind()];

    private static readonly ConcurrentDictionary<string, IEmbeddingKind> UserKinds = new(StringComparer.Ordinal);

    /// <summary>The library's kind names.</summary>
    public static IReadOnlyList<string> LibraryNames { get; } = Library.Select(k => k.Name).ToArray();

    /// <summary>Registers (or replaces) a user kind; the library's names are refused.</summary>
    public static void Register(IEmbeddingKind kind)
    {
        ArgumentNullException.ThrowIfNull(kind);
        ArgumentException.ThrowIfNullOrEmpty(kind.Name, nameof(kind));
        if (LibraryNames.Contains(kind.Name)) throw new ArgumentException($"'{kind.Name}' is a library embedding kind; register yours under another name", nameof(kind));
        UserKinds[kind.Name] = kind;
    }

    /// <summary>The kind named <paramref name="name"/>; an <see cref="ArgumentException"/> names an unknown one.</summary>
    public static IEmbeddingKind Get(string name)
    {
        foreach (var kind in Library)
            if (kind.Name == name) return kind;
        if (name is not null && UserKinds.TryGetValue(name, out var user)) return user;
        throw new ArgumentException($"unknown embedding kind '{name}' (known: {string.Join(", ", LibraryNames.Concat(UserKinds.Keys.Order(StringComparer.Ordinal)))}; register others with FlowArchitecture.RegisterEmbedding)");
    }

    private sealed class MlpKind : IEmbeddingKind
    {
        public string Name => EmbeddingSpec.Mlp;

        public void Validate(EmbeddingSpec spec, int inputFeatures) { }

        public ContextEmbedding<T> Build<T>(EmbeddingSpec spec, int inputFeatures, Rng rng) where T : unmanaged, IFloatingPointIeee754<T>
            => new MlpEmbedding<T>(new Mlp<T>(inputFeatures, Enumerable.Repeat(spec.Hidden, spec.Layers).ToArray(), spec.Features, rng));
    }

    private sealed class SetKind : IEmbeddingKind
    {
        public string Name => EmbeddingSpec.Set;

        public void Validate(EmbeddingSpec spec, int inputFeatures)
        {
            if (spec.ElementFeatures < 1 || inputFeatures % (spec.ElementFeatures + 1) != 0)
                throw new ArgumentException($"a set embedding needs ElementFeatures F ≥ 1 with the input's {inputFeatures} values a multiple of F + 1, got F = {spec.ElementFeatures}");
        }

        public ContextEmbedding<T> Build<T>(EmbeddingSpec spec, int inputFeatures, Rng rng) where T : unmanaged, IFloatingPointIeee754<T>
            => new SetEmbedding<T>(spec.ElementFeatures, inputFeatures / (spec.ElementFeatures + 1), spec.Hidden, spec.Layers, spec.Features, rng);
    }
}
