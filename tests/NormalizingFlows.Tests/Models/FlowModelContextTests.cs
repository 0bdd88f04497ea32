using NormalizingFlows.Autograd;
using NormalizingFlows.Data;
using NormalizingFlows.Data.Preprocessing;
using NormalizingFlows.IO;
using NormalizingFlows.Models;
using NormalizingFlows.Nn.Embeddings;
using NormalizingFlows.Tensors;
using NormalizingFlows.Training;

namespace NormalizingFlows.Tests.Models;

/// <summary>A conditional <see cref="FlowModel{T}"/> with context preprocessing and an embedding, through one model file.</summary>
public sealed class FlowModelContextTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("nflow-context-").FullName;

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }

    // n rows of six raw context values around 100 ± 10 and two features depending on the first two
    private static (Table X, Table C) Data(int n, Rng rng)
    {
        var cv = new double[n * 6];
        var xv = new double[n * 2];
        for (int i = 0; i < n; i++)
        {
            for (int j = 0; j < 6; j++) cv[i * 6 + j] = 100 + 10 * rng.NextNormal();
            double a = (cv[i * 6] - 100) / 10, b = (cv[i * 6 + 1] - 100) / 10;
            xv[i * 2] = a + 0.3 * rng.NextNormal();
            xv[i * 2 + 1] = a * b + 0.3 * rng.NextNormal();
        }
        return (new Table(["x0", "x1"], xv, n), new Table(["c0", "c1", "c2", "c3", "c4", "c5"], cv, n));
    }

    private static FlowModel<double> Model(Table c, EmbeddingSpec embedding, string builder = "nsf")
    {
        var pre = PreprocessingPipeline.Fit<double>(c, PreprocessingSpec.Uniform(c.Columns, PreprocessingKind.Standardize));
        var model = new FlowModel<double>(new FlowSpec { Builder = builder, Features = 2, ContextFeatures = embedding.Features, Layers = 2, Hidden = 8, DType = "float64", Seed = 5 },
            contextPreprocessing: pre, embedding: embedding);
        return Perturbed(model);
    }

    // parameters away from their initialisation (zero last layers make the context idle at first), so that every part shapes log p
    private static FlowModel<double> Perturbed(FlowModel<double> model)
    {
        var r = new Rng(77);
        foreach (var p in model.Flow.Parameters())
        {
            var s = p.Value.Span;
            for (int i = 0; i < s.Length; i++) s[i] += 0.1 * r.NextNormal();
        }
        return model;
    }

    [Theory]
    [InlineData("nsf")]
    [InlineData("maf")]
    public void ContextPreprocessingAndEmbeddingRoundTripThroughOneFile(string builder)
    {
        var (x, c) = Data(200, new Rng(3));
        var model = Model(c, new EmbeddingSpec { Kind = EmbeddingSpec.Mlp, Features = 3, Hidden = 8, Layers = 1 }, builder);
        model.Metadata["note"] = "context test";
        string path = Path.Combine(_dir, "c.nflow");
        ModelFile.Save(path, model);

        var info = ModelFile.ReadInfo(path);
        Assert.Equal(2, info.FormatVersion);
        Assert.Equal(c.Columns, info.ContextColumns);
        Assert.Equal(EmbeddingSpec.Mlp, info.Embedding!.Kind);
        Assert.Equal(PreprocessingKind.Standardize, info.ContextPreprocessing!.Columns[0].Kind);
        Assert.Contains(SafeTensors.Load(path).Tensors, e => e.Name.StartsWith("transform.summary.embedding.", StringComparison.Ordinal));

        var loaded = ModelFile.Load<double>(path);
        Assert.Equal("context test", loaded.Metadata["note"]);
        Assert.Equal(c.Columns, loaded.ContextColumns);
        var xt = x.ToTensor<double>();
        var ct = c.ToTensor<double>();
        var before = model.LogProb(xt, ct);
        var after = loaded.LogProb(xt, ct);
        Assert.All(before, v => Assert.True(double.IsFinite(v)));
        for (int i = 0; i < before.Length; i++) Assert.Equal(before[i], after[i], 1e-12);
        Assert.Equal(model.Sample(20, new Rng(9), c.ToTensor<double>().CopyRows(0, 20)).ToArray(),
            loaded.Sample(20, new Rng(9), c.ToTensor<double>().CopyRows(0, 20)).ToArray());
        Assert.Contains("embedding mlp → 3", ModelFile.Describe(path));
    }

    [Fact]
    public void TheContextPreprocessingAndTheEmbeddingShapeTheDensity()
    {
        var (x, c) = Data(50, new Rng(4));
        var model = Model(c, new EmbeddingSpec { Kind = EmbeddingSpec.Mlp, Features = 3, Hidden = 8, Layers = 1 });
        var xt = x.ToTensor<double>();
        var lp = model.LogProb(xt, c.ToTensor<double>());
        // the raw context shifted by one standard deviation of c0 changes log p; the same shift in standard units is what the embedding sees
        var shifted = c.ToTensor<double>().Clone();
        var s = shifted.Span;
        for (int i = 0; i < 50; i++) s[i * 6] += 10;
        var lpShifted = model.LogProb(xt, shifted);
        Assert.True(lp.Zip(lpShifted).Average(p => Math.Abs(p.First - p.Second)) > 1e-3);
        // no embedding parameter is idle: each receives a gradient from log p
        model.Flow.ZeroGrad();
        Ops.Sum(model.Flow.LogProb(new Var<double>(xt), new Var<double>(c.ToTensor<double>()))).Backward();
        foreach (var p in model.Embedding!.NamedParameters())
            Assert.True(p.Value.Grad is not null && p.Value.Grad.ToArray().Any(g => g != 0), $"embedding parameter {p.Key} received no gradient");
    }

    [Fact]
    public void SetEmbeddingWithoutContextPreprocessingRoundTrips()
    {
        // three elements of two features; the last element absent (NaN) in every other row
        int n = 60;
        var rng = new Rng(6);
        var cv = new double[n * 6];
        for (int i = 0; i < n; i++)
            for (int e = 0; e < 3; e++)
                for (int f = 0; f < 2; f++) cv[i * 6 + e * 2 + f] = e < 2 || i % 2 == 0 ? rng.NextNormal() : double.NaN;
        var ct = SetEmbedding<double>.WithPresenceFlags(Tensor<double>.FromDoubles(cv, n, 6), 2);
        var xt = rng.Normal<double>(n, 2);
        var names = Enumerable.Range(0, 9).Select(j => $"set{j}").ToArray();
        var model = Perturbed(new FlowModel<double>(new FlowSpec { Builder = "realnvp", Features = 2, ContextFeatures = 4, Layers = 2, Hidden = 8, DType = "float64", Seed = 2 },
            embedding: new EmbeddingSpec { Kind = EmbeddingSpec.Set, Features = 4, Hidden = 8, Layers = 1, ElementFeatures = 2 }, contextColumns: names));
        Assert.IsType<SetEmbedding<double>>(model.Embedding);
        string path = Path.Combine(_dir, "set.nflow");
        ModelFile.Save(path, model);
        var loaded = ModelFile.Load<double>(path);
        Assert.Null(loaded.ContextPreprocessing);
        Assert.Equal(names, loaded.ContextColumns);
        var a = model.LogProb(xt, ct);
        var b = loaded.LogProb(xt, ct);
        for (int i = 0; i < n; i++) Assert.Equal(a[i], b[i], 1e-12);
        // the elements' order does not matter: swap the first two elements of every row
        var swapped = ct.Clone();
        var s = swapped.Span;
        for (int i = 0; i < n; i++)
            for (int k = 0; k < 3; k++) (s[i * 9 + k], s[i * 9 + 3 + k]) = (s[i * 9 + 3 + k], s[i * 9 + k]);
        var c = loaded.LogProb(xt, swapped);
        for (int i = 0; i < n; i++) Assert.Equal(b[i], c[i], 1e-12);
        // and an absent element differs from a present one
        Assert.NotEqual(a[0], model.LogProb(xt.CopyRows(0, 1), SetEmbedding<double>.WithPresenceFlags(Tensor<double>.FromDoubles([cv[0], cv[1], cv[2], cv[3], double.NaN, double.NaN], 1, 6), 2))[0], 6);
        Assert.Contains("set element 1", Assert.Throws<ArgumentException>(() => SetEmbedding<double>.WithPresenceFlags(Tensor<double>.FromDoubles([1, 2, 3, double.NaN], 1, 4), 2)).Message);
    }

    [Fact]
    public void MismatchedContextPiecesAreRefusedByName()
    {
        var (_, c) = Data(20, new Rng(1));
        var pre = PreprocessingPipeline.Fit<double>(c, PreprocessingSpec.Uniform(c.Columns, PreprocessingKind.Standardize));
        var spec = new FlowSpec { Builder = "maf", Features = 2, ContextFeatures = 3, Layers = 1, Hidden = 4, DType = "float64" };
        var ex = Assert.Throws<ArgumentException>(() => new FlowModel<double>(spec, contextPreprocessing: pre,
            embedding: new EmbeddingSpec { Kind = EmbeddingSpec.Mlp, Features = 4 }));
        Assert.Contains("the embedding gives 4 features but the flow takes 3", ex.Message);
        ex = Assert.Throws<ArgumentException>(() => new FlowModel<double>(spec, contextPreprocessing: pre));
        Assert.Contains("the context has 6 columns but the flow takes 3", ex.Message);
        ex = Assert.Throws<ArgumentException>(() => new FlowModel<double>(spec with { ContextFeatures = 0 }, contextPreprocessing: pre));
        Assert.Contains("unconditional", ex.Message);
        ex = Assert.Throws<ArgumentException>(() => new FlowModel<double>(spec, embedding: new EmbeddingSpec { Kind = "transformer", Features = 3 }, contextColumns: ["a", "b"]));
        Assert.Contains("unknown embedding kind 'transformer'", ex.Message);

        // a file whose context columns went missing names the entry
        var model = new FlowModel<double>(spec, contextPreprocessing: pre, embedding: new EmbeddingSpec { Kind = EmbeddingSpec.Mlp, Features = 3 });
        string path = Path.Combine(_dir, "bad.nflow");
        ModelFile.Save(path, model);
        var file = SafeTensors.Load(path);
        var meta = file.Metadata.Where(kv => kv.Key != "nflow.context-columns").ToDictionary(kv => kv.Key, kv => kv.Value);
        var entries = file.Tensors.ToList();
        SafeTensors.Save(path, entries, FileChecksum.Stamp(entries, meta));
        var fail = Assert.Throws<ModelFileException>(() => ModelFile.Load<double>(path));
        Assert.Contains("nflow.context-columns", fail.Message);
    }

    [Fact]
    public void ContextColumnNamesOfAPlainConditionalModelSurviveTheFile()
    {
        var model = new FlowModel<float>(new FlowSpec { Builder = "realnvp", Features = 2, ContextFeatures = 2, Layers = 1, Hidden = 4 }, contextColumns: ["mass", "width"]);
        string path = Path.Combine(_dir, "names.nflow");
        ModelFile.Save(path, model);
        Assert.Equal(1, ModelFile.ReadInfo(path).FormatVersion); // no context map: older libraries still read it
        Assert.Equal(["mass", "width"], ModelFile.Load<float>(path).ContextColumns);
    }

    /// <summary>The README's conditional "From C#" example, with fewer events and epochs (its data loop is <see cref="Data"/>).</summary>
    [Fact]
    public void ReadmeConditionalExampleRuns()
    {
        string file = Path.Combine(_dir, "xc.nflow");
        int n = 1_000;
        var rng = new Rng(1);
        var (table, context) = Data(n, rng); // the README's loop, the same draws in the same order
        var contextPre = PreprocessingPipeline.Fit<float>(context, PreprocessingSpec.Uniform(context.Columns, PreprocessingKind.Standardize));
        var model = new FlowModel<float>(new FlowSpec { Builder = "nsf", Features = 2, ContextFeatures = 4, Layers = 3, Hidden = 32, Seed = 1 },
            contextPreprocessing: contextPre, embedding: new EmbeddingSpec { Kind = EmbeddingSpec.Mlp, Features = 4, Hidden = 32, Layers = 1 });
        var x = table.ToTensor<float>();
        var c = context.ToTensor<float>();
        double untrained = model.LogProb(x, c).Average();
        model.History = new MaximumLikelihoodTrainer<float>(model.Flow, new TrainingOptions { Epochs = 10, BatchSize = 64 }).Fit(model.MakeTrainingData(x, rng, c));
        ModelFile.Save(file, model);
        var logp = ModelFile.Load<float>(file).LogProb(x, c);

        Assert.Equal(n, logp.Length);
        Assert.Equal(model.LogProb(x, c), logp);
        Assert.Equal(10, ModelFile.ReadInfo(file).History!.Epochs.Count);
        Assert.True(logp.Average() > untrained + 0.5, $"training moved mean log p from {untrained:F3} only to {logp.Average():F3}");
    }
}
