using System.Text;
using NormalizingFlows.Data;
using NormalizingFlows.Flows;
using NormalizingFlows.Nn;
using NormalizingFlows.IO;
using NormalizingFlows.Models;
using NormalizingFlows.Tensors;
using NormalizingFlows.Training;
using Xunit.Abstractions;

namespace NormalizingFlows.Tests.Fuzz;

/// <summary>
/// Issue 14, item 13: thousands of seeded mutations of a valid file per reader; each ends in the reader's own
/// exception with a message naming the file, or is accepted (checksummed formats: only as the original).
/// </summary>
public sealed class ReaderFuzzTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("nflow-fuzz-").FullName;

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }

    private string P(string name) => Path.Combine(_dir, name);

    private static bool SameTable(Table a, Table b) => a.Columns.SequenceEqual(b.Columns) && a.Values.SequenceEqual(b.Values);

    // a small valid file written by `write` under `name`: its bytes, and the table `read` gets back from it
    private (byte[] Valid, Table Original) ValidFile(string name, Action<string, Table> write, Func<string, Table> read)
    {
        string path = P(name);
        write(path, ToyDatasets.Generate("moons", 40, 3));
        return (File.ReadAllBytes(path), read(path));
    }

    [Fact]
    public void Csv()
    {
        var (valid, original) = ValidFile("valid.csv", (p, t) => NormalizingFlows.Data.Csv.Write(p, t), p => NormalizingFlows.Data.Csv.Read(p));
        var counts = FuzzHarness.Run<DataFormatException>("CSV", valid,
            b => SameTable(original, NormalizingFlows.Data.Csv.Read(new StreamReader(new MemoryStream(b), Encoding.UTF8), "fuzz.csv")),
            "fuzz.csv", checksummed: false, output, count: 2000);
        Assert.True(counts.NamedErrors > counts.Tried / 10, counts.ToString());
    }

    [Fact]
    public void Npy()
    {
        var (valid, original) = ValidFile("valid.npy", (p, t) => NormalizingFlows.Data.Npy.Write(p, t), p => NormalizingFlows.Data.Npy.Read(p));
        var counts = FuzzHarness.Run<DataFormatException>("NPY (Npy.Parse)", valid,
            b => SameTable(original, NormalizingFlows.Data.Npy.Parse(b, "fuzz.npy")), "fuzz.npy", checksummed: false, output, count: 3000);
        Assert.True(counts.NamedErrors > counts.Tried / 10, counts.ToString());
        // the streaming reader parses the header on its own path
        string fuzzed = P("fuzz.npy");
        var expected = original.Values.Select(v => (float)v).ToArray();
        counts = FuzzHarness.Run<DataFormatException>("NPY (Npy.ReadTensor)", valid, b =>
        {
            File.WriteAllBytes(fuzzed, b);
            return NormalizingFlows.Data.Npy.ReadTensor<float>(fuzzed).ReadOnlySpan.SequenceEqual(expected);
        }, fuzzed, checksummed: false, output, count: 1000, seed: 2);
        Assert.True(counts.NamedErrors > counts.Tried / 10, counts.ToString());
    }

    private static bool SameState(Module<float> a, Module<float> b)
    {
        var sa = a.StateDict();
        var sb = b.StateDict();
        return sa.Count == sb.Count && sa.All(kv => sb.TryGetValue(kv.Key, out var t) && t.ReadOnlySpan.SequenceEqual(kv.Value.ReadOnlySpan));
    }

    [Fact]
    public void FlowModelFile()
    {
        var table = ToyDatasets.Generate("moons", 200, 3);
        var pre = NormalizingFlows.Data.Preprocessing.PreprocessingPipeline.Fit<float>(table, NormalizingFlows.Data.Preprocessing.PreprocessingSpec.Auto(table));
        var model = new FlowModel<float>(new FlowSpec { Builder = "nsf", Features = 2, Layers = 2, Hidden = 8, Bins = 4, Seed = 1 }, pre, table.Columns);
        model.History = new MaximumLikelihoodTrainer<float>(model.Flow, new TrainingOptions { Epochs = 1, BatchSize = 100, Seed = 1 })
            .Fit(model.MakeTrainingData(table.ToTensor<float>(), new Rng(1)));
        model.Metadata["note"] = "fuzz";
        string path = P("valid.nflow");
        ModelFile.Save(path, model);
        var valid = File.ReadAllBytes(path);
        var original = ModelFile.Load<float>(path);
        var originalInfo = ModelFile.Describe(path).Replace(path, "");
        string fuzzed = P("fuzz.nflow");
        var counts = FuzzHarness.Run<ModelFileException>("model file (.nflow)", valid, b =>
        {
            File.WriteAllBytes(fuzzed, b);
            var m = ModelFile.Load<float>(fuzzed);
            return SameState(original.Flow, m.Flow) && ModelFile.Describe(fuzzed).Replace(fuzzed, "").Replace(b.Length + " B", valid.Length + " B") == originalInfo;
        }, fuzzed, checksummed: true, output);
        Assert.True(counts.NamedErrors > counts.Tried * 9 / 10, counts.ToString());
    }

    [Fact]
    public void TrainingCheckpoint()
    {
        var x = new Rng(4).Normal<float>(128, 2);
        var flow = FlowBuilders.RealNvp<float>(2, layers: 2, hidden: 8, rng: new Rng(1));
        string path = P("valid.ckpt");
        new MaximumLikelihoodTrainer<float>(flow, new TrainingOptions { Epochs = 1, BatchSize = 64, Seed = 1, CheckpointPath = path, ValidationFraction = 0 })
            .Fit(new TrainingData<float>(x));
        var valid = File.ReadAllBytes(path);
        string fuzzed = P("fuzz.ckpt");
        var target = FlowBuilders.RealNvp<float>(2, layers: 2, hidden: 8, rng: new Rng(9));
        var optimizer = new NormalizingFlows.Optim.Adam<float>(target.Parameters());
        int metadataCount = SafeTensors.Load(path).Metadata.Count;
        var counts = FuzzHarness.Run<ModelFileException>("training checkpoint", valid, b =>
        {
            File.WriteAllBytes(fuzzed, b);
            var meta = ModuleSerialization.LoadCheckpoint(fuzzed, target, optimizer);
            return SameState(flow, target) && meta.Count == metadataCount;
        }, fuzzed, checksummed: true, output);
        Assert.True(counts.NamedErrors > counts.Tried * 9 / 10, counts.ToString());
    }
}
