using System.Numerics;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using NormalizingFlows.Tensors;

namespace NormalizingFlows.Nn.Embeddings;

/// <summary>
/// The recipe of a <see cref="ContextEmbedding{T}"/>, stored in model files as JSON: a kind name and its settings,
/// e.g. <c>{"kind":"mlp","features":16,"hidden":64,"layers":2}</c>. Kinds: <see cref="Mlp"/> (ReLU MLP, for
/// fixed-length contexts) and <see cref="Set"/> (deep sets, <see cref="SetEmbedding{T}"/>, for sets of
/// <see cref="ElementFeatures"/> features per element, each with a presence flag); other kinds are an
/// <see cref="IEmbeddingKind"/> registered by name (<c>FlowArchitecture.RegisterEmbedding</c>), with their own
/// <see cref="Settings"/>.
/// </summary>
public sealed record EmbeddingSpec
{
    /// <summary>The kind name of the MLP embedding.</summary>
    public const string Mlp = "mlp";

    /// <summary>The kind name of the deep-sets embedding.</summary>
    public const string Set = "sum-pooling";

    /// <summary>The embedding's kind (<see cref="Mlp"/>, <see cref="Set"/> or a registered <see cref="IEmbeddingKind"/>'s name).</summary>
    public required string Kind { get; init; }

    /// <summary>Output features (the flow's context size).</summary>
    public int Features { get; init; } = 16;

    /// <summary>Hidden units per layer.</summary>
    public int Hidden { get; init; } = 64;

    /// <summary>Hidden layers of each MLP (of φ and ρ for a set).</summary>
    public int Layers { get; init; } = 2;

    /// <summary>Features per set element F (<see cref="Set"/> only; the input holds K·(F + 1) values).</summary>
    public int ElementFeatures { get; init; }

    /// <summary>A registered kind's own settings (any JSON object; null for the library's kinds, and then not written).</summary>
    public JsonObject? Settings { get; init; }

    /// <summary>Throws an <see cref="ArgumentException"/> naming the first invalid setting for an input of <paramref name="inputFeatures"/> values.</summary>
    public void Validate(int inputFeatures)
    {
        var kind = EmbeddingKinds.Get(Kind);
        if (inputFeatures < 1) throw new ArgumentException($"an embedding needs at least one input feature, got {inputFeatures}");
        if (Features < 1) throw new ArgumentException($"embedding features must be ≥ 1, got {Features}");
        if (Hidden < 1) throw new ArgumentException($"embedding hidden units must be ≥ 1, got {Hidden}");
        if (Layers < 1) throw new ArgumentException($"embedding layers must be ≥ 1, got {Layers}");
        kind.Validate(this, inputFeatures);
    }

    /// <summary>Builds the embedding (freshly initialised from <paramref name="rng"/>) for <paramref name="inputFeatures"/> context values per row.</summary>
    public ContextEmbedding<T> Build<T>(int inputFeatures, Rng rng) where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(rng);
        Validate(inputFeatures);
        var embedding = EmbeddingKinds.Get(Kind).Build<T>(this, inputFeatures, rng);
        if (embedding.InputFeatures != inputFeatures || embedding.OutputFeatures != Features)
            throw new InvalidOperationException($"the embedding kind '{Kind}' built a map {embedding.InputFeatures} → {embedding.OutputFeatures}, the spec asks {inputFeatures} → {Features}");
        return embedding;
    }

    /// <summary>The JSON stored in model files.</summary>
    public string ToJson() => JsonSerializer.Serialize(this, Options);

    /// <summary>Parses <see cref="ToJson"/>'s output; a <see cref="FormatException"/> names what is wrong.</summary>
    public static EmbeddingSpec FromJson(string json)
    {
        ArgumentNullException.ThrowIfNull(json);
        try { return JsonSerializer.Deserialize<EmbeddingSpec>(json, Options) ?? throw new FormatException("the embedding spec is null"); }
        catch (JsonException ex) { throw new FormatException($"invalid embedding spec: {ex.Message}", ex); }
    }

    private static readonly JsonSerializerOptions Options = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingDefault,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
    };
}
