using NormalizingFlows.Autograd;
using NormalizingFlows.Data;
using NormalizingFlows.Data.Preprocessing;
using NormalizingFlows.IO;
using NormalizingFlows.Models;
using NormalizingFlows.Tensors;

namespace NormalizingFlows.Tests.Models;

/// <summary>Issue 15, item 3: several named flow models in one file (ModelFile.SaveBundle / LoadBundle).</summary>
public sealed class ModelBundleTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("nflow-bundle-").FullName;

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }

    private string PathOf(string name) => Path.Combine(_dir, name);

    private static Table Data(int rows, int seed)
    {
        var rng = new Rng(seed);
        var v = new double[rows * 2];
        for (int i = 0; i < rows; i++) { v[2 * i] = 3 + 2 * rng.NextDouble(); v[2 * i + 1] = -1 + 0.5 * rng.NextDouble(); }
        return new Table(["a", "b"], v, rows);
    }

    // two different models: a standardised RealNVP and a conditional MAF without preprocessing
    private static (FlowModel<float> First, FlowModel<float> Second) Models()
    {
        var table = Data(200, 1);
        var first = new FlowModel<float>(new FlowSpec { Builder = "realnvp", Features = 2, Layers = 2, Hidden = 8, Seed = 4 },
            PreprocessingPipeline.Fit<float>(table, PreprocessingSpec.Uniform(table.Columns, PreprocessingKind.Standardize)));
        first.Metadata["note"] = "first";
        var second = new FlowModel<float>(new FlowSpec { Builder = "maf", Features = 3, Layers = 2, Hidden = 8, ContextFeatures = 1, Seed = 5 });
        // weights away from their initialisation, so that a part loaded into the other's slot would show
        foreach (var (_, p) in second.Flow.StateDict()) { var s = p.Span; for (int i = 0; i < s.Length; i++) s[i] += 0.01f * (i % 7); }
        // the masks were written in place: load the state so the masked layers see them (their mask blocks are derived)
        second.Flow.LoadStateDict(second.Flow.StateDict());
        return (first, second);
    }

    [Fact]
    public void PartsRoundTripWithTheirPreprocessingMetadataAndDensities()
    {
        var (first, second) = Models();
        string path = PathOf("b.nflow");
        ModelFile.SaveBundle<float>(path, "pair", [new("first", first), new("second", second)], new Dictionary<string, string> { ["config"] = "{}" });
        var bundle = ModelFile.LoadBundle<float>(path, "pair");
        Assert.Equal("pair", bundle.Role);
        Assert.Equal(["first", "second"], bundle.Parts.Keys);
        Assert.Equal("{}", bundle.Metadata["config"]);
        Assert.Equal("first", bundle.Parts["first"].Metadata["note"]);
        Assert.Equal(first.PreprocessingSpec!.ToJson(), bundle.Parts["first"].PreprocessingSpec!.ToJson());
        Assert.Null(bundle.Parts["second"].Preprocessing);
        var x = Data(5, 2).ToTensor<float>();
        Assert.Equal(first.LogProb(x), bundle.Parts["first"].LogProb(x));
        var y = new Rng(3).Normal<float>(4, 3);
        var c = new Rng(4).Normal<float>(4, 1);
        Assert.Equal(second.LogProb(y, c), bundle.Parts["second"].LogProb(y, c));
        Assert.Contains("part 'second'", ModelFile.Describe(path));
        Assert.Contains("parts         2: first (", ModelFile.Describe(path));
    }

    [Fact]
    public void ABundleIsRefusedWhereOneModelIsExpectedAndTheWrongRoleOrACorruptByteIsNamed()
    {
        var (first, second) = Models();
        string path = PathOf("b.nflow"), single = PathOf("m.nflow");
        ModelFile.SaveBundle<float>(path, "pair", [new("first", first), new("second", second)]);
        var ex = Assert.Throws<ModelFileException>(() => ModelFile.Load<float>(path));
        Assert.Equal(ModelFile.BundleKind, ex.FileKind);
        Assert.Contains("model bundle (role 'pair')", ex.Message);
        ex = Assert.Throws<ModelFileException>(() => ModelFile.LoadBundle<float>(path, "caloflow"));
        Assert.Contains("this is a 'pair' bundle, not a 'caloflow' one", ex.Message);
        ModelFile.Save(single, first);
        ex = Assert.Throws<ModelFileException>(() => ModelFile.LoadBundle<float>(single));
        Assert.Equal(ModelFile.Kind, ex.FileKind);
        var bytes = File.ReadAllBytes(path);
        bytes[^5] ^= 0x01;
        File.WriteAllBytes(path, bytes);
        ex = Assert.Throws<ModelFileException>(() => ModelFile.LoadBundle<float>(path));
        Assert.Contains("checksum", ex.Message);
        Assert.StartsWith(path, ex.Message);
    }

    [Fact]
    public void BadPartNamesAndReservedMetadataAreRefusedBeforeWriting()
    {
        var (first, _) = Models();
        string path = PathOf("x.nflow");
        Assert.Throws<ArgumentException>(() => ModelFile.SaveBundle<float>(path, "r", [new("a/b", first)]));
        Assert.Throws<ArgumentException>(() => ModelFile.SaveBundle<float>(path, "r", [new("a", first), new("a", first)]));
        Assert.Throws<ArgumentException>(() => ModelFile.SaveBundle<float>(path, "r", []));
        Assert.Contains("reserved", Assert.Throws<ArgumentException>(() => ModelFile.SaveBundle<float>(path, "r", [new("a", first)], new Dictionary<string, string> { ["kind"] = "x" })).Message);
        Assert.False(File.Exists(path));
    }
}
