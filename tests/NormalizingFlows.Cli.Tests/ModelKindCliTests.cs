using NormalizingFlows.Hep.Calorimeter;
using NormalizingFlows.Hep.Inference;
using NormalizingFlows.IO;
using NormalizingFlows.Models;
using NormalizingFlows.Training;

namespace NormalizingFlows.Cli.Tests;

/// <summary>Issue 14, item 6: a verb given a model file of another kind names that kind and the verb that reads it.</summary>
public class ModelKindCliTests
{
    private static void MakeFiles(CliSandbox s)
    {
        CaloFlow.Create(new CaloFlowConfig { Flow1Layers = 1, Flow1Hidden = 4, Flow1Bins = 0, Flow2Layers = 1, Flow2Hidden = 4, Flow2Bins = 0 },
            new ToyCalorimeter().Simulate(CaloParticle.Photon, 20, 1), seed: 2).Save(s["calo.nflow"]);
        PosteriorEstimator<float>.Create(["a", "b"], ["x0", "x1"], "realnvp", layers: 2, hidden: 8, seed: 3).Save(s["post.nflow"]);
        var flow = new FlowModel<float>(new FlowSpec { Builder = "realnvp", Features = 2, Layers = 2, Hidden = 8 }, null, ["x0", "x1"]);
        ModelFile.Save(s["flow.nflow"], flow);
        ModuleSerialization.SaveCheckpoint(s["run.ckpt"], flow.Flow, null, new Dictionary<string, string> { ["kind"] = "nflow-checkpoint" });
        s.Write("obs.csv", "x0,x1\n0.1,0.2\n");
        s.Write("data.csv", "x0,x1\n0.1,0.2\n0.3,0.1\n");
    }

    public static TheoryData<string[], string> Cases() => new()
    {
        { ["sample", "{dir}/calo.nflow", "-o", "{dir}/s.csv"], "calo.nflow: this is a CaloFlow model: use nflow calo generate" },
        { ["logprob", "{dir}/calo.nflow", "{dir}/data.csv"], "calo.nflow: this is a CaloFlow model: use nflow calo generate" },
        { ["info", "{dir}/run.ckpt"], "run.ckpt: this is a training checkpoint, not a model: continue it with nflow train DATA --resume FILE" },
        { ["calo", "generate", "{dir}/flow.nflow", "-n", "3", "-o", "{dir}/g.npy"], "flow.nflow: this is a flow model (nflow train): use nflow sample, logprob, eval or info" },
        { ["calo", "generate", "{dir}/post.nflow", "-n", "3", "-o", "{dir}/g.npy"], "post.nflow: this is a posterior model: use nflow infer sample" },
        { ["infer", "sample", "{dir}/flow.nflow", "--observations", "{dir}/obs.csv", "-o", "{dir}/p.csv"], "flow.nflow: this is a flow model (nflow train): use nflow sample" },
        { ["infer", "sample", "{dir}/calo.nflow", "--observations", "{dir}/obs.csv", "-o", "{dir}/p.csv"], "calo.nflow: this is a CaloFlow model: use nflow calo generate" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void AFileOfAnotherKindNamesItsKindAndTheVerbToUse(string[] args, string message)
    {
        using var s = new CliSandbox();
        MakeFiles(s);
        var (code, output, err) = s.Run(args.Select(a => a.Replace("{dir}", s.Dir)).ToArray());
        Assert.True(code == 1, $"exit {code}; out: {output}; err: {err}");
        Assert.Contains(message, err);
        Assert.Single(err.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    [Fact]
    public void APosteriorIsAFlowModelFileThatInfoDescribes()
    {
        using var s = new CliSandbox();
        MakeFiles(s);
        var (code, output, err) = s.Run(["info", s["post.nflow"]]);
        Assert.True(code == 0, $"exit {code}; err: {err}");
        Assert.Contains("context       x0, x1; preprocessing standardize, standardize", output);
        Assert.Contains("role = posterior", output);
    }

    [Fact]
    public void InfoListsTheNamedPartsOfACaloFlowBundleAndAnOldCaloFlowFileIsRefused()
    {
        using var s = new CliSandbox();
        MakeFiles(s);
        var (code, output, err) = s.Run(["info", s["calo.nflow"]]);
        Assert.True(code == 0, $"exit {code}; err: {err}");
        Assert.Contains("role          caloflow", output);
        Assert.Contains("parts         2: flow1 (", output);
        Assert.Contains("part 'teacher'", output);
        Assert.Contains("logit_u0", output);
        // a CaloFlow file of the older, own format (metadata "kind" = "caloflow")
        var flow = new FlowModel<float>(new FlowSpec { Builder = "realnvp", Features = 2, Layers = 2, Hidden = 8 }, null, ["x0", "x1"]);
        ModuleSerialization.Save(flow.Flow, s["old.nflow"], new Dictionary<string, string> { ["kind"] = CaloFlow.LegacyFileKind });
        (code, _, err) = s.Run(["calo", "generate", s["old.nflow"], "-n", "3", "-o", s["g.npy"]]);
        Assert.Equal(1, code);
        Assert.Contains("older version", err);
        Assert.Contains("nflow calo train", err);
    }
}
