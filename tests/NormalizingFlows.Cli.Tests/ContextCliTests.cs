using System.Globalization;
using NormalizingFlows.Data;
using NormalizingFlows.Models;

namespace NormalizingFlows.Cli.Tests;

/// <summary>Issue #15 item 6: conditional flows from the command line (train --context, sample --context, logprob/eval/info with a context).</summary>
public class ContextCliTests
{
    private static readonly string[] Small = ["--flow", "maf", "--layers", "2", "--hidden", "8", "--batch", "128", "--epochs", "2", "--val", "0"];

    // x ~ N(2c, 0.5), y ~ N(0, 1), context c ~ U(-2, 2), weight w
    private static string Data(CliSandbox s, string name = "d.csv", int n = 400)
    {
        var r = new NormalizingFlows.Tensors.Rng(1);
        var lines = new List<string> { "x,y,c,w" };
        for (int i = 0; i < n; i++)
        {
            double c = -2 + 4 * r.NextDouble();
            lines.Add(string.Join(",", new[] { 2 * c + 0.5 * r.NextNormal(), r.NextNormal(), c, 1 + r.NextDouble() }.Select(v => v.ToString("R", CultureInfo.InvariantCulture))));
        }
        return s.Write(name, string.Join("\n", lines) + "\n");
    }

    private static string Trained(CliSandbox s, params string[] extra)
    {
        string model = s[$"m-{Guid.NewGuid():N}.nflow"];
        var (code, output, err) = s.Run(["train", Data(s), .. Small, "--columns", "x,y", "--context", "c", "-o", model, .. extra]);
        Assert.True(code == 0, err + output);
        return model;
    }

    // a usage error exits 2, a file that does not fit the options 1
    private static void Refused(CliSandbox s, string expected, string[] args, int exit = 2)
    {
        var (code, output, err) = s.Run(args);
        Assert.True(code == exit, $"exit {code}: {output}{err}");
        Assert.Contains(expected, err);
    }

    [Fact]
    public void TrainWithContextMakesAConditionalModelThatInfoDescribes()
    {
        using var s = new CliSandbox();
        string model = s["m.nflow"];
        var (code, output, err) = s.Run(["train", Data(s), .. Small, "--context", "c", "--weights", "w", "-o", model]);
        Assert.True(code == 0, err + output);
        Assert.Contains("2 columns (x, y), weighted by 'w', conditioned on (c)", output);
        Assert.Contains("context preprocessing: c: standardize", output);
        var m = ModelFile.Load<float>(model);
        Assert.Equal(["x", "y"], m.Columns);
        Assert.Equal(["c"], m.ContextColumns);
        Assert.Equal(1, m.Spec.ContextFeatures);
        (code, output, err) = s.Run(["info", model]);
        Assert.True(code == 0, err);
        Assert.Contains("context       c; preprocessing standardize", output);
    }

    [Fact]
    public void EmbeddingOptionBuildsAnMlpEmbedding()
    {
        using var s = new CliSandbox();
        var m = ModelFile.Load<float>(Trained(s, "--embedding", "mlp:4:16:1"));
        Assert.Equal(new NormalizingFlows.Nn.Embeddings.EmbeddingSpec { Kind = "mlp", Features = 4, Hidden = 16, Layers = 1 }, m.EmbeddingSpec);
        Assert.Equal(4, m.Spec.ContextFeatures);
        Assert.Equal(1, m.ContextFeatures);
    }

    [Fact]
    public void SampleWithContextValuesCarriesTheContextAndLogProbAgrees()
    {
        using var s = new CliSandbox();
        string model = Trained(s);
        string out1 = s["s.csv"];
        var (code, output, err) = s.Run(["sample", model, "--context", "c=1.5", "-n", "50", "--with-logprob", "-o", out1]);
        Assert.True(code == 0, err + output);
        var samples = Csv.Read(out1);
        Assert.Equal(["x", "y", "c", SampleStream.LogProbColumn], samples.Columns);
        Assert.Equal(50, samples.Rows);
        Assert.All(samples.ToColumns()[2], c => Assert.Equal(1.5, c));
        // logprob reads the context from the same table, and gives what sample wrote
        string lp = s["lp.csv"];
        (code, _, err) = s.Run(["logprob", model, out1, "--columns", "x,y,c", "-o", lp]);
        Assert.True(code == 0, err);
        Assert.Equal(samples.ToColumns()[3], Csv.Read(lp).ToColumns()[0]);
    }

    [Fact]
    public void SampleWithAContextFileDrawsNPerRowInRowOrder()
    {
        using var s = new CliSandbox();
        string model = Trained(s);
        string contexts = s.Write("ctx.csv", "id,c\n7,-1\n8,0\n9,2\n");
        var (code, output, err) = s.Run(["sample", model, "--context", contexts, "-n", "4", "-o", s["s.npy"]]);
        Assert.True(code == 0, err + output);
        Assert.Contains("12 samples (x, y, c), 4 per context row", output);
        var samples = Npy.Read(s["s.npy"]);
        Assert.Equal(12, samples.Rows);
        Assert.Equal([-1, -1, -1, -1, 0, 0, 0, 0, 2, 2, 2, 2], samples.ToColumns()[2]);
        // logprob takes a headerless .npy of the model's width by position: events, then context
        (code, output, err) = s.Run(["logprob", model, s["s.npy"]]);
        Assert.True(code == 0, err + output);
        Assert.Contains("taken by position as x, y, c", err);
        // default: one event per context row
        (code, output, err) = s.Run(["sample", model, "--context", contexts, "-o", s["one.csv"]]);
        Assert.True(code == 0, err + output);
        Assert.Equal([-1.0, 0, 2], Csv.Read(s["one.csv"]).ToColumns()[2]);
    }

    [Fact]
    public void Float64ModelWritesTheLogProbOfTheFloat32EventsAndContextsOfAnNpyFile()
    {
        using var s = new CliSandbox();
        string model = Trained(s, "--dtype", "float64");
        var (code, output, err) = s.Run(["sample", model, "--context", s.Write("ctx.csv", "c\n0.1\n-1.3\n"), "-n", "5", "--with-logprob", "-o", s["s.npy"]]);
        Assert.True(code == 0, err + output);
        (code, output, err) = s.Run(["logprob", model, s["s.npy"], "--columns", "x=x0,y=x1,c=x2", "-o", s["lp.csv"]]);
        Assert.True(code == 0, err + output);
        var written = Npy.Read(s["s.npy"]).ToColumns()[3];
        var scored = Csv.Read(s["lp.csv"]).ToColumns()[0];
        Assert.Equal(written, scored.Select(v => (double)(float)v).ToArray());
    }

    [Fact]
    public void EvalJudgesAConditionalModelAtTheTestContexts()
    {
        using var s = new CliSandbox();
        string model = Trained(s);
        var (code, output, err) = s.Run(["eval", model, Data(s, "test.csv", 200), "-o", s["r.html"], "--columns", "x,y,c"]);
        Assert.True(code == 0, err + output);
        Assert.Contains("200 test events against 200 samples", output);
        Assert.True(File.Exists(s["r.html"]));
    }

    [Fact]
    public void TrainRefusesBadContextOptions()
    {
        using var s = new CliSandbox();
        string data = Data(s), o = s["m.nflow"];
        Refused(s, "--context z: ", ["train", data, .. Small, "--context", "z", "-o", o], exit: 1);
        Refused(s, "--context c: it is also listed in --columns", ["train", data, .. Small, "--columns", "x,c", "--context", "c", "-o", o]);
        Refused(s, "--context w: it is the --weights column", ["train", data, .. Small, "--weights", "w", "--context", "w", "-o", o]);
        Refused(s, "--context names 'c' twice", ["train", data, .. Small, "--context", "c,c", "-o", o]);
        Refused(s, "--context must list column names", ["train", data, .. Small, "--context", "c,", "-o", o]);
        Refused(s, "--embedding mlp:4 needs --context", ["train", data, .. Small, "--embedding", "mlp:4", "-o", o]);
        Refused(s, "--embedding must be mlp:FEATURES", ["train", data, .. Small, "--context", "c", "--embedding", "set:4", "-o", o]);
        Refused(s, "HIDDEN must be a positive whole number, got '0'", ["train", data, .. Small, "--context", "c", "--embedding", "mlp:4:0", "-o", o]);
        Refused(s, "--refine-with-classifier works on unconditional flows only", ["train", data, .. Small, "--context", "c", "--refine-with-classifier", "-o", o]);
        Refused(s, "every column is a weight or context column", ["train", data, .. Small, "--columns", "w", "--context", "c", "--weights", "w", "-o", o]);
        Assert.False(File.Exists(o));
    }

    [Fact]
    public void SampleAndLogProbRefuseMismatchedContexts()
    {
        using var s = new CliSandbox();
        string model = Trained(s), data = s["d.csv"];
        Refused(s, "the model is conditional on (c): give --context FILE", ["sample", model, "-o", "-"]);
        Refused(s, "--context c=abc: the value is not a finite number", ["sample", model, "--context", "c=abc", "-o", "-"]);
        Refused(s, "--context c=inf: the value is not a finite number", ["sample", model, "--context", "c=inf", "-o", "-"]);
        Refused(s, "'d' is not a context column of the model (its context columns: c)", ["sample", model, "--context", "c=1,d=2", "-o", "-"]);
        Refused(s, "--context gives 'c' twice", ["sample", model, "--context", "c=1,c=2", "-o", "-"]);
        Refused(s, "--context: 'c' is not NAME=VALUE", ["sample", model, "--context", "c=1,c", "-o", "-"]);
        Refused(s, "bad.csv lacks the context column(s) c of the conditional model (conditioned on c; the file has: id, d)", ["sample", model, "--context", s.Write("bad.csv", "id,d\n1,2\n"), "-o", "-"], exit: 1);
        Refused(s, "lacks the context column(s) c of the conditional model", ["logprob", model, data, "--columns", "x,y"], exit: 1);

        string plain = s["plain.nflow"];
        var (code, _, err) = s.Run(["train", data, .. Small, "--columns", "x,y", "-o", plain]);
        Assert.True(code == 0, err);
        Refused(s, "--context c=1: the model is unconditional", ["sample", plain, "--context", "c=1", "-o", "-"]);
    }
}
