using System.Text;
using NormalizingFlows.Flows;
using NormalizingFlows.IO;
using NormalizingFlows.Models;
using NormalizingFlows.Tensors;
using NormalizingFlows.Training;

namespace NormalizingFlows.Tests.IO;

/// <summary>Issue 14, item 6: every model-file kind carries a checksum over its metadata and tensors; a changed byte is refused by name.</summary>
public sealed class FileChecksumTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("nflow-checksum-").FullName;

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }

    private string P(string name) => Path.Combine(_dir, name);

    private string SaveModel(string name)
    {
        var model = new FlowModel<float>(new FlowSpec { Builder = "realnvp", Features = 2, Layers = 2, Hidden = 8, Seed = 1234 }, null, ["a", "b"]);
        model.Seed = 1234;
        model.Metadata["note"] = "abcd";
        string path = P(name);
        ModelFile.Save(path, model);
        return path;
    }

    /// <summary>Replaces the only occurrence of <paramref name="from"/> in the file by <paramref name="to"/> (same length: the layout stays valid).</summary>
    private static void Patch(string path, string from, string to)
    {
        Assert.Equal(from.Length, to.Length);
        var bytes = File.ReadAllBytes(path);
        var needle = Encoding.UTF8.GetBytes(from);
        int at = bytes.AsSpan().IndexOf(needle);
        Assert.True(at >= 0, $"'{from}' not in {path}");
        Assert.True(bytes.AsSpan(at + 1).IndexOf(needle) < 0, $"'{from}' occurs twice in {path}");
        Encoding.UTF8.GetBytes(to).CopyTo(bytes, at);
        File.WriteAllBytes(path, bytes);
    }

    [Theory]
    [InlineData("\"note\":\"abcd\"", "\"note\":\"abce\"")]
    [InlineData("\"nflow.seed\":\"1234\"", "\"nflow.seed\":\"1235\"")]
    [InlineData("\"nflow.columns\":\"[\\\"a\\\",\\\"b\\\"]\"", "\"nflow.columns\":\"[\\\"b\\\",\\\"a\\\"]\"")]
    public void AChangedMetadataValueOfAModelFileIsRefused(string from, string to)
    {
        string path = SaveModel("m.nflow");
        Assert.Equal("abcd", ModelFile.Load<float>(path).Metadata["note"]);
        Patch(path, from, to);
        var ex = Assert.Throws<ModelFileException>(() => ModelFile.Load<float>(path));
        Assert.Contains("does not match its checksum", ex.Message);
        Assert.StartsWith(path, ex.Message);
        Assert.Contains("checksum", Assert.Throws<ModelFileException>(() => ModelFile.ReadInfo(path)).Message);
    }

    [Fact]
    public void AModelFileWithTheOlderTensorOnlyChecksumStillLoadsAndIsStillChecked()
    {
        string path = SaveModel("old.nflow");
        var file = SafeTensors.Load(path);
        var meta = file.Metadata.ToDictionary(kv => kv.Key, kv => kv.Value);
        meta[FileChecksum.MetadataKey] = ModelFile.Checksum(file.Tensors);
        SafeTensors.Save(path, file.Tensors, meta);
        var loaded = ModelFile.Load<float>(path);
        Assert.Equal(1234, loaded.Seed);
        var bytes = File.ReadAllBytes(path);
        bytes[^5] ^= 0x10;
        File.WriteAllBytes(path, bytes);
        Assert.Contains("do not match their checksum", Assert.Throws<ModelFileException>(() => ModelFile.Load<float>(path)).Message);
    }

    private static Flow<float> SmallFlow(int seed) => FlowBuilders.RealNvp<float>(2, layers: 2, hidden: 8, rng: new Rng(seed));

    [Fact]
    public void ACheckpointWithAFlippedByteIsRefused()
    {
        string path = P("run.ckpt");
        var flow = SmallFlow(1);
        new MaximumLikelihoodTrainer<float>(flow, new TrainingOptions { Epochs = 1, BatchSize = 64, Seed = 1, CheckpointPath = path, ValidationFraction = 0 })
            .Fit(new TrainingData<float>(new Rng(2).Normal<float>(128, 2)));
        var target = SmallFlow(5);
        ModuleSerialization.LoadCheckpoint(path, target, new NormalizingFlows.Optim.Adam<float>(target.Parameters()));
        Assert.Equal(flow.StateDict()[flow.StateDict().Keys.First()].ToArray(), target.StateDict()[target.StateDict().Keys.First()].ToArray());

        var bytes = File.ReadAllBytes(path);
        bytes[^3] ^= 0x01; // a tensor byte
        File.WriteAllBytes(path, bytes);
        var fresh = SmallFlow(5);
        var ex = Assert.Throws<ModelFileException>(() => ModuleSerialization.LoadCheckpoint(path, fresh, new NormalizingFlows.Optim.Adam<float>(fresh.Parameters())));
        Assert.Contains("does not match its checksum", ex.Message);
        Assert.StartsWith(path, ex.Message);
        // and its metadata: the step count
        File.WriteAllBytes(path, Array.Empty<byte>());
        new MaximumLikelihoodTrainer<float>(SmallFlow(1), new TrainingOptions { Epochs = 1, BatchSize = 64, Seed = 1, CheckpointPath = path, ValidationFraction = 0 })
            .Fit(new TrainingData<float>(new Rng(2).Normal<float>(128, 2)));
        Patch(path, "\"step\":\"2\"", "\"step\":\"9\"");
        Assert.Contains("checksum", Assert.Throws<ModelFileException>(() => ModuleSerialization.LoadCheckpoint(path, fresh, null)).Message);
    }

    [Fact]
    public void AModuleFileIsCheckedWhenItHasAChecksum()
    {
        string path = P("module.safetensors");
        var flow = SmallFlow(1);
        flow.Save(path);
        Assert.True(SafeTensors.Load(path).Metadata.ContainsKey(FileChecksum.MetadataKey));
        var bytes = File.ReadAllBytes(path);
        bytes[^2] ^= 0x04;
        File.WriteAllBytes(path, bytes);
        Assert.Contains("checksum", Assert.Throws<ModelFileException>(() => SmallFlow(2).Load(path)).Message);
        // a safetensors file from another writer (no checksum) still loads
        SafeTensors.Save(path, flow.StateDict());
        SmallFlow(2).Load(path);
    }

    [Fact]
    public void AFileOfAnotherKindIsNamedByItsKind()
    {
        string model = SaveModel("m.nflow");
        string ckpt = P("c.ckpt");
        var flow = SmallFlow(1);
        ModuleSerialization.SaveCheckpoint(ckpt, flow, null, new Dictionary<string, string> { ["kind"] = "nflow-checkpoint" });
        Assert.Equal("nflow-checkpoint", Assert.Throws<ModelFileException>(() => ModelFile.Load<float>(ckpt)).FileKind);
        var ex = Assert.Throws<ModelFileException>(() => ModuleSerialization.LoadCheckpoint(model, flow, null));
        Assert.Equal(ModelFile.Kind, ex.FileKind);
        Assert.Contains("flow model file, not a training checkpoint", ex.Message);
        string other = P("o.nflow");
        flow.Save(other, new Dictionary<string, string> { ["kind"] = "caloflow" });
        ex = Assert.Throws<ModelFileException>(() => ModelFile.Load<float>(other));
        Assert.Equal("caloflow", ex.FileKind);
        Assert.Contains("this is a 'caloflow' file, not a flow model file", ex.Message);
        Assert.Equal(ModelFile.Kind, ModelFile.KindOf(SafeTensors.Load(model).Metadata));
    }
}
