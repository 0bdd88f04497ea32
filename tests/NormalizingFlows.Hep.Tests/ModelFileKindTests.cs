using NormalizingFlows.Hep.Calorimeter;
using NormalizingFlows.Hep.Inference;
using NormalizingFlows.Models;
using NormalizingFlows.IO;

namespace NormalizingFlows.Hep.Tests;

/// <summary>Issue 14, item 6: CaloFlow and posterior model files carry the checksum, and each loader names the kind of a file it cannot use.</summary>
public sealed class ModelFileKindTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("nflow-kinds-").FullName;

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }

    private string P(string name) => Path.Combine(_dir, name);

    internal static CaloFlow TinyCaloFlow() => CaloFlow.Create(
        new CaloFlowConfig { Flow1Layers = 1, Flow1Hidden = 4, Flow1Bins = 0, Flow2Layers = 1, Flow2Hidden = 4, Flow2Bins = 0 },
        new ToyCalorimeter().Simulate(CaloParticle.Photon, 20, 1), seed: 2);

    internal static PosteriorEstimator<float> TinyPosterior() => PosteriorEstimator<float>.Create(["a", "b"], ["x0", "x1"], "realnvp", layers: 2, hidden: 8, seed: 3);

    private static void FlipByte(string path, int fromEnd)
    {
        var bytes = File.ReadAllBytes(path);
        bytes[^fromEnd] ^= 0x01;
        File.WriteAllBytes(path, bytes);
    }

    private static void Patch(string path, string from, string to)
    {
        var bytes = File.ReadAllBytes(path);
        var needle = System.Text.Encoding.UTF8.GetBytes(from);
        int at = bytes.AsSpan().IndexOf(needle);
        Assert.True(at >= 0, $"'{from}' not in {path}");
        System.Text.Encoding.UTF8.GetBytes(to).CopyTo(bytes, at);
        File.WriteAllBytes(path, bytes);
    }

    [Fact]
    public void ACaloFlowFileOfTheOlderOwnFormatIsRefusedWithAdviceToRetrain()
    {
        string path = P("old-calo.nflow");
        TinyCaloFlow().Flow1.Save(path, new Dictionary<string, string> { ["kind"] = CaloFlow.LegacyFileKind });
        var ex = Assert.Throws<ModelFileException>(() => CaloFlow.Load(path));
        Assert.Equal(CaloFlow.LegacyFileKind, ex.FileKind);
        Assert.Contains("written by an older version of NormalizingFlows", ex.Message);
        Assert.Contains("retrain with `nflow calo train`", ex.Message);
        Assert.StartsWith(path, ex.Message);
    }

    [Fact]
    public void ACaloFlowBundleWithAMissingPartOrPartsThatDoNotFitItsConfigIsRefusedNamingThePart()
    {
        string path = P("parts.nflow");
        var model = TinyCaloFlow();
        string Config(CaloFlowConfig c) => System.Text.Json.JsonSerializer.Serialize(c);
        ModelFile.SaveBundle<float>(path, CaloFlow.Role, [new("flow1", model.Flow1Model)], new Dictionary<string, string> { ["config"] = Config(model.Config) });
        Assert.Contains("the CaloFlow bundle has no 'teacher' part", Assert.Throws<ModelFileException>(() => CaloFlow.Load(path)).Message);
        ModelFile.SaveBundle<float>(path, CaloFlow.Role, [new("flow1", model.Flow1Model), new("teacher", model.TeacherModel)],
            new Dictionary<string, string> { ["config"] = Config(model.Config with { Flow2Layers = 2 }) });
        Assert.Contains("part 'teacher' does not fit the CaloFlow config", Assert.Throws<ModelFileException>(() => CaloFlow.Load(path)).Message);
        ModelFile.SaveBundle<float>(path, CaloFlow.Role, [new("flow1", model.TeacherModel), new("teacher", model.TeacherModel)], new Dictionary<string, string> { ["config"] = Config(model.Config) });
        Assert.Contains("part 'flow1' is not a CaloFlow flow", Assert.Throws<ModelFileException>(() => CaloFlow.Load(path)).Message);
        // the parts as saved: the same bundle loads
        ModelFile.SaveBundle<float>(path, CaloFlow.Role, [new("flow1", model.Flow1Model), new("teacher", model.TeacherModel)], new Dictionary<string, string> { ["config"] = Config(model.Config) });
        var loaded = CaloFlow.Load(path).StateDict();
        Assert.Equal(model.StateDict().Keys, loaded.Keys);
        foreach (var (name, t) in model.StateDict()) Assert.Equal(t.ToDoubleArray(), loaded[name].ToDoubleArray());
    }

    [Fact]
    public void CaloFlowFileWithAChangedByteIsRefused()
    {
        string path = P("calo.nflow");
        TinyCaloFlow().Save(path);
        Assert.NotNull(CaloFlow.Load(path));
        FlipByte(path, 9); // a tensor byte: used to change the showers without a word
        var ex = Assert.Throws<ModelFileException>(() => CaloFlow.Load(path));
        Assert.Contains("does not match its checksum", ex.Message);
        Assert.StartsWith(path, ex.Message);
        TinyCaloFlow().Save(path);
        Patch(path, "Particle\\\":\\\"eplus", "Particle\\\":\\\"eplut"); // in the config JSON
        Assert.Contains("checksum", Assert.Throws<ModelFileException>(() => CaloFlow.Load(path)).Message);
    }

    [Fact]
    public void PosteriorFileWithAChangedByteIsRefused()
    {
        string path = P("post.nflow");
        TinyPosterior().Save(path);
        Assert.NotNull(PosteriorEstimator<float>.Load(path));
        FlipByte(path, 5);
        var ex = Assert.Throws<ModelFileException>(() => PosteriorEstimator<float>.Load(path));
        Assert.Contains("does not match its checksum", ex.Message);
    }

    [Fact]
    public void EachLoaderNamesTheKindOfAFileItCannotUse()
    {
        string calo = P("calo.nflow"), post = P("post.nflow"), flow = P("flow.nflow");
        TinyCaloFlow().Save(calo);
        TinyPosterior().Save(post);
        ModelFile.Save(flow, new FlowModel<float>(new FlowSpec { Builder = "realnvp", Features = 2, Layers = 2, Hidden = 8 }, null, ["a", "b"]));

        Assert.Equal(ModelFile.BundleKind, Assert.Throws<ModelFileException>(() => ModelFile.Load<float>(calo)).FileKind);
        Assert.Equal(["a", "b"], ModelFile.Load<float>(post).Columns); // a posterior is a flow model file
        var ex = Assert.Throws<ModelFileException>(() => CaloFlow.Load(flow));
        Assert.Equal(ModelFile.Kind, ex.FileKind);
        Assert.Contains("not a CaloFlow model: this is a 'nflow-model' file", ex.Message);
        Assert.Equal(ModelFile.Kind, Assert.Throws<ModelFileException>(() => CaloFlow.Load(post)).FileKind);
        Assert.Equal(ModelFile.Kind, Assert.Throws<ModelFileException>(() => PosteriorEstimator<float>.Load(flow)).FileKind);
        Assert.Equal(ModelFile.BundleKind, Assert.Throws<ModelFileException>(() => PosteriorEstimator<float>.Load(calo)).FileKind);
    }

    [Fact]
    public void APosteriorFileOfTheOlderFormatIsRefusedWithAdvice()
    {
        // the layout of the posterior files before they became model files: kind "nflow-posterior", own spec entries
        string path = P("old-post.nflow");
        var state = TinyPosterior().Flow.StateDict();
        var meta = new Dictionary<string, string> { ["kind"] = PosteriorEstimator<float>.LegacyFileKind, ["posterior.format"] = "1" };
        SafeTensors.Save(path, state, FileChecksum.Stamp(state, meta));
        var ex = Assert.Throws<ModelFileException>(() => PosteriorEstimator<float>.Load(path));
        Assert.Equal(PosteriorEstimator<float>.LegacyFileKind, ex.FileKind);
        Assert.Contains("written by an older version", ex.Message);
        Assert.Contains("retrain it with 'nflow infer train'", ex.Message);
        Assert.StartsWith(path, ex.Message);
    }
}
