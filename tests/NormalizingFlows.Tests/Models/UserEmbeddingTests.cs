using System.Numerics;
using System.Text.Json.Nodes;
using NormalizingFlows.Autograd;
using NormalizingFlows.Data;
using NormalizingFlows.Data.Preprocessing;
using NormalizingFlows.IO;
using NormalizingFlows.Models;
using NormalizingFlows.Nn;
using NormalizingFlows.Nn.Embeddings;
using NormalizingFlows.Tensors;

namespace NormalizingFlows.Tests.Models;

/// <summary>A user's own context embedding, registered by name, builds, saves and loads through a model file.</summary>
public sealed class UserEmbeddingTests : IDisposable
{
    private const string KindName = "test-linear-embedding";

    private readonly string _dir = Directory.CreateTempSubdirectory("nflow-user-embedding-").FullName;

    static UserEmbeddingTests() => FlowArchitecture.RegisterEmbedding(new LinearKind());

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }

    /// <summary>A linear map of the context, squashed by tanh when its settings say "tanh": true.</summary>
    private sealed class LinearEmbedding<T> : ContextEmbedding<T> where T : unmanaged, IFloatingPointIeee754<T>
    {
        private readonly Linear<T> _map;
        private readonly bool _tanh;

        public LinearEmbedding(int input, int output, bool tanh, Rng rng) : base(input, output)
        {
            _map = RegisterModule("map", new Linear<T>(input, output, rng));
            _tanh = tanh;
        }

        public override Var<T> Forward(Var<T> x) => _tanh ? Ops.Tanh(_map.Forward(x)) : _map.Forward(x);
    }

    private sealed class LinearKind : IEmbeddingKind
    {
        public string Name => KindName;

        public void Validate(EmbeddingSpec spec, int inputFeatures)
        {
            if (spec.Settings?["tanh"] is { } t && t.GetValueKind() is not (System.Text.Json.JsonValueKind.True or System.Text.Json.JsonValueKind.False))
                throw new ArgumentException($"the {KindName} setting 'tanh' must be true or false, got {t.ToJsonString()}");
        }

        public ContextEmbedding<T> Build<T>(EmbeddingSpec spec, int inputFeatures, Rng rng) where T : unmanaged, IFloatingPointIeee754<T>
            => new LinearEmbedding<T>(inputFeatures, spec.Features, spec.Settings?["tanh"]?.GetValue<bool>() ?? false, rng);
    }

    // a conditional model with standardised context through the user embedding, its parameters moved off their initialisation
    private static (FlowModel<double> Model, Tensor<double> X, Tensor<double> C) Model(bool tanh)
    {
        var rng = new Rng(4);
        int n = 64;
        var cv = new double[n * 3];
        var xv = new double[n * 2];
        for (int i = 0; i < cv.Length; i++) cv[i] = 50 + 5 * rng.NextNormal();
        for (int i = 0; i < xv.Length; i++) xv[i] = rng.NextNormal();
        var c = new Table(["a", "b", "d"], cv, n);
        var pre = PreprocessingPipeline.Fit<double>(c, PreprocessingSpec.Uniform(c.Columns, PreprocessingKind.Standardize));
        var embedding = new EmbeddingSpec { Kind = KindName, Features = 2, Settings = new JsonObject { ["tanh"] = tanh } };
        var model = new FlowModel<double>(new FlowSpec { Builder = "maf", Features = 2, ContextFeatures = 2, Layers = 2, Hidden = 8, DType = "float64", Seed = 9 },
            contextPreprocessing: pre, embedding: embedding);
        var r = new Rng(77);
        foreach (var p in model.Flow.Parameters())
        {
            var s = p.Value.Span;
            for (int i = 0; i < s.Length; i++) s[i] += 0.3 * r.NextNormal();
        }
        return (model, new Table(["x0", "x1"], xv, n).ToTensor<double>(), c.ToTensor<double>());
    }

    [Fact]
    public void ARegisteredEmbeddingAndItsSettingsRoundTripThroughAModelFile()
    {
        var (model, x, c) = Model(tanh: true);
        Assert.IsType<LinearEmbedding<double>>(model.Embedding);
        string path = Path.Combine(_dir, "user.nflow");
        ModelFile.Save(path, model);
        var loaded = ModelFile.Load<double>(path);

        Assert.IsType<LinearEmbedding<double>>(loaded.Embedding);
        Assert.Equal(KindName, loaded.EmbeddingSpec!.Kind);
        Assert.True(loaded.EmbeddingSpec.Settings!["tanh"]!.GetValue<bool>());
        Assert.Equal(model.LogProb(x, c), loaded.LogProb(x, c));

        // the setting shapes log p: lost on the way, the loaded model would disagree
        var (plain, _, _) = Model(tanh: false);
        Assert.NotEqual(model.LogProb(x, c), plain.LogProb(x, c));
    }

    [Fact]
    public void AFileNamingAnUnregisteredEmbeddingKindFailsNamingIt()
    {
        var (model, _, _) = Model(tanh: false);
        string path = Path.Combine(_dir, "unknown.nflow");
        ModelFile.Save(path, model);
        var file = SafeTensors.Load(path);
        var meta = file.Metadata.ToDictionary(kv => kv.Key, kv => kv.Key == "nflow.embedding" ? kv.Value.Replace(KindName, "nobody-registered-this", StringComparison.Ordinal) : kv.Value);
        var entries = file.Tensors.ToList();
        SafeTensors.Save(path, entries, FileChecksum.Stamp(entries, meta));

        var fail = Assert.Throws<ModelFileException>(() => ModelFile.Load<double>(path));
        Assert.Contains("nflow.embedding", fail.Message);
        Assert.Contains("unknown embedding kind 'nobody-registered-this'", fail.Message);
        Assert.Contains("RegisterEmbedding", fail.Message);
    }

    [Fact]
    public void TheUserKindsSettingsAreChecked()
    {
        var spec = new EmbeddingSpec { Kind = KindName, Features = 2, Settings = new JsonObject { ["tanh"] = "yes" } };
        var ex = Assert.Throws<ArgumentException>(() => spec.Validate(3));
        Assert.Contains("'tanh'", ex.Message);
    }

    [Theory]
    [InlineData(EmbeddingSpec.Mlp)]
    [InlineData(EmbeddingSpec.Set)]
    public void TheLibraryKindsCannotBeReplaced(string name)
    {
        var ex = Assert.Throws<ArgumentException>(() => FlowArchitecture.RegisterEmbedding(new NamedKind(name)));
        Assert.Contains($"'{name}' is a library embedding kind", ex.Message);
    }

    private sealed class NamedKind(string name) : IEmbeddingKind
    {
        public string Name => name;
        public void Validate(EmbeddingSpec spec, int inputFeatures) { }
        public ContextEmbedding<T> Build<T>(EmbeddingSpec spec, int inputFeatures, Rng rng) where T : unmanaged, IFloatingPointIeee754<T>
            => throw new InvalidOperationException("never built");
    }

    [Theory]
    [InlineData("{\"kind\":\"mlp\",\"features\":3,\"hidden\":8,\"layers\":1}", 6)]
    [InlineData("{\"kind\":\"sum-pooling\",\"features\":4,\"hidden\":8,\"layers\":1,\"elementFeatures\":2}", 6)]
    public void TheLibraryKindsJsonIsUnchanged(string json, int inputFeatures)
    {
        var spec = EmbeddingSpec.FromJson(json);
        spec.Validate(inputFeatures);
        Assert.Null(spec.Settings);
        Assert.Equal(json, spec.ToJson());
        Assert.Equal(spec.Features, spec.Build<double>(inputFeatures, new Rng(1)).OutputFeatures);
    }
}
