using System.Numerics;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using NormalizingFlows.Flows;
using NormalizingFlows.IO;
using NormalizingFlows.Tensors;

namespace NormalizingFlows.Models;

/// <summary>
/// The architecture of a flow, enough to rebuild it: either a builder of <see cref="FlowBuilders"/> (name, sizes) or,
/// with <see cref="Builder"/> = <see cref="Composed"/>, a flow assembled from library parts whose whole
/// <see cref="Architecture"/> (<see cref="FlowArchitecture"/>) is kept; plus element type and initialisation seed.
/// Serialised as JSON in a model file's "nflow.flow" metadata.
/// </summary>
public sealed record FlowSpec
{
    /// <summary>The builder names <see cref="Build{T}"/> knows: realnvp, nsf, maf, maf-rqs, iaf, glow, planar, naf, umnn, cnf, flow-matching.</summary>
    public static IReadOnlyList<string> KnownBuilders { get; } = ["realnvp", "nsf", "maf", "maf-rqs", "iaf", "glow", "planar", "naf", "umnn", "cnf", FlowMatching];

    /// <summary>The continuous flow trained by flow matching (its <see cref="Objective"/>); "cnf" is the same flow trained by maximum likelihood.</summary>
    public const string FlowMatching = "flow-matching";

    /// <summary>
    /// The objective this spec records: <see cref="TrainingObjective.FlowMatching"/> for the <see cref="FlowMatching"/>
    /// builder, else <see cref="TrainingObjective.MaximumLikelihood"/> (<see cref="FlowFitOptions.Objective"/> overrides it).
    /// </summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public TrainingObjective Objective => Builder == FlowMatching ? TrainingObjective.FlowMatching : TrainingObjective.MaximumLikelihood;

    /// <summary>The builders trained by maximum likelihood on data — every one but iaf, whose density costs D passes per layer — the default (nsf) first.</summary>
    public static IReadOnlyList<string> TrainableBuilders { get; } = ["nsf", .. KnownBuilders.Where(b => b is not ("nsf" or "iaf"))];

    /// <summary>The builder name of a flow assembled by hand, described by <see cref="Architecture"/>.</summary>
    public const string Composed = "composed";

    /// <summary>Builder name, one of <see cref="KnownBuilders"/>, or <see cref="Composed"/>.</summary>
    public required string Builder { get; init; }

    /// <summary>Number of data features D.</summary>
    public required int Features { get; init; }

    /// <summary>Number of layers (steps for glow, planar maps for planar).</summary>
    public int Layers { get; init; } = 5;

    /// <summary>Hidden units of each conditioner network (unused by planar).</summary>
    public int Hidden { get; init; } = 128;

    /// <summary>Spline bins K for nsf and maf-rqs (default 8) and iaf (default 0: affine layers; &gt; 0: spline layers); null: the builder's default.</summary>
    public int? Bins { get; init; }

    /// <summary>Spline interval [−Bound, Bound] (nsf, maf-rqs, spline iaf).</summary>
    public double Bound { get; init; } = 3.0;

    /// <summary>Context features C of a conditional flow (0: unconditional).</summary>
    public int ContextFeatures { get; init; }

    /// <summary>Element type of the parameters: "float32" or "float64".</summary>
    [System.Text.Json.Serialization.JsonPropertyName("dtype")]
    public string DType { get; init; } = "float32";

    /// <summary>Seed of the initialisation.</summary>
    public long Seed { get; init; }

    /// <summary>The <see cref="FlowArchitecture"/> description of a <see cref="Composed"/> flow (null for the builders).</summary>
    public JsonObject? Architecture { get; init; }

    /// <summary>
    /// The spec of <paramref name="flow"/>, assembled from library parts (or registered user parts): builder
    /// <see cref="Composed"/> with its whole architecture; <see cref="Layers"/> counts its leaf transforms.
    /// </summary>
    public static FlowSpec Describe<T>(Flow<T> flow, long seed = 0) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var architecture = FlowArchitecture.Describe(flow);
        return new FlowSpec
        {
            Builder = Composed, Features = flow.Features, ContextFeatures = flow.Transform.ContextFeatures, DType = DTypeOf<T>(), Seed = seed,
            Layers = FlowArchitecture.CountKinds(architecture).Sum(k => k.Count), Architecture = architecture,
        };
    }

    /// <summary>The <see cref="DType"/> name of <typeparamref name="T"/>: "float32" for float, "float64" for double.</summary>
    public static string DTypeOf<T>() where T : unmanaged, IFloatingPointIeee754<T>
        => typeof(T) == typeof(float) ? "float32" : typeof(T) == typeof(double) ? "float64"
            : throw new NotSupportedException($"element type {typeof(T).Name} is not supported (float and double are)");

    /// <summary>The bins the builder will use (<see cref="Bins"/> or its default).</summary>
    public int ResolvedBins => Bins ?? (Builder == "iaf" ? 0 : 8);

    /// <summary>Throws an <see cref="ArgumentException"/> naming the first invalid field.</summary>
    public void Validate()
    {
        if (Builder == Composed) ValidateArchitecture();
        else if (Architecture is not null) throw new ArgumentException($"only a '{Composed}' flow carries an architecture, not '{Builder}'");
        if (string.IsNullOrEmpty(Builder) || !(KnownBuilders.Contains(Builder) || Builder == Composed))
            throw new ArgumentException($"unknown builder '{Builder}' (known: {string.Join(", ", KnownBuilders)}, or {Composed} with an architecture)");
        if (Features < 1) throw new ArgumentException($"features must be ≥ 1, got {Features}");
        if (Builder is "realnvp" or "nsf" or "glow" && Features < 2)
            throw new ArgumentException($"{Builder} is a coupling flow: it splits the features in two and needs at least 2, got {Features}; for one feature use maf-rqs (spline) or maf");
        if (Layers < 1) throw new ArgumentException($"layers must be ≥ 1, got {Layers}");
        if (Hidden < 1) throw new ArgumentException($"hidden must be ≥ 1, got {Hidden}");
        if (ResolvedBins < 0 || (ResolvedBins == 0 && Builder is "nsf" or "maf-rqs")) throw new ArgumentException($"bins must be ≥ 1 for {Builder}, got {ResolvedBins}");
        if (!(Bound > 0) || !double.IsFinite(Bound)) throw new ArgumentException($"bound must be positive and finite, got {Bound}");
        if (ContextFeatures < 0) throw new ArgumentException($"contextFeatures must be ≥ 0, got {ContextFeatures}");
        if (ContextFeatures > 0 && Builder == "planar") throw new ArgumentException("the planar builder is unconditional: contextFeatures must be 0");
        if (DType is not ("float32" or "float64")) throw new ArgumentException($"dtype must be float32 or float64, got '{DType}'");
    }

    private void ValidateArchitecture()
    {
        if (Architecture is null) throw new ArgumentException($"a '{Composed}' flow needs its architecture");
        FlowArchitecture.Validate(Architecture, checkRegistrations: false);
        int features = Architecture["features"]!.GetValue<int>(), context = Architecture["contextFeatures"]!.GetValue<int>();
        if (features != Features) throw new ArgumentException($"the architecture has {features} features, the spec {Features}");
        if (context != ContextFeatures) throw new ArgumentException($"the architecture has {context} context features, the spec {ContextFeatures}");
    }

    /// <summary>
    /// Builds the (freshly initialised, seeded by <see cref="Seed"/>) flow in element type <typeparamref name="T"/>
    /// (which need not match <see cref="DType"/>; the model file checks that).
    /// </summary>
    public Flow<T> Build<T>() where T : unmanaged, IFloatingPointIeee754<T>
    {
        Validate();
        var rng = new Rng(Seed);
        return Builder switch
        {
            "realnvp" => FlowBuilders.RealNvp<T>(Features, Layers, Hidden, ContextFeatures, rng),
            "nsf" => FlowBuilders.NeuralSplineFlow<T>(Features, Layers, Hidden, ResolvedBins, Bound, ContextFeatures, rng),
            "maf" => FlowBuilders.Maf<T>(Features, Layers, Hidden, ContextFeatures, rng),
            "maf-rqs" => FlowBuilders.MafRqs<T>(Features, Layers, Hidden, ResolvedBins, Bound, ContextFeatures, rng),
            "iaf" => FlowBuilders.Iaf<T>(Features, Layers, Hidden, ContextFeatures, rng, bins: ResolvedBins, bound: Bound),
            "glow" => FlowBuilders.Glow<T>(Features, Layers, Hidden, ContextFeatures, rng),
            "planar" => FlowBuilders.PlanarFlow<T>(Features, Layers, rng),
            "naf" => FlowBuilders.Naf<T>(Features, Layers, Hidden, contextFeatures: ContextFeatures, rng: rng),
            "umnn" => FlowBuilders.Umnn<T>(Features, Layers, Hidden, ContextFeatures, rng),
            "cnf" or FlowMatching => FlowBuilders.ContinuousFlow<T>(Features, Layers, Hidden, ContextFeatures, rng),
            Composed => FlowArchitecture.Build<T>(Architecture!, rng),
            _ => throw new ArgumentException($"unknown builder '{Builder}'"),
        };
    }

    /// <summary>One line for humans, e.g. "nsf: 4 features, 5 layers, hidden 128, 8 bins on [−3, 3], float32, seed 1".</summary>
    public string Summary()
    {
        var sb = new StringBuilder();
        sb.Append(Builder).Append(": ").Append(Features).Append(" features");
        if (ContextFeatures > 0) sb.Append(" | ").Append(ContextFeatures).Append(" context");
        if (Builder == Composed && Architecture is not null)
        {
            var kinds = FlowArchitecture.CountKinds(Architecture);
            sb.Append(", ").Append(kinds.Sum(k => k.Count)).Append(" steps (").AppendJoin(", ", kinds.Select(k => $"{k.Kind} ×{k.Count}")).Append(')');
            return sb.Append(", ").Append(DType).Append(", seed ").Append(Seed).ToString();
        }
        sb.Append(", ").Append(Layers).Append(" layers");
        if (Builder != "planar") sb.Append(", hidden ").Append(Hidden);
        if (Builder is "nsf" or "maf-rqs" || (Builder == "iaf" && ResolvedBins > 0))
            sb.Append(", ").Append(ResolvedBins).Append(" bins on [−").Append(Bound.ToString(System.Globalization.CultureInfo.InvariantCulture))
              .Append(", ").Append(Bound.ToString(System.Globalization.CultureInfo.InvariantCulture)).Append(']');
        sb.Append(", ").Append(DType).Append(", seed ").Append(Seed);
        return sb.ToString();
    }

    private static readonly JsonSerializerOptions JsonOptions = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull,
        UnmappedMemberHandling = System.Text.Json.Serialization.JsonUnmappedMemberHandling.Disallow,
        RespectRequiredConstructorParameters = true,
    };

    /// <summary>The spec as JSON: {"builder": …, "features": …, "layers": …, "hidden": …, "bins": …, "bound": …, "contextFeatures": …, "dtype": …, "seed": …} (and "architecture" for a composed flow).</summary>
    public string ToJson() => JsonSerializer.Serialize(this, JsonOptions);

    /// <summary>Parses and validates <see cref="ToJson"/>'s output; a <see cref="FormatException"/> names what is wrong.</summary>
    public static FlowSpec FromJson(string json)
    {
        ArgumentNullException.ThrowIfNull(json);
        FlowSpec? spec;
        try { spec = JsonSerializer.Deserialize<FlowSpec>(json, JsonOptions); }
        catch (JsonException ex) { throw new FormatException($"the flow spec is not valid: {ex.Message}", ex); }
        if (spec is null) throw new FormatException("the flow spec is null");
        try
        {
            spec.Validate();
            if (spec.Architecture is not null) FlowArchitecture.Validate(spec.Architecture);
        }
        catch (ArgumentException ex) { throw new FormatException(ex.Message, ex); }
        return spec;
    }
}
