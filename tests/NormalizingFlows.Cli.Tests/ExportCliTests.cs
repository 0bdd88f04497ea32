using NormalizingFlows.Export;
using NormalizingFlows.Hep.Calorimeter;
using NormalizingFlows.IO;
using NormalizingFlows.Models;

namespace NormalizingFlows.Cli.Tests;

/// <summary><c>nflow export</c>: the files are the library's ONNX graphs (run against the library in NormalizingFlows.Tests); errors are named.</summary>
public class ExportCliTests
{
    private static string Flow(CliSandbox s, string builder = "maf")
    {
        var model = new FlowModel<float>(new FlowSpec { Builder = builder, Features = 2, Layers = 2, Hidden = 8, Seed = 4 }, null, ["x0", "x1"]);
        ModelFile.Save(s["flow.nflow"], model);
        return s["flow.nflow"];
    }

    [Fact]
    public void BothWritesTheLibrarysLogDensityAndSamplingGraphs()
    {
        using var s = new CliSandbox();
        string model = Flow(s);
        var (code, output, err) = s.Run("export", model, "-o", s["m.onnx"], "--graph", "both");
        Assert.True(code == 0, err + output);
        var loaded = ModelFile.Load<float>(model);
        Assert.Equal(OnnxExport.ToBytes(loaded, OnnxGraphKind.LogProb), File.ReadAllBytes(s["m.logprob.onnx"]));
        Assert.Equal(OnnxExport.ToBytes(loaded, OnnxGraphKind.Sample), File.ReadAllBytes(s["m.sample.onnx"]));
        Assert.False(File.Exists(s["m.onnx"]));
        Assert.Contains("m.sample.onnx", output);

        (code, _, err) = s.Run("export", model, "-o", s["d.onnx"]);
        Assert.True(code == 0, err);
        Assert.Equal(OnnxExport.ToBytes(loaded, OnnxGraphKind.LogProb), File.ReadAllBytes(s["d.onnx"]));
    }

    [Fact]
    public void ErrorsNameTheProblem()
    {
        using var s = new CliSandbox();
        string model = Flow(s, "planar");
        var (code, _, err) = s.Run("export", model, "-o", s["p.onnx"]);
        Assert.Equal(1, code);
        Assert.Contains("flow.nflow: ONNX export: a planar layer's density direction", err);
        Assert.False(File.Exists(s["p.onnx"]));
        (code, _, err) = s.Run("export", model, "-o", s["p.onnx"], "--graph", "sample");
        Assert.True(code == 0, err);

        (code, _, err) = s.Run("export", model, "-o", s["p.bin"]);
        Assert.Equal(2, code);
        Assert.Contains("must end in .onnx", err);

        (code, _, err) = s.Run("export", model, "-o", s["p.onnx"], "--graph", "density");
        Assert.Equal(2, code);
        Assert.Contains("unknown graph 'density'", err);

        CaloFlow.Create(new CaloFlowConfig { Flow1Layers = 1, Flow1Hidden = 4, Flow1Bins = 0, Flow2Layers = 1, Flow2Hidden = 4, Flow2Bins = 0 },
            new ToyCalorimeter().Simulate(CaloParticle.Photon, 20, 1), seed: 2).Save(s["calo.nflow"]);
        (code, _, err) = s.Run("export", s["calo.nflow"], "-o", s["c.onnx"]);
        Assert.Equal(1, code);
        Assert.Contains("calo.nflow: this is a CaloFlow model", err);
        var flow = ModelFile.Load<float>(model);
        ModuleSerialization.SaveCheckpoint(s["run.ckpt"], flow.Flow, null, new Dictionary<string, string> { ["kind"] = "nflow-checkpoint" });
        (code, _, err) = s.Run("export", s["run.ckpt"], "-o", s["c.onnx"]);
        Assert.Equal(1, code);
        Assert.Contains("run.ckpt: this is a training checkpoint", err);
    }
}
