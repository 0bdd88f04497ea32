using System.Text.Json.Serialization;
using NormalizingFlows.Nn.Embeddings;

namespace NormalizingFlows.Hep.Inference;

/// <summary>The architecture of a posterior's summary network (stored with the model); the network itself is the library's <see cref="ContextEmbedding{T}"/>.</summary>
public sealed record SummarySpec
{
    /// <summary>Which network.</summary>
    public SummaryKind Kind { get; init; } = SummaryKind.None;

    /// <summary>Output features (the flow's context size); ignored for <see cref="SummaryKind.None"/>.</summary>
    public int Features { get; init; } = 16;

    /// <summary>Hidden units per layer.</summary>
    public int Hidden { get; init; } = 64;

    /// <summary>Hidden layers of each MLP (of φ and ρ for sum pooling).</summary>
    public int Layers { get; init; } = 2;

    /// <summary>Features per set element F (sum pooling only; the observation size must be a multiple of it).</summary>
    public int ElementFeatures { get; init; }

    /// <summary>Throws an <see cref="ArgumentException"/> naming the first invalid field for an observation of <paramref name="observationFeatures"/> values.</summary>
    public void Validate(int observationFeatures)
    {
        if (Kind == SummaryKind.None) return;
        if (Kind == SummaryKind.SumPooling && (ElementFeatures < 1 || observationFeatures % ElementFeatures != 0))
            throw new ArgumentException($"sum pooling needs ElementFeatures ≥ 1 dividing the observation's {observationFeatures} values, got {ElementFeatures}");
        Embedding!.Validate(InputFeatures(observationFeatures));
    }

    /// <summary>The context size the flow sees: <see cref="Features"/>, or the observation size without a network.</summary>
    public int ContextFeatures(int observationFeatures) => Kind == SummaryKind.None ? observationFeatures : Features;

    /// <summary>The width of the context the network reads: K·(F + 1) for sum pooling (a presence flag per element, <see cref="SetEmbedding{T}.WithPresenceFlags"/>), else m.</summary>
    public int InputFeatures(int observationFeatures) => Kind == SummaryKind.SumPooling ? observationFeatures / ElementFeatures * (ElementFeatures + 1) : observationFeatures;

    /// <summary>The library embedding this summary is (null for <see cref="SummaryKind.None"/>).</summary>
    [JsonIgnore]
    public EmbeddingSpec? Embedding => Kind switch
    {
        SummaryKind.None => null,
        SummaryKind.Mlp => new EmbeddingSpec { Kind = EmbeddingSpec.Mlp, Features = Features, Hidden = Hidden, Layers = Layers },
        SummaryKind.SumPooling => new EmbeddingSpec { Kind = EmbeddingSpec.Set, Features = Features, Hidden = Hidden, Layers = Layers, ElementFeatures = ElementFeatures },
        _ => throw new ArgumentException($"unknown summary kind {Kind}"),
    };

    /// <summary>The summary of a library embedding (<see cref="SummaryKind.None"/> for null).</summary>
    public static SummarySpec From(EmbeddingSpec? embedding) => embedding switch
    {
        null => new SummarySpec(),
        { Kind: EmbeddingSpec.Mlp } e => new SummarySpec { Kind = SummaryKind.Mlp, Features = e.Features, Hidden = e.Hidden, Layers = e.Layers },
        { Kind: EmbeddingSpec.Set } e => new SummarySpec { Kind = SummaryKind.SumPooling, Features = e.Features, Hidden = e.Hidden, Layers = e.Layers, ElementFeatures = e.ElementFeatures },
        _ => throw new ArgumentException($"embedding kind '{embedding.Kind}' is no posterior summary"),
    };
}
