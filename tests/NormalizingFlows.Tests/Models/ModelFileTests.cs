using System.Numerics;
using NormalizingFlows.Data.Preprocessing;
using NormalizingFlows.IO;
using NormalizingFlows.Models;
using NormalizingFlows.Tensors;
using NormalizingFlows.Tests.Transforms;
using NormalizingFlows.Training;

namespace NormalizingFlows.Tests.Models;

public sealed class ModelFileTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("nflow-modelfile-").FullName;

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }

    private string PathOf(string name) => Path.Combine(_dir, name);

    public static TheoryData<string, bool, bool> RoundTripCases()
    {
        var d = new TheoryData<string, bool, bool>();
        foreach (var b in FlowSpec.KnownBuilders)
            foreach (bool f in new[] { true, false })
                foreach (bool pre in new[] { true, false })
                    d.Add(b, f, pre);
        return d;
    }

    private static FlowModel<T> MakeModel<T>(string builder, bool preprocessing, int context = 0, int seed = 3) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var spec = new FlowSpec { Builder = builder, Features = 5, Layers = 2, Hidden = 8, Bins = builder == "iaf" ? 4 : null, ContextFeatures = context, Seed = seed, DType = FlowSpec.DTypeOf<T>() };
        var table = TransformCatalog.PreprocessingTable(new Rng(seed), 300);
        var pre = preprocessing ? PreprocessingPipeline.Fit<T>(table, TransformCatalog.MixedSpec) : null;
        var model = new FlowModel<T>(spec, pre, table.Columns);
        // data-dependent initialisation (ActNorm), then parameters away from the identity
        model.Flow.LogProb(new NormalizingFlows.Autograd.Var<T>(table.ToTensor<T>()), context > 0 ? new NormalizingFlows.Autograd.Var<T>(new Rng(1).Normal<T>(300, context)) : null);
        var r = new Rng(seed + 100);
        foreach (var p in model.Flow.Parameters())
        {
            var s = p.Value.Span;
            for (int i = 0; i < s.Length; i++) s[i] += T.CreateTruncating(0.1 * r.NextNormal());
        }
        model.Flow.Eval();
        return model;
    }

    private static Tensor<T> Data<T>() where T : unmanaged, IFloatingPointIeee754<T>
        => TransformCatalog.PreprocessingTable(new Rng(42), 40).ToTensor<T>();

    [Theory]
    [MemberData(nameof(RoundTripCases))]
    public void RoundTripGivesIdenticalLogProbAndSamples(string builder, bool useFloat, bool preprocessing)
    {
        if (useFloat) Check<float>(); else Check<double>();

        void Check<T>() where T : unmanaged, IFloatingPointIeee754<T>
        {
            var model = MakeModel<T>(builder, preprocessing);
            model.Metadata["note"] = "hello";
            string path = PathOf($"{builder}-{typeof(T).Name}-{preprocessing}.nflow");
            ModelFile.Save(path, model);
            var loaded = ModelFile.Load<T>(path);
            Assert.Equal(model.Spec, loaded.Spec);
            Assert.Equal(model.Columns, loaded.Columns);
            Assert.Equal("hello", loaded.Metadata["note"]);
            Assert.Equal(model.PreprocessingSpec?.ToJson(), loaded.PreprocessingSpec?.ToJson());
            var x = Data<T>();
            Assert.Equal(model.LogProb(x), loaded.LogProb(x));
            Assert.Equal(model.Sample(50, new Rng(5)).ToArray(), loaded.Sample(50, new Rng(5)).ToArray());
            if (preprocessing) Assert.Contains(model.LogProb(x), v => double.IsFinite(v));
        }
    }

    [Fact]
    public void ConditionalModelRoundTrips()
    {
        var model = MakeModel<double>("realnvp", preprocessing: true, context: 2);
        string path = PathOf("cond.nflow");
        ModelFile.Save(path, model);
        var loaded = ModelFile.Load<double>(path);
        var x = Data<double>();
        var c = new Rng(8).Normal<double>(40, 2);
        Assert.Equal(model.LogProb(x, c), loaded.LogProb(x, c));
        Assert.IsType<NormalizingFlows.Flows.ConditionalFlow<double>>(loaded.Flow);
    }

    [Fact]
    public void TrainedModelKeepsHistoryAndDescribesItself()
    {
        var table = TransformCatalog.PreprocessingTable(new Rng(1), 400);
        var spec = PreprocessingSpec.Auto(table);
        var pre = PreprocessingPipeline.Fit<float>(table, spec);
        var model = new FlowModel<float>(new FlowSpec { Builder = "nsf", Features = 5, Layers = 2, Hidden = 16, Seed = 7 }, pre);
        var trainer = new MaximumLikelihoodTrainer<float>(model.Flow, new TrainingOptions { Epochs = 3, BatchSize = 100, ValidationFraction = 0.25, Seed = 7 });
        model.History = trainer.Fit(model.MakeTrainingData(table.ToTensor<float>(), new Rng(2)));
        model.Seed = 7;
        string path = PathOf("trained.nflow");
        ModelFile.Save(path, model);

        var info = ModelFile.ReadInfo(path);
        Assert.Equal(3, info.History!.Epochs.Count);
        Assert.Equal(model.History.BestEpoch, info.History.BestEpoch);
        Assert.Equal(model.History.Epochs, info.History.Epochs);
        Assert.Equal(7, info.Seed);
        var loaded = ModelFile.Load<float>(path);
        var x = table.ToTensor<float>();
        Assert.Equal(model.LogProb(x), loaded.LogProb(x));

        string text = ModelFile.Describe(path);
        Assert.Contains("nsf: 5 features, 2 layers, hidden 16", text);
        Assert.Contains("minmax-logit", text);
        Assert.Contains("dequantize", text);
        Assert.Contains("3 epochs", text);
        Assert.Contains("best validation log-likelihood", text);
        Assert.Contains("seed          7", text);
        Assert.Contains(model.ParameterCount().ToString("N0", System.Globalization.CultureInfo.InvariantCulture), text);
        Assert.Contains("KiB", text);
        foreach (var c in table.Columns) Assert.Contains(c, text);

        var raw = SafeTensors.Load(path).Metadata;
        foreach (var key in new[] { "nflow.format", "nflow.library", "nflow.flow", "nflow.preprocessing", "nflow.columns", "nflow.history", "nflow.seed", "nflow.created", "nflow.checksum", "nflow.parameters" })
            Assert.True(raw.ContainsKey(key), $"missing {key}");
    }

    // ------------------------------------------------------------------ corrupt and incompatible files

    private string SaveSample(string name = "m.nflow")
    {
        string path = PathOf(name);
        ModelFile.Save(path, MakeModel<float>("maf", preprocessing: true));
        return path;
    }

    private static string LoadFails(string path)
    {
        var ex = Assert.Throws<ModelFileException>(() => ModelFile.Load<float>(path));
        Assert.Equal(path, ex.FilePath);
        Assert.StartsWith(path, ex.Message);
        return ex.Message;
    }

    /// <summary>
    /// Rewrites the file with the same tensors and <paramref name="edit"/> applied to its metadata, with a checksum
    /// that matches (as a writer with other ideas would): the checks after the checksum are what is tested.
    /// </summary>
    private static void EditMetadata(string path, Action<Dictionary<string, string>> edit)
    {
        var file = SafeTensors.Load(path);
        var meta = file.Metadata.ToDictionary(kv => kv.Key, kv => kv.Value);
        edit(meta);
        SaveStamped(path, file.Tensors, meta);
    }

    /// <summary>Writes <paramref name="entries"/> with <paramref name="meta"/> and a matching checksum.</summary>
    private static void SaveStamped(string path, IEnumerable<SafeTensorEntry> entries, IReadOnlyDictionary<string, string> meta)
    {
        var list = entries.ToList();
        SafeTensors.Save(path, list, FileChecksum.Stamp(list, meta));
    }

    [Fact]
    public void TruncatedFileIsNamed()
    {
        string path = SaveSample();
        var bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..(bytes.Length - 100)]);
        Assert.Contains("truncated", LoadFails(path));
        File.WriteAllBytes(path, bytes[..5]);
        Assert.Contains("shorter than the 8-byte", LoadFails(path));
    }

    [Fact]
    public void FlippedHeaderBytesAreNamed()
    {
        string path = SaveSample();
        var bytes = File.ReadAllBytes(path);
        bytes[8] ^= 0x5A; // the header's opening brace
        File.WriteAllBytes(path, bytes);
        Assert.Contains("not valid JSON", LoadFails(path));
        bytes = File.ReadAllBytes(SaveSample("b.nflow"));
        bytes[3] ^= 0x40; // header length
        File.WriteAllBytes(path, bytes);
        Assert.Contains("header length", LoadFails(path));
    }

    [Fact]
    public void FlippedDataBytesFailTheChecksum()
    {
        string path = SaveSample();
        var bytes = File.ReadAllBytes(path);
        bytes[^7] ^= 0x01;
        File.WriteAllBytes(path, bytes);
        Assert.Contains("checksum", LoadFails(path));
    }

    [Fact]
    public void MissingMetadataIsNamed()
    {
        string path = SaveSample();
        EditMetadata(path, m => m.Clear());
        Assert.Contains("no 'nflow.format'", LoadFails(path));
        path = SaveSample("c.nflow");
        EditMetadata(path, m => m.Remove("nflow.flow"));
        Assert.Contains("'nflow.flow'", LoadFails(path));
        path = SaveSample("d.nflow");
        EditMetadata(path, m => m["nflow.columns"] = "{not json");
        Assert.Contains("'nflow.columns'", LoadFails(path));
        path = SaveSample("e.nflow");
        EditMetadata(path, m => m["nflow.preprocessing"] = m["nflow.preprocessing"].Replace("minmax-logit", "cube-root"));
        Assert.Contains("cube-root", LoadFails(path));
    }

    [Fact]
    public void CheckpointIsNotAModelFile()
    {
        var model = MakeModel<float>("realnvp", preprocessing: false);
        string path = PathOf("ckpt.safetensors");
        ModuleSerialization.SaveCheckpoint(path, model.Flow, null, new Dictionary<string, string> { ["kind"] = "nflow-checkpoint" });
        Assert.Contains("training checkpoint", LoadFails(path));
    }

    [Fact]
    public void UnknownBuilderAndFutureVersionAreNamed()
    {
        string path = SaveSample();
        EditMetadata(path, m => m["nflow.flow"] = m["nflow.flow"].Replace("\"maf\"", "\"ffjord\""));
        string msg = LoadFails(path);
        Assert.Contains("unknown builder 'ffjord'", msg);
        Assert.Contains("realnvp", msg);
        path = SaveSample("f.nflow");
        EditMetadata(path, m => m["nflow.format"] = (ModelFile.FormatVersion + 1).ToString());
        Assert.Contains($"format version {ModelFile.FormatVersion + 1} is newer", LoadFails(path));
        path = SaveSample("g.nflow");
        EditMetadata(path, m => m["nflow.format"] = "one");
        Assert.Contains("not a format version", LoadFails(path));
    }

    [Fact]
    public void ShapeMismatchNamesTheTensor()
    {
        string path = SaveSample();
        var file = SafeTensors.Load(path);
        var victim = file.Tensors.First(t => t.Shape.Length == 2);
        var entries = file.Tensors.Select(t => t.Name == victim.Name
            ? SafeTensorEntry.From(t.Name, Tensor<float>.Zeros(t.Shape[0] + 1, t.Shape[1]))
            : t).ToList();
        SaveStamped(path, entries, file.Metadata);
        string msg = LoadFails(path);
        Assert.Contains($"tensor '{victim.Name}'", msg);
        Assert.Contains("shape", msg);
        // an architecture change in the metadata is caught the same way
        path = SaveSample("h.nflow");
        EditMetadata(path, m => m["nflow.flow"] = m["nflow.flow"].Replace("\"hidden\":8", "\"hidden\":9"));
        Assert.Contains("has shape", LoadFails(path));
        // missing and unexpected tensors
        path = SaveSample("i.nflow");
        file = SafeTensors.Load(path);
        SaveStamped(path, file.Tensors.Skip(1), file.Metadata);
        Assert.Contains($"tensor '{file.Tensors[0].Name}'", LoadFails(path));
        Assert.Contains("missing", LoadFails(path));
        path = SaveSample("j.nflow");
        file = SafeTensors.Load(path);
        SaveStamped(path, file.Tensors.Append(SafeTensorEntry.From("extra.weight", Tensor<float>.Zeros(2))), file.Metadata);
        Assert.Contains("unexpected tensor 'extra.weight'", LoadFails(path));
    }

    [Fact]
    public void DTypeMismatchIsNamed()
    {
        string path = SaveSample();
        Assert.Contains("Load<float>", Assert.Throws<ModelFileException>(() => ModelFile.Load<double>(path)).Message);
        var converted = ModelFile.Load<double>(path, convert: true);
        Assert.Equal(ModelFile.Load<float>(path).LogProb(Data<float>()), converted.LogProb(Data<double>()), new Tolerance(1e-3));
        EditMetadata(path, m => m["nflow.flow"] = m["nflow.flow"].Replace("float32", "float64"));
        var ex = Assert.Throws<ModelFileException>(() => ModelFile.Load<double>(path));
        Assert.Contains("stored as F32", ex.Message);
        Assert.Contains("float64", ex.Message);
    }

    [Fact]
    public void NonFiniteParametersAreRejected()
    {
        string path = SaveSample();
        var file = SafeTensors.Load(path);
        var victim = file.Tensors.First(t => t.Name.Contains("weight"));
        victim.As<float>().Span[0] = float.NaN;
        var meta = file.Metadata.ToDictionary(kv => kv.Key, kv => kv.Value);
        meta["nflow.checksum"] = ModelFile.Checksum(file.Tensors);
        SafeTensors.Save(path, file.Tensors, meta);
        Assert.Contains($"tensor '{victim.Name}' holds a non-finite value", LoadFails(path));
    }

    [Fact]
    public void ReservedMetadataKeysAreRefused()
    {
        var model = MakeModel<float>("realnvp", preprocessing: false);
        model.Metadata["nflow.flow"] = "mine";
        Assert.Throws<ArgumentException>(() => ModelFile.Save(PathOf("x.nflow"), model));
    }

    private sealed class Tolerance(double tol) : IEqualityComparer<double>
    {
        public bool Equals(double a, double b) => Math.Abs(a - b) <= tol * Math.Max(1, Math.Abs(a));
        public int GetHashCode(double v) => 0;
    }
}
