using System.Collections.Concurrent;
using System.Numerics;
using System.Text.Json;
using System.Text.Json.Nodes;
using NormalizingFlows.Distributions;
using NormalizingFlows.Flows;
using NormalizingFlows.Nn.Embeddings;
using NormalizingFlows.Tensors;
using NormalizingFlows.Transforms;
using NormalizingFlows.Transforms.Autoregressive;
using NormalizingFlows.Transforms.Continuous;
using NormalizingFlows.Transforms.Coupling;
using NormalizingFlows.Transforms.Monotonic;
using NormalizingFlows.Transforms.Splines;

namespace NormalizingFlows.Models;

/// <summary>
/// The open architecture registry: writes a flow assembled from library parts (couplings and autoregressive layers
/// with any update and conditioner, permutations, LU, ActNorm, batch norm, elementwise maps, planar/radial, composites
/// and inverses, the normal and mixture bases) as JSON — every setting, conditioner included — and rebuilds it. User
/// conditioner factories register a reader under their <see cref="IConditionerFactory.Name"/>
/// (<see cref="RegisterConditioner"/>), user transforms an <see cref="ITransformKind"/> (<see cref="RegisterTransform"/>),
/// user context embeddings an <see cref="IEmbeddingKind"/> (<see cref="RegisterEmbedding"/>);
/// rebuilding a description that names something unregistered fails naming it. <see cref="FlowSpec.Describe{T}"/>
/// wraps a description in a spec, so such flows save as model files.
/// </summary>
public static class FlowArchitecture
{
    private static readonly ConcurrentDictionary<string, Func<JsonObject, IConditionerFactory>> Conditioners = new(StringComparer.Ordinal)
    {
        [CouplingConditioner.KindName] = CouplingConditioner.FromSettings,
        [MadeConditioner.KindName] = MadeConditioner.FromSettings,
    };

    private static readonly ConcurrentDictionary<string, ITransformKind> UserKinds = new(StringComparer.Ordinal);

    /// <summary>The library's transform kinds.</summary>
    public static IReadOnlyList<string> LibraryKinds { get; } =
    [
        "composite", "inverse", "coupling", "autoregressive", "inverse-autoregressive", "permutation", "lu-linear", "actnorm", "batchnorm",
        "elementwise-affine", "fixed-affine", "planar", "radial", "sigmoid", "softplus", "tanh", "leaky-relu", "logit", "continuous",
    ];

    /// <summary>Registers (or replaces) the reader of conditioner factories saved as <paramref name="name"/>.</summary>
    public static void RegisterConditioner(string name, Func<JsonObject, IConditionerFactory> read)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentNullException.ThrowIfNull(read);
        if (name is CouplingConditioner.KindName or MadeConditioner.KindName)
            throw new ArgumentException($"'{name}' is the library's conditioner; register yours under another name", nameof(name));
        Conditioners[name] = read;
    }

    /// <summary>Registers (or replaces) a user transform kind.</summary>
    public static void RegisterTransform(ITransformKind kind)
    {
        ArgumentNullException.ThrowIfNull(kind);
        ArgumentException.ThrowIfNullOrEmpty(kind.Name, nameof(kind));
        if (LibraryKinds.Contains(kind.Name)) throw new ArgumentException($"'{kind.Name}' is a library transform kind; register yours under another name", nameof(kind));
        UserKinds[kind.Name] = kind;
    }

    /// <summary>
    /// Registers (or replaces) a user context embedding kind: a model whose <see cref="EmbeddingSpec.Kind"/> names it
    /// builds, saves and loads through it (the library's kinds "mlp" and "sum-pooling" cannot be replaced).
    /// </summary>
    public static void RegisterEmbedding(IEmbeddingKind kind) => EmbeddingKinds.Register(kind);

    /// <summary>
    /// The architecture of <paramref name="flow"/>: {"features", "contextFeatures", "conditional", "base": {…},
    /// "transform": {"kind": …, …}}. Throws an <see cref="ArgumentException"/> naming a part no kind describes.
    /// </summary>
    public static JsonObject Describe<T>(Flow<T> flow) where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(flow);
        return new JsonObject
        {
            ["features"] = flow.Features,
            ["contextFeatures"] = flow.Transform.ContextFeatures,
            ["conditional"] = flow is ConditionalFlow<T>,
            ["base"] = DescribeBase(flow.Base),
            ["transform"] = DescribeTransform(flow.Transform),
        };
    }

    /// <summary>A freshly initialised flow (seeded by <paramref name="rng"/>) from <see cref="Describe{T}"/>'s output.</summary>
    public static Flow<T> Build<T>(JsonObject architecture, Rng rng) where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(architecture);
        ArgumentNullException.ThrowIfNull(rng);
        Validate(architecture);
        var transform = BuildTransform<T>(Obj(architecture, "transform"), rng);
        var baseDistribution = BuildBase<T>(Obj(architecture, "base"));
        return Bool(architecture, "conditional") ? new ConditionalFlow<T>(transform, baseDistribution) : new Flow<T>(transform, baseDistribution);
    }

    /// <summary>
    /// Throws an <see cref="ArgumentException"/> naming the first problem of a description without building it: a
    /// missing field, an unknown transform kind, update or spline family, or (with <paramref name="checkRegistrations"/>)
    /// a user transform kind or conditioner that is not registered.
    /// </summary>
    public static void Validate(JsonObject architecture, bool checkRegistrations = true)
    {
        ArgumentNullException.ThrowIfNull(architecture);
        if (Int(architecture, "features") < 1) throw new ArgumentException("architecture: features must be ≥ 1");
        if (Int(architecture, "contextFeatures") < 0) throw new ArgumentException("architecture: contextFeatures must be ≥ 0");
        Bool(architecture, "conditional");
        Str(Obj(architecture, "base"), "kind");
        CheckTransform(Obj(architecture, "transform"), "transform", checkRegistrations);
    }

    /// <summary>The number of leaf transforms of each kind, in order of first appearance (for summaries).</summary>
    public static IReadOnlyList<(string Kind, int Count)> CountKinds(JsonObject architecture)
    {
        ArgumentNullException.ThrowIfNull(architecture);
        var counts = new List<(string Kind, int Count)>();
        void Walk(JsonObject node)
        {
            string kind = Str(node, "kind");
            if (kind == "composite") { foreach (var s in Arr(node, "steps")) Walk(AsObj(s, "steps")); return; }
            if (kind == "inverse") { Walk(Obj(node, "inner")); return; }
            int i = counts.FindIndex(c => c.Kind == kind);
            if (i < 0) counts.Add((kind, 1)); else counts[i] = (kind, counts[i].Count + 1);
        }
        Walk(Obj(architecture, "transform"));
        return counts;
    }

    private static JsonObject DescribeBase<T>(Distribution<T> distribution) where T : unmanaged, IFloatingPointIeee754<T> => distribution switch
    {
        StandardNormal<T> s => Kind("standard-normal", ("features", s.Features)),
        DiagonalNormal<T> d => Kind("diagonal-normal", ("features", d.Features)),
        GaussianMixture<T> g => Kind("gaussian-mixture", ("features", g.Features), ("components", g.Components)),
        PeriodicNormal<T> p => Kind("periodic-normal", ("features", p.Features), ("periodic", Ints(p.Periodic)), ("bound", p.Bound)),
        _ => throw new ArgumentException($"no architecture kind describes the base distribution {TypeNames.Of(distribution)} (standard-normal, diagonal-normal, gaussian-mixture and periodic-normal are known)"),
    };

    private static Distribution<T> BuildBase<T>(JsonObject node) where T : unmanaged, IFloatingPointIeee754<T> => Str(node, "kind") switch
    {
        "standard-normal" => new StandardNormal<T>(Int(node, "features")),
        "diagonal-normal" => new DiagonalNormal<T>(Int(node, "features")),
        "gaussian-mixture" => new GaussianMixture<T>(Int(node, "features"), Int(node, "components"), new Rng(0)),
        "periodic-normal" => new PeriodicNormal<T>(Int(node, "features"), IntArray(node, "periodic"), Num(node, "bound")),
        var k => throw new ArgumentException($"architecture: unknown base distribution '{k}'"),
    };

    private static JsonObject DescribeTransform<T>(Transform<T> t) where T : unmanaged, IFloatingPointIeee754<T>
    {
        foreach (var kind in UserKinds.Values)
            if (kind.Describes(t))
            {
                var settings = kind.Describe(t).DeepClone().AsObject();
                settings["kind"] = kind.Name;
                return settings;
            }
        return t switch
        {
            CompositeTransform<T> c => Kind("composite", ("steps", new JsonArray(c.Steps.Select(s => (JsonNode)DescribeTransform(s)).ToArray()))),
            InverseTransform<T> i => Kind("inverse", ("inner", DescribeTransform(i.Inner))),
            InverseAutoregressiveTransform<T> a => Kind("inverse-autoregressive", ("features", a.Features), ("contextFeatures", a.ContextFeatures),
                ("order", Ints(a.Order)), ("update", DescribeUpdate(a.Update)), ("conditioner", DescribeConditioner(a.ConditionerFactory))),
            AutoregressiveTransform<T> a => Kind("autoregressive", ("features", a.Features), ("contextFeatures", a.ContextFeatures),
                ("order", Ints(a.Order)), ("update", DescribeUpdate(a.Update)), ("conditioner", DescribeConditioner(a.ConditionerFactory))),
            CouplingTransform<T> c => Kind("coupling", ("mask", new JsonArray(c.Mask.ToArray().Select(b => (JsonNode)JsonValue.Create(b)).ToArray())),
                ("contextFeatures", c.ContextFeatures), ("update", DescribeUpdate(c.Update)), ("conditioner", DescribeConditioner(c.ConditionerFactory))),
            Permutation<T> p => Kind("permutation", ("order", Ints(p.Order))),
            LuLinear<T> l => Kind("lu-linear", ("features", l.Features)),
            ActNorm<T> a => Kind("actnorm", ("features", a.Features), ("eps", a.Eps)),
            BatchNormTransform<T> b => Kind("batchnorm", ("features", b.Features), ("momentum", b.Momentum), ("eps", b.Eps)),
            ElementwiseAffine<T> e => Kind("elementwise-affine", ("features", e.Features)),
            FixedAffine<T> f => Kind("fixed-affine", ("features", f.Features)),
            Planar<T> p => Kind("planar", ("features", p.Features)),
            Radial<T> r => Kind("radial", ("features", r.Features)),
            Sigmoid<T> s => Kind("sigmoid", ("features", s.Features)),
            Softplus<T> s => Kind("softplus", ("features", s.Features)),
            Tanh<T> s => Kind("tanh", ("features", s.Features)),
            LeakyRelu<T> l => Kind("leaky-relu", ("features", l.Features), ("negativeSlope", l.NegativeSlope)),
            Logit<T> l => Kind("logit", ("features", l.Features), ("eps", l.Eps)),
            ContinuousTransform<T> c => Kind("continuous", ("features", c.Features), ("contextFeatures", c.ContextFeatures), ("hidden", c.Field.Hidden),
                ("layers", c.Field.Layers), ("timeFrequencies", c.Field.TimeFrequencies), ("options", JsonSerializer.SerializeToNode(c.Options, OdeJson))),
            _ => throw new ArgumentException($"no architecture kind describes {TypeNames.Of(t)}: register an ITransformKind for it with FlowArchitecture.RegisterTransform"),
        };
    }

    private static Transform<T> BuildTransform<T>(JsonObject node, Rng rng) where T : unmanaged, IFloatingPointIeee754<T>
    {
        string kind = Str(node, "kind");
        if (UserKinds.TryGetValue(kind, out var user))
        {
            var settings = node.DeepClone().AsObject();
            settings.Remove("kind");
            return user.Build<T>(settings, rng);
        }
        int F() => Int(node, "features");
        return kind switch
        {
            "composite" => new CompositeTransform<T>(Arr(node, "steps").Select(s => BuildTransform<T>(AsObj(s, "steps"), rng)).ToArray()),
            "inverse" => new InverseTransform<T>(BuildTransform<T>(Obj(node, "inner"), rng)),
            "inverse-autoregressive" => new InverseAutoregressiveTransform<T>(F(), BuildUpdate(Obj(node, "update")), rng, Int(node, "contextFeatures"),
                BuildConditioner(Obj(node, "conditioner")), customOrder: IntArray(node, "order")),
            "autoregressive" => new AutoregressiveTransform<T>(F(), BuildUpdate(Obj(node, "update")), rng, Int(node, "contextFeatures"),
                BuildConditioner(Obj(node, "conditioner")), customOrder: IntArray(node, "order")),
            "coupling" => new CouplingTransform<T>(CouplingMask.Custom(Arr(node, "mask").Select(b => b?.GetValue<bool>() ?? throw Missing("mask")).ToArray()),
                BuildUpdate(Obj(node, "update")), rng, Int(node, "contextFeatures"), BuildConditioner(Obj(node, "conditioner"))),
            "permutation" => new Permutation<T>(IntArray(node, "order")),
            "lu-linear" => new LuLinear<T>(F(), rng),
            "actnorm" => new ActNorm<T>(F(), Num(node, "eps")),
            "batchnorm" => new BatchNormTransform<T>(F(), Num(node, "momentum"), Num(node, "eps")),
            "elementwise-affine" => new ElementwiseAffine<T>(F()),
            "fixed-affine" => new FixedAffine<T>(Enumerable.Repeat(1.0, F()).ToArray(), new double[F()]),
            "planar" => new Planar<T>(F(), rng),
            "radial" => new Radial<T>(F(), rng),
            "sigmoid" => new Sigmoid<T>(F()),
            "softplus" => new Softplus<T>(F()),
            "tanh" => new Tanh<T>(F()),
            "leaky-relu" => new LeakyRelu<T>(F(), Num(node, "negativeSlope")),
            "logit" => new Logit<T>(F(), Num(node, "eps")),
            "continuous" => new ContinuousTransform<T>(new VectorField<T>(F(), Int(node, "hidden"), Int(node, "layers"), rng, Int(node, "contextFeatures"), Int(node, "timeFrequencies")),
                ReadOptions(Obj(node, "options"))),
            _ => throw UnknownKind(kind, node.GetPath()),
        };
    }

    private static void CheckTransform(JsonObject node, string where, bool checkRegistrations)
    {
        string kind = Str(node, "kind");
        if (!LibraryKinds.Contains(kind))
        {
            if (checkRegistrations && !UserKinds.ContainsKey(kind)) throw UnknownKind(kind, where);
            return;
        }
        switch (kind)
        {
            case "composite":
                int i = 0;
                foreach (var s in Arr(node, "steps")) CheckTransform(AsObj(s, "steps"), $"{where}.steps[{i++}]", checkRegistrations);
                break;
            case "inverse":
                CheckTransform(Obj(node, "inner"), where + ".inner", checkRegistrations);
                break;
            case "coupling" or "autoregressive" or "inverse-autoregressive":
                BuildUpdate(Obj(node, "update"));
                if (checkRegistrations) BuildConditioner(Obj(node, "conditioner"));
                else Obj(Obj(node, "conditioner"), "settings");
                break;
        }
    }

    private static ArgumentException UnknownKind(string kind, string where)
        => new($"architecture: unknown transform kind '{kind}' at {where} (library kinds: {string.Join(", ", LibraryKinds)}; register others with FlowArchitecture.RegisterTransform)");

    private static JsonObject DescribeConditioner(IConditionerFactory factory)
        => new() { ["name"] = factory.Name, ["settings"] = factory.Settings().DeepClone() };

    private static IConditionerFactory BuildConditioner(JsonObject node)
    {
        string name = Str(node, "name");
        if (!Conditioners.TryGetValue(name, out var read))
            throw new ArgumentException($"the conditioner '{name}' is not registered: call FlowArchitecture.RegisterConditioner(\"{name}\", …) before building or loading this flow");
        try { return read(Obj(node, "settings")); }
        catch (FormatException ex) { throw new ArgumentException($"conditioner '{name}': {ex.Message}", ex); }
    }

    private static JsonObject DescribeUpdate(IElementwiseUpdate update) => update switch
    {
        AffineUpdate a => Kind("affine", ("scale", a.Scale.Kind.ToString()), ("bound", double.IsFinite(a.Scale.Bound) ? a.Scale.Bound : null)),
        AdditiveUpdate => Kind("additive"),
        SplineUpdate s => Kind("spline", ("spline", DescribeSpline(s.Spline))),
        SigmoidalUpdate s => Kind("sigmoidal", ("components", s.Components), ("tolerance", s.Map.Tolerance)),
        UmnnUpdate u => Kind("umnn", ("embedding", u.Embedding), ("hidden", u.Hidden), ("layers", u.Layers), ("nodes", u.Nodes), ("tolerance", u.Tolerance)),
        MaskedUpdate m => Kind("masked", ("mask", Ints(m.Mask.Select(b => b ? 1 : 0))), ("selected", DescribeUpdate(m.Selected)), ("others", DescribeUpdate(m.Others))),
        _ => throw new ArgumentException($"no architecture kind describes the update {update.GetType().Name} (affine, additive, spline, sigmoidal, umnn and masked are known)"),
    };

    private static IElementwiseUpdate BuildUpdate(JsonObject node) => Str(node, "kind") switch
    {
        "affine" => new AffineUpdate(Str(node, "scale") switch
        {
            nameof(AffineScaleKind.SoftClampedExp) => AffineScale.SoftClampedExp(node["bound"] is null ? double.PositiveInfinity : Num(node, "bound")),
            nameof(AffineScaleKind.RationalClampedExp) => AffineScale.RationalClampedExp(Num(node, "bound")),
            nameof(AffineScaleKind.Sigmoid) => AffineScale.Sigmoid,
            nameof(AffineScaleKind.Softplus) => AffineScale.Softplus,
            var s => throw new ArgumentException($"architecture: unknown affine scale '{s}'"),
        }),
        "additive" => new AdditiveUpdate(),
        "spline" => new SplineUpdate(BuildSpline(Obj(node, "spline"))),
        "sigmoidal" => new SigmoidalUpdate(Int(node, "components"), Num(node, "tolerance")),
        "umnn" => new UmnnUpdate(Int(node, "embedding"), Int(node, "hidden"), Int(node, "layers"), Int(node, "nodes"), Num(node, "tolerance")),
        "masked" => new MaskedUpdate(IntArray(node, "mask").Select(v => v != 0).ToArray(), BuildUpdate(Obj(node, "selected")), BuildUpdate(Obj(node, "others"))),
        var k => throw new ArgumentException($"architecture: unknown update '{k}' (affine, additive, spline, sigmoidal, umnn and masked are known)"),
    };

    private static JsonObject DescribeSpline(IElementwiseSpline spline) => spline switch
    {
        RationalQuadraticSpline q => Kind("rational-quadratic", ("bins", q.Bins), ("left", q.Domain.Left), ("right", q.Domain.Right), ("bottom", q.Domain.Bottom),
            ("top", q.Domain.Top), ("identityTails", q.Domain.IdentityTails), ("minBinWidth", q.MinBinWidth), ("minBinHeight", q.MinBinHeight), ("minDerivative", q.MinDerivative)),
        CircularRationalQuadraticSpline c => Kind("circular-rational-quadratic", ("bins", c.Bins), ("bound", c.Bound), ("minBinWidth", c.MinBinWidth),
            ("minBinHeight", c.MinBinHeight), ("minDerivative", c.MinDerivative)),
        PiecewiseLinearSpline l => Kind("piecewise-linear", ("bins", l.Bins), ("minBinMass", l.MinBinMass)),
        PiecewiseQuadraticSpline p => Kind("piecewise-quadratic", ("bins", p.Bins), ("minBinWidth", p.MinBinWidth), ("minDensity", p.MinDensity)),
        _ => throw new ArgumentException($"no architecture kind describes the spline {spline.GetType().Name}"),
    };

    private static IElementwiseSpline BuildSpline(JsonObject node) => Str(node, "kind") switch
    {
        "rational-quadratic" => new RationalQuadraticSpline(Int(node, "bins"),
            new SplineDomain(Num(node, "left"), Num(node, "right"), Num(node, "bottom"), Num(node, "top"), Bool(node, "identityTails")),
            Num(node, "minBinWidth"), Num(node, "minBinHeight"), Num(node, "minDerivative")),
        "circular-rational-quadratic" => new CircularRationalQuadraticSpline(Int(node, "bins"), Num(node, "bound"), Num(node, "minBinWidth"),
            Num(node, "minBinHeight"), Num(node, "minDerivative")),
        "piecewise-linear" => new PiecewiseLinearSpline(Int(node, "bins"), Num(node, "minBinMass")),
        "piecewise-quadratic" => new PiecewiseQuadraticSpline(Int(node, "bins"), Num(node, "minBinWidth"), Num(node, "minDensity")),
        var k => throw new ArgumentException($"architecture: unknown spline family '{k}' (rational-quadratic, circular-rational-quadratic, piecewise-linear, piecewise-quadratic)"),
    };

    private static readonly JsonSerializerOptions OdeJson = new() { Converters = { new System.Text.Json.Serialization.JsonStringEnumConverter() } };

    private static ContinuousFlowOptions ReadOptions(JsonObject node)
    {
        try { return node.Deserialize<ContinuousFlowOptions>(OdeJson) ?? throw Missing("options"); }
        catch (JsonException ex) { throw new ArgumentException($"architecture: the options of a continuous transform are not valid: {ex.Message}", ex); }
    }

    private static JsonObject Kind(string kind, params (string Key, JsonNode? Value)[] fields)
    {
        var o = new JsonObject { ["kind"] = kind };
        foreach (var (key, value) in fields)
            if (value is not null) o[key] = value;
        return o;
    }

    private static JsonArray Ints(IEnumerable<int> values) => new(values.Select(v => (JsonNode)JsonValue.Create(v)).ToArray());

    private static ArgumentException Missing(string key) => new($"architecture: '{key}' is missing or has the wrong type");

    private static JsonNode Field(JsonObject node, string key) => node[key] ?? throw Missing($"{key}' of '{node.GetPath()}");

    private static T Get<T>(JsonObject node, string key)
    {
        try { return Field(node, key).GetValue<T>(); }
        catch (Exception ex) when (ex is InvalidOperationException or FormatException)
        {
            throw new ArgumentException($"architecture: '{key}' of '{node.GetPath()}' is not a {typeof(T).Name.ToLowerInvariant()}", ex);
        }
    }

    private static int Int(JsonObject node, string key) => Get<int>(node, key);

    private static double Num(JsonObject node, string key) => Get<double>(node, key);

    private static bool Bool(JsonObject node, string key) => Get<bool>(node, key);

    private static string Str(JsonObject node, string key) => Get<string>(node, key);

    private static JsonObject Obj(JsonObject node, string key) => AsObj(Field(node, key), key);

    private static JsonObject AsObj(JsonNode? node, string key) => node as JsonObject ?? throw Missing(key);

    private static JsonArray Arr(JsonObject node, string key) => Field(node, key) as JsonArray ?? throw Missing(key);

    private static int[] IntArray(JsonObject node, string key)
        => Arr(node, key).Select(v => v is null ? throw Missing(key) : v.GetValue<int>()).ToArray();
}
