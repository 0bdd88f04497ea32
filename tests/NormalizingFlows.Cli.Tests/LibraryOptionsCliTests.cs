using System.Globalization;
using NormalizingFlows.Data;
using NormalizingFlows.Models;

namespace NormalizingFlows.Cli.Tests;

/// <summary>
/// Issue #15 item 6: what the library can do, the command line can ask for: event weights, gradient clipping, weight
/// decay, float64 models, samples written with their log p.
/// </summary>
public class LibraryOptionsCliTests
{
    private static readonly string[] Small = ["--flow", "maf", "--layers", "2", "--hidden", "8", "--batch", "128", "--epochs", "1", "--val", "0"];

    // x0, x1 correlated Gaussians; w a weight (one event in ten negative)
    private static string Data(CliSandbox s, string name, int n = 400, int seed = 1)
    {
        var r = new NormalizingFlows.Tensors.Rng(seed);
        var lines = new List<string> { "x0,x1,w" };
        for (int i = 0; i < n; i++)
        {
            double z = r.NextNormal();
            double w = r.NextDouble() < 0.1 ? -0.5 : 1 + r.NextDouble();
            lines.Add(string.Join(",", new[] { 1 + z, 0.5 * z + 0.4 * r.NextNormal(), w }.Select(v => v.ToString("R", CultureInfo.InvariantCulture))));
        }
        return s.Write(name, string.Join("\n", lines) + "\n");
    }

    private static double[] Column(string csv, string name)
    {
        var t = NormalizingFlows.Data.Csv.Read(csv);
        return t.ToColumns()[Array.IndexOf(t.Columns, name)];
    }

    private static double[] LogProbOf(CliSandbox s, string model, string data, params string[] extra)
    {
        string lp = s[$"lp-{Guid.NewGuid():N}.csv"];
        var (code, _, err) = s.Run(["logprob", model, data, "-o", lp, .. extra]);
        Assert.True(code == 0, err);
        return Column(lp, "log_prob");
    }

    [Fact]
    public void WeightsColumnWeightsTheLikelihoodAndIsNotModelled()
    {
        using var s = new CliSandbox();
        string data = Data(s, "d.csv");
        var (code, output, err) = s.Run(["train", data, .. Small, "--weights", "w", "-o", s["w.nflow"]]);
        Assert.True(code == 0, err + output);
        Assert.Contains("2 columns (x0, x1), weighted by 'w'", output);
        var m = ModelFile.Load<float>(s["w.nflow"]);
        Assert.Equal(["x0", "x1"], m.Columns);
        Assert.Equal("w", m.Metadata["cli.weights"]);
        // --columns that leave the weight column out still find it; the model differs from the unweighted one
        (code, _, err) = s.Run(["train", data, .. Small, "--columns", "x0,x1", "--weights", "w", "-o", s["w2.nflow"]]);
        Assert.True(code == 0, err);
        (code, _, err) = s.Run(["train", data, .. Small, "--columns", "x0,x1", "-o", s["u.nflow"]]);
        Assert.True(code == 0, err);
        var weighted = LogProbOf(s, s["w.nflow"], data, "--columns", "x0,x1");
        Assert.Equal(weighted, LogProbOf(s, s["w2.nflow"], data, "--columns", "x0,x1"));
        Assert.NotEqual(weighted, LogProbOf(s, s["u.nflow"], data, "--columns", "x0,x1"));

        (code, _, err) = s.Run(["train", data, .. Small, "--weights", "weight", "-o", s["x.nflow"]]);
        Assert.Equal(1, code);
        Assert.Contains("--weights weight: ", err);
        Assert.Contains("has no such column (columns: x0, x1, w)", err);
        Assert.False(File.Exists(s["x.nflow"]));

        string zero = s.Write("zero.csv", "x0,x1,w\n1,2,1\n2,1,-1\n3,5,0.5\n0,4,-0.5\n");
        (code, _, err) = s.Run(["train", zero, .. Small, "--weights", "w", "-o", s["z.nflow"]]);
        Assert.Equal(1, code);
        Assert.Contains("zero.csv: the weights (column 'w') sum to zero over the 4 training event(s)", err);
    }

    [Fact]
    public void ClipAndWeightDecayReachTheTrainerAndRefuseBadValues()
    {
        using var s = new CliSandbox();
        string data = Data(s, "d.csv");
        string[] train = ["train", data, .. Small, "--columns", "x0,x1", "--lr", "0.01"];
        var runs = new Dictionary<string, double[]>();
        foreach (var (name, extra) in new (string, string[])[] { ("base", []), ("noclip", ["--clip", "0"]), ("clip", ["--clip", "0.01"]), ("decay", ["--weight-decay", "0.5"]) })
        {
            var (code, output, err) = s.Run([.. train, .. extra, "-o", s[name + ".nflow"]]);
            Assert.True(code == 0, err + output);
            runs[name] = LogProbOf(s, s[name + ".nflow"], data, "--columns", "x0,x1");
        }
        Assert.NotEqual(runs["base"], runs["clip"]);
        Assert.NotEqual(runs["base"], runs["decay"]);

        foreach (var (option, value, message) in new[]
        {
            ("--clip", "-1", "--clip must be a gradient norm > 0, or 0 for no clipping, got -1"),
            ("--clip", "NaN", "--clip must be a gradient norm > 0, or 0 for no clipping, got NaN"),
            ("--weight-decay", "-0.1", "--weight-decay must be a finite number ≥ 0, got -0.1"),
        })
        {
            var (code, _, err) = s.Run([.. train, option, value, "-o", s["bad.nflow"]]);
            Assert.Equal(2, code);
            Assert.Contains(message, err);
        }
    }

    [Fact]
    public void Float64ModelsTrainSampleAndScoreInDouble()
    {
        using var s = new CliSandbox();
        string data = Data(s, "d.csv");
        var (code, output, err) = s.Run(["train", data, .. Small, "--columns", "x0,x1", "--dtype", "float64", "-o", s["d.nflow"]]);
        Assert.True(code == 0, err + output);
        Assert.Contains("float64", output);
        Assert.Equal("float64", ModelFile.ReadInfo(s["d.nflow"]).Spec.DType);
        var m = ModelFile.Load<double>(s["d.nflow"]);

        (code, _, err) = s.Run("sample", s["d.nflow"], "-n", "300", "-o", s["s.csv"], "--with-logprob");
        Assert.True(code == 0, err);
        var samples = NormalizingFlows.Data.Csv.Read(s["s.csv"]);
        var events = samples.SelectColumns("x0,x1");
        // the written values are the double model's own draws, not float-rounded ones
        Assert.Contains(events.Values, v => (double)(float)v != v);
        var expected = m.LogProb(events.ToTensor<double>());
        Assert.Equal(expected, samples.ToColumns()[2]);
        Assert.Equal(expected, LogProbOf(s, s["d.nflow"], s["s.csv"], "--columns", "x0,x1"));

        (code, output, err) = s.Run("eval", s["d.nflow"], data, "--columns", "x0,x1", "-o", s["r.html"], "-n", "300");
        Assert.True(code == 0, err);
        double mean = LogProbOf(s, s["d.nflow"], data, "--columns", "x0,x1").Average();
        Assert.Contains($"test log-likelihood: {mean.ToString("F4", CultureInfo.InvariantCulture)} ± ", output);

        (code, _, err) = s.Run(["train", data, .. Small, "--dtype", "float16", "-o", s["h.nflow"]]);
        Assert.Equal(2, code);
        Assert.Contains("unknown dtype 'float16' for --dtype (choose one of: float32, float64)", err);
    }

    [Fact]
    public void SampleWithLogProbWritesWhatLogprobGivesOnTheSameEvents()
    {
        using var s = new CliSandbox();
        string data = Data(s, "d.csv");
        var (code, output, err) = s.Run(["train", data, .. Small, "--columns", "x0,x1", "-o", s["m.nflow"]]);
        Assert.True(code == 0, err + output);
        (code, output, err) = s.Run("sample", s["m.nflow"], "-n", "500", "-o", s["s.csv"], "--with-logprob", "--seed", "4");
        Assert.True(code == 0, err);
        Assert.Contains("wrote 500 samples (x0, x1, log_prob)", output);
        var written = Column(s["s.csv"], "log_prob");
        Assert.Equal(LogProbOf(s, s["m.nflow"], s["s.csv"], "--columns", "x0,x1"), written);
        // the same draws as without --with-logprob
        (code, _, err) = s.Run("sample", s["m.nflow"], "-n", "500", "-o", s["plain.csv"], "--seed", "4");
        Assert.True(code == 0, err);
        Assert.Equal(NormalizingFlows.Data.Csv.Read(s["plain.csv"]).Values, NormalizingFlows.Data.Csv.Read(s["s.csv"]).SelectColumns("x0,x1").Values);
        // to stdout as well
        (code, output, err) = s.Run("sample", s["m.nflow"], "-n", "3", "-o", "-", "--with-logprob");
        Assert.True(code == 0, err);
        Assert.StartsWith("x0,x1,log_prob\n", output);
    }
}
