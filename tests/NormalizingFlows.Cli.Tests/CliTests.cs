using System.CommandLine;
using NormalizingFlows.Cli;
using NormalizingFlows.Data;
using NormalizingFlows.Models;

namespace NormalizingFlows.Cli.Tests;

/// <summary>A temporary directory with the CLI driven in-process through <see cref="Program.Run"/>.</summary>
public sealed class CliSandbox : IDisposable
{
    public string Dir { get; } = Directory.CreateTempSubdirectory("nflow-cli-").FullName;

    public string this[string name] => Path.Combine(Dir, name);

    public (int Code, string Out, string Err) Run(params string[] args)
    {
        var o = new StringWriter();
        var e = new StringWriter();
        int code = Program.Run(args, o, e);
        return (code, o.ToString(), e.ToString());
    }

    public string Write(string name, string text)
    {
        File.WriteAllText(this[name], text);
        return this[name];
    }

    public void Dispose()
    {
        try { Directory.Delete(Dir, recursive: true); } catch (IOException) { }
    }
}

public class CliTests
{
    private static readonly string[] SmallModel = ["--flow", "nsf", "--layers", "2", "--hidden", "16", "--bins", "4", "--batch", "256"];

    private static string Toy(CliSandbox s, string name = "moons.csv", int n = 2000, int seed = 1)
    {
        var (code, _, err) = s.Run("toy", "moons", "-n", n.ToString(), "-o", s[name], "--seed", seed.ToString());
        Assert.True(code == 0, err);
        return s[name];
    }

    private static string Train(CliSandbox s, string data, string model = "model.nflow", params string[] extra)
    {
        var (code, output, err) = s.Run(["train", data, .. SmallModel, "--epochs", "2", "-o", s[model], .. extra]);
        Assert.True(code == 0, err + output);
        return s[model];
    }

    [Fact]
    public void EndToEnd_ToyTrainSampleLogprobInfoEvalReweight()
    {
        using var s = new CliSandbox();
        string data = Toy(s);
        Assert.Equal(["x0", "x1"], Csv.Read(data).Columns);
        Assert.Equal(2000, Csv.Read(data).Rows);
        string test = Toy(s, "test.npy", 1000, seed: 2);
        Assert.Equal(1000, Npy.Read(test).Rows);

        var (code, output, err) = s.Run(["train", data, .. SmallModel, "--epochs", "2", "-o", s["model.nflow"]]);
        Assert.True(code == 0, err);
        Assert.Contains("epoch   2", output);
        Assert.Contains("validation log-likelihood:", output);
        Assert.Contains("wrote", output);
        Assert.False(File.Exists(s["model.nflow.ckpt"]), "the checkpoint is removed after a successful run");
        var model = ModelFile.Load<float>(s["model.nflow"]);
        Assert.Equal(["x0", "x1"], model.Columns);
        Assert.Equal(2, model.History!.Epochs.Count);

        (code, output, err) = s.Run("sample", s["model.nflow"], "-n", "300", "-o", s["samples.csv"], "--seed", "3");
        Assert.True(code == 0, err);
        var samples = Csv.Read(s["samples.csv"]);
        Assert.Equal(300, samples.Rows);
        Assert.Equal(["x0", "x1"], samples.Columns);
        Assert.All(samples.Values, v => Assert.True(double.IsFinite(v)));

        (code, output, err) = s.Run("logprob", s["model.nflow"], test, "-o", s["scores.csv"]);
        Assert.True(code == 0, err);
        Assert.Matches(@"mean log-likelihood: -?\d+\.\d{4} ± \d+\.\d{4} per event \(1000 events\)", output);
        var scores = Csv.Read(s["scores.csv"]);
        Assert.Equal(["log_prob"], scores.Columns);
        Assert.Equal(1000, scores.Rows);

        (code, output, err) = s.Run("info", s["model.nflow"]);
        Assert.True(code == 0, err);
        Assert.Contains("nsf: 2 features, 2 layers, hidden 16, 4 bins", output);
        Assert.Contains("x0", output);

        (code, output, err) = s.Run("eval", s["model.nflow"], test, "-o", s["report.html"], "-n", "1000", "--seed", "4");
        Assert.True(code == 0, err);
        Assert.Contains("test log-likelihood:", output);
        Assert.Matches(@"classifier AUC: \d\.\d{4} ± \d\.\d{4} \((MLP|GBDT), the larger of two judges; MLP \d\.\d{4} ± \d\.\d{4}, GBDT \d\.\d{4} ± \d\.\d{4}", output);
        string html = File.ReadAllText(s["report.html"]);
        Assert.Contains("GBDT judge", html);
        Assert.Contains("MLP judge", html);
        Assert.Contains("<svg", html);
        Assert.Contains("AUC", html);
        Assert.Contains("test log-likelihood", html);

        (code, output, err) = s.Run("reweight", s["model.nflow"], test, "-o", s["weights.csv"], "-n", "800");
        Assert.True(code == 0, err);
        Assert.Matches(@"classifier AUC \(data vs model, before weighting\): \d\.\d{4} ± \d\.\d{4} \((MLP|GBDT), the larger of two judges; MLP \d\.\d{4} ± \d\.\d{4}, GBDT \d\.\d{4} ± \d\.\d{4}\)", output);
        var weights = Csv.Read(s["weights.csv"]);
        Assert.Equal(["x0", "x1", "weight"], weights.Columns);
        Assert.Equal(800, weights.Rows);
        double mean = Enumerable.Range(0, weights.Rows).Average(r => weights[r, 2]);
        Assert.Equal(1.0, mean, 6);
    }

    [Fact]
    public void ParquetTablesWorkWhereCsvAndNpyDo()
    {
        using var s = new CliSandbox();
        string data = Toy(s, "moons.parquet", 1000);
        var table = ParquetTable.Read(data);
        Assert.Equal(["x0", "x1"], table.Columns);
        Assert.Equal(1000, table.Rows);
        // with a renaming --columns, as for CSV
        var (code, output, err) = s.Run(["train", data, .. SmallModel, "--epochs", "1", "--columns", "a=x0,b=x1", "-o", s["m.nflow"]]);
        Assert.True(code == 0, err + output);
        (code, _, err) = s.Run("sample", s["m.nflow"], "-n", "50", "-o", s["samples.parquet"], "--seed", "3");
        Assert.True(code == 0, err);
        var samples = ParquetTable.Read(s["samples.parquet"]);
        Assert.Equal(["a", "b"], samples.Columns);
        Assert.Equal(50, samples.Rows);
        // the same samples as the .npy output (both float32)
        Assert.True(s.Run("sample", s["m.nflow"], "-n", "50", "-o", s["samples.npy"], "--seed", "3").Code == 0);
        Assert.Equal(Npy.Read(s["samples.npy"]).Values, samples.Values);
        (code, output, err) = s.Run("logprob", s["m.nflow"], s["samples.parquet"], "-o", s["lp.parquet"]);
        Assert.True(code == 0, err);
        Assert.Equal(["log_prob"], ParquetTable.Read(s["lp.parquet"]).Columns);
        // a missing column is named as for CSV
        (code, _, err) = s.Run("logprob", s["m.nflow"], data);
        Assert.Equal(1, code);
        Assert.Contains("moons.parquet has columns (x0, x1) but the model was trained on (a, b)", err);
    }

    [Fact]
    public void CancelledTrainingLeavesACheckpointAndResumeFinishesIt()
    {
        using var s = new CliSandbox();
        string data = Toy(s);
        string[] args = ["train", data, .. SmallModel, "--epochs", "3", "-o", s["m.nflow"]];
        var (code, _, err) = s.Run([.. args, "--cancel-after-steps", "3"]);
        Assert.Equal(Program.ExitInterrupted, code);
        Assert.Contains("checkpoint written to", err);
        Assert.Contains("--resume", err);
        Assert.True(File.Exists(s["m.nflow.ckpt"]));
        Assert.False(File.Exists(s["m.nflow"]), "no model file is written by an interrupted run");

        var (code2, output, err2) = s.Run([.. args, "--resume", s["m.nflow.ckpt"]]);
        Assert.True(code2 == 0, err2);
        Assert.Contains("resuming from", output);
        var model = ModelFile.Load<float>(s["m.nflow"]);
        Assert.Equal(3 * 8, model.History!.Steps); // 1800 training events / 256 per batch = 8 steps per epoch
        Assert.False(File.Exists(s["m.nflow.ckpt"]));
    }

    [Fact]
    public void ResumeWithADifferentArchitectureIsAOneLineError()
    {
        using var s = new CliSandbox();
        string data = Toy(s, n: 600);
        Assert.Equal(Program.ExitInterrupted, s.Run(["train", data, .. SmallModel, "-o", s["m.nflow"], "--cancel-after-steps", "1"]).Code);
        var (code, _, err) = s.Run("train", data, "--layers", "3", "--hidden", "8", "-o", s["m.nflow"], "--resume", s["m.nflow.ckpt"]);
        Assert.Equal(1, code);
        Assert.StartsWith("nflow: error:", err);
        Assert.DoesNotContain("   at ", err);
    }

    [Fact]
    public void RefineWithClassifierPrintsTheAucBeforeAndAfter()
    {
        using var s = new CliSandbox();
        string data = Toy(s, n: 1500);
        var (code, output, err) = s.Run(["train", data, .. SmallModel, "--epochs", "1", "-o", s["m.nflow"], "--refine-with-classifier", "1"]);
        Assert.True(code == 0, err);
        Assert.Matches(@"classifier AUC before refinement: \d\.\d{4}, after: \d\.\d{4} \(the larger of MLP and GBDT; MLP \d\.\d{4} → \d\.\d{4}, GBDT \d\.\d{4} → \d\.\d{4}", output);
        Assert.Matches(@"round 0: classifier AUC \d\.\d{4} ± \d\.\d{4} \((MLP|GBDT), the larger", output);
        Assert.Contains("cli.discflow.auc", ModelFile.Describe(s["m.nflow"]));
        Assert.Contains("cli.discflow.auc.gbdt", ModelFile.Describe(s["m.nflow"]));
    }

    [Fact]
    public void TrainWithAValidationFileColumnsAndPreprocessingNone()
    {
        using var s = new CliSandbox();
        s.Write("wide.csv", "b,a,c\n" + string.Join("\n", Enumerable.Range(0, 400).Select(i => $"{Math.Sin(i)},{Math.Cos(i * 0.7)},{i}")) + "\n");
        s.Write("val.csv", "b,a,c\n" + string.Join("\n", Enumerable.Range(0, 50).Select(i => $"{Math.Sin(i + 0.5)},{Math.Cos(i * 0.3)},{i}")) + "\n");
        var (code, output, err) = s.Run(["train", s["wide.csv"], .. SmallModel, "--epochs", "1", "--columns", "a,b", "--val", s["val.csv"], "--preprocess", "none", "-o", s["m.nflow"]]);
        Assert.True(code == 0, err);
        Assert.Contains("400 training and 50 validation events, 2 columns (a, b)", output);
        Assert.Contains("preprocessing: none", output);
        Assert.Equal(["a", "b"], ModelFile.Load<float>(s["m.nflow"]).Columns);
        // logprob picks the model's columns by name from a wider file with --columns, and reorders same-named columns
        (code, output, err) = s.Run("logprob", s["m.nflow"], s["wide.csv"], "--columns", "a,b");
        Assert.True(code == 0, err);
        Assert.Contains("(400 events)", output);
    }

    public static TheoryData<string[], int, string> BadInputs() => new()
    {
        { ["logprob", "{model}", "{dir}/missing.csv"], 1, "missing.csv: file not found" },
        { ["info", "{dir}/missing.nflow"], 1, "missing.nflow: file not found" },
        { ["train", "{dir}/nonnumeric.csv"], 1, "nonnumeric.csv:3:2: 'abc' in column 'x1' is not a number" },
        { ["train", "{dir}/ragged.csv"], 1, "ragged.csv:3: row has 3 fields; the header has 2" },
        { ["logprob", "{model}", "{dir}/three.csv"], 1, "three.csv has columns (x0, x1, x2) but the model was trained on (x0, x1): columns are matched by name; pick them with --columns x0,x1" },
        { ["train", "{dir}/empty.csv"], 1, "empty.csv: empty file" },
        { ["logprob", "{model}", "{dir}/headeronly.csv"], 1, "headeronly.csv: no data rows" },
        { ["info", "{dir}/three.csv"], 1, "three.csv: not a valid model file" },
        { ["train", "{dir}/three.csv", "--flow", "normalizing"], 2, "unknown flow 'normalizing' for --flow (choose one of: nsf, realnvp, maf, maf-rqs, glow, planar, naf, umnn, cnf, flow-matching)" },
        { ["train", "{dir}/three.csv", "--preprocess", "log"], 2, "unknown preprocessing 'log' for --preprocess" },
        { ["toy", "moons", "-n", "-5", "-o", "{dir}/t.csv"], 2, "-n must be a positive number of events, got -5" },
        { ["sample", "{model}", "-n", "-1", "-o", "{dir}/t.csv"], 2, "-n must be a positive number of events, got -1" },
        { ["sample", "{model}", "-n", "many", "-o", "{dir}/t.csv"], 2, "-n must be a whole number, got 'many'" },
        { ["toy", "banana", "-o", "{dir}/t.csv"], 2, "unknown toy data set 'banana'" },
        { ["toy", "moons"], 2, "Option '--output' is required" },
        { ["frobnicate"], 2, "unknown verb 'frobnicate' (choose one of: toy, train, sample" },
        { ["train", "{dir}/three.csv", "--epochs", "0"], 2, "--epochs must be positive, got 0" },
        { ["train", "{dir}/three.csv", "--val", "1.5"], 2, "--val must be a fraction in [0, 1) or a file, got 1.5" },
        { ["train", "{dir}/three.csv", "--resume", "{dir}/nope.ckpt"], 1, "--resume: no checkpoint at" },
        { ["train", "{dir}/three.csv", "--columns", "x0,zz"], 1, "no column 'zz'; the columns are: x0, x1, x2" },
    };

    [Theory]
    [MemberData(nameof(BadInputs))]
    public void BadInputGivesAOneLineMessageAndExitCode(string[] args, int expectedCode, string expectedMessage)
    {
        using var s = new CliSandbox();
        s.Write("nonnumeric.csv", "x0,x1\n1,2\n3,abc\n");
        s.Write("ragged.csv", "x0,x1\n1,2\n3,4,5\n");
        s.Write("three.csv", "x0,x1,x2\n1,2,3\n4,5,6\n");
        s.Write("empty.csv", "");
        s.Write("headeronly.csv", "x0,x1\n");
        string model = args.Contains("{model}") ? Train(s, Toy(s, n: 300)) : "";
        var (code, output, err) = s.Run(args.Select(a => a.Replace("{dir}", s.Dir).Replace("{model}", model)).ToArray());
        Assert.True(expectedCode == code, $"exit {code}; out: {output}; err: {err}");
        Assert.Contains(expectedMessage, err);
        Assert.StartsWith("nflow: ", err);
        Assert.DoesNotContain("   at ", err); // no stack trace
        Assert.DoesNotContain("Exception", err);
    }

    [Theory]
    [InlineData("toy")]
    [InlineData("train")]
    [InlineData("sample")]
    [InlineData("logprob")]
    [InlineData("info")]
    [InlineData("eval")]
    [InlineData("reweight")]
    [InlineData("demo")]
    public void HelpOfEachVerbMentionsEveryOptionAndItsDefault(string verb)
    {
        using var s = new CliSandbox();
        var (code, output, _) = s.Run(verb, "--help");
        Assert.Equal(0, code);
        var command = Commands.BuildRoot(new CliContext(TextWriter.Null, TextWriter.Null)).Subcommands.Single(c => c.Name == verb);
        var lines = output.Split('\n');
        foreach (var option in command.Options.Where(o => !o.Hidden && o.Name is not ("--help" or "--version")))
        {
            var line = lines.FirstOrDefault(l => System.Text.RegularExpressions.Regex.IsMatch(l, $@"^\s+(-\S+, )*{System.Text.RegularExpressions.Regex.Escape(option.Name)}[ ,]"));
            Assert.True(line is not null, $"'{verb} --help' does not mention {option.Name}:\n{output}");
            Assert.True(line.Contains("default", StringComparison.OrdinalIgnoreCase) || line.Contains("(REQUIRED)"),
                $"'{verb} --help' gives no default for {option.Name}: {line}");
        }
        foreach (var argument in command.Arguments) Assert.Contains($"<{argument.Name}>", output);
    }

    [Fact]
    public void HelpListsEveryVerbAndTrainHelpGivesTheDefaults()
    {
        using var s = new CliSandbox();
        var (code, output, _) = s.Run("--help");
        Assert.Equal(0, code);
        foreach (var verb in new[] { "toy", "train", "sample", "logprob", "info", "eval", "reweight", "demo" }) Assert.Contains(verb, output);
        (_, output, _) = s.Run("train", "--help");
        foreach (var d in new[] { "[default: nsf]", "[default: 5]", "[default: 128]", "[default: 8]", "[default: 20]", "[default: 512]", "[default: 0.001]", "[default: 0.1]", "[default: auto]", "[default: model.nflow]" })
            Assert.Contains(d, output);
        (_, output, _) = s.Run("reweight", "--help");
        Assert.Contains("The weights belong to the generated events", output);
    }

    [Fact]
    public void DemoVerbRunsThroughTheParser()
    {
        using var s = new CliSandbox();
        var (code, output, err) = s.Run("demo", "--data", "circles", "--epochs", "1", "-o", s["demo.html"]);
        Assert.True(code == 0, err);
        Assert.Contains("test log-likelihood", output);
        Assert.Contains("<svg", File.ReadAllText(s["demo.html"]));
    }
}
