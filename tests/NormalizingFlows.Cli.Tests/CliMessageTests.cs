using System.CommandLine;
using System.Text.RegularExpressions;
using NormalizingFlows.Cli;

namespace NormalizingFlows.Cli.Tests;

/// <summary>What the tool says when called wrongly: usage, hints, option suggestions, no internal names.</summary>
public class CliMessageTests
{
    [Fact]
    public void NoVerbPrintsTheVerbsAndExitsWithUsageError()
    {
        using var s = new CliSandbox();
        var (code, output, err) = s.Run();
        Assert.Equal(Program.ExitUsage, code);
        Assert.Equal("", output);
        Assert.Contains("Usage: nflow VERB", err);
        foreach (var verb in new[] { "toy", "train", "sample", "calo", "bumphunt", "infer", "integrate" }) Assert.Matches($@"\n  {verb} +\S", err);
    }

    [Theory]
    [InlineData("calo simulate -p eplus -n 0 -o a.npy", "nflow calo simulate --help")]
    [InlineData("infer train --bogus", "nflow infer train --help")]
    [InlineData("bumphunt run --seeds 0", "nflow bumphunt run --help")]
    [InlineData("train", "nflow train --help")]
    [InlineData("calo", "nflow calo --help")]
    public void HelpHintNamesTheWholeVerbPath(string args, string hint)
    {
        using var s = new CliSandbox();
        var (code, _, err) = s.Run(args.Split(' '));
        Assert.Equal(Program.ExitUsage, code);
        Assert.Contains($"Run '{hint}' for usage.", err);
    }

    [Fact]
    public void UnknownSubVerbNamesTheChoices()
    {
        using var s = new CliSandbox();
        var (code, _, err) = s.Run("calo", "frob");
        Assert.Equal(Program.ExitUsage, code);
        Assert.Contains("unknown verb 'frob' for 'nflow calo' (choose one of: simulate, train, distill, generate, eval)", err);
        Assert.DoesNotContain("Required command", err);
        (code, _, err) = s.Run("calo");
        Assert.Equal(Program.ExitUsage, code);
        Assert.Contains("nflow calo: a sub-verb is required (choose one of: simulate", err);
    }

    [Fact]
    public void ShowerOutputWithATableExtensionIsRefusedBeforeSimulating()
    {
        using var s = new CliSandbox();
        var (code, output, err) = s.Run("calo", "simulate", "-p", "eplus", "-n", "10", "-o", s["x.csv"]);
        Assert.Equal(Program.ExitUsage, code);
        Assert.Contains("showers are written as .npy", err);
        Assert.Contains("not '.csv'", err);
        Assert.DoesNotContain("showers in", output);
        Assert.Contains("Run 'nflow calo simulate --help' for usage.", err);
        Assert.False(File.Exists(s["x.csv"]));
    }

    [Theory]
    [InlineData("toy moons -n 50 -o {0}", "t.h5")]
    [InlineData("toy moons -n 50 -o {0}", "t.tsv")]
    [InlineData("bumphunt generate --background 100 --signal 0 -o {0}", "b.json")]
    public void TableOutputWithAnotherFormatsExtensionIsRefused(string args, string file)
    {
        using var s = new CliSandbox();
        var (code, _, err) = s.Run(string.Format(args, s[file]).Split(' '));
        Assert.Equal(Program.ExitUsage, code);
        Assert.Contains("tables are written as CSV (.csv, .txt), NumPy (.npy) or Parquet (.parquet)", err);
        Assert.False(File.Exists(s[file]));
    }

    [Theory]
    [InlineData("demo --epochs 1 -o {0}", "r.csv")]
    [InlineData("bumphunt run --seeds 1 --report {0}", "r.png")]
    [InlineData("bumphunt run --seeds 1 --table {0}", "t.json")]
    [InlineData("calo eval {1}/none.nflow {1}/none.npy --report {0}", "r.txt")]
    [InlineData("infer calibrate {1}/none.nflow -o {0}", "r")]
    public void ReportAndTablePathsWithTheWrongExtensionAreRefusedBeforeAnyWork(string args, string file)
    {
        using var s = new CliSandbox();
        var (code, output, err) = s.Run(string.Format(args, s[file], s.Dir).Split(' '));
        Assert.True(code == Program.ExitUsage, err + output);
        Assert.Matches(@"--(report|output|table) \S+: the (report is HTML|table is CSV)", err);
        Assert.Equal("", output);
        Assert.False(File.Exists(s[file]));
    }

    [Fact]
    public void ArgumentErrorsDoNotShowCodeParameterNames()
    {
        using var s = new CliSandbox();
        var (code, _, err) = s.Run("integrate", "-f", "nope");
        Assert.Equal(Program.ExitError, code);
        Assert.Contains("unknown integrand 'nope'", err);
        Assert.DoesNotContain("(Parameter", err);
        Assert.Equal("x must be positive (got -2)", Program.UserMessage(new ArgumentOutOfRangeException("width", -2.0, "x must be positive")));
    }

    [Theory]
    [InlineData("nsf")]
    [InlineData("realnvp")]
    [InlineData("glow")]
    public void CouplingFlowOnOneColumnSuggestsAFlowThatWorks(string flow)
    {
        using var s = new CliSandbox();
        s.Write("one.csv", "a\n" + string.Join("\n", Enumerable.Range(0, 200).Select(i => (i * 0.37 % 1).ToString(System.Globalization.CultureInfo.InvariantCulture))) + "\n");
        var (code, _, err) = s.Run("train", s["one.csv"], "--flow", flow, "--epochs", "1", "-o", s["o.nflow"]);
        Assert.Equal(Program.ExitError, code);
        Assert.Contains("use maf-rqs", err);
        // and the suggestion works
        (code, _, err) = s.Run("train", s["one.csv"], "--flow", "maf-rqs", "--layers", "1", "--hidden", "8", "--epochs", "1", "-o", s["o.nflow"]);
        Assert.True(code == 0, err);
    }

    [Fact]
    public void DivergedTrainingNamesTheLayerWithoutInternalTypeNamesAndSuggestsTheVerbsOwnOption()
    {
        using var s = new CliSandbox();
        Assert.Equal(0, s.Run("toy", "moons", "-n", "2000", "-o", s["m.csv"]).Code);
        var (code, _, err) = s.Run("train", s["m.csv"], "--flow", "maf", "--lr", "1000", "--epochs", "3", "-o", s["m.nflow"]);
        Assert.Equal(Program.ExitError, code);
        Assert.Contains("first non-finite values in transform step", err);
        Assert.DoesNotContain("`", err);
        Assert.Contains("--lr (now 1000)", err);
        Assert.DoesNotContain("clipping", err); // train has no clipping option
        AssertSuggestsOnlyOwnOptions(err, "train");
    }

    [Fact]
    public void ErrorMessagesSuggestOnlyOptionsTheVerbHas()
    {
        using var s = new CliSandbox();
        var (code, output, err) = s.Run("infer", "train", "--simulator", "linear-gaussian", "-n", "600", "--flow", "realnvp", "--layers", "1", "--hidden", "8", "--epochs", "1", "-o", s["p.nflow"]);
        Assert.True(code == 0, err + output);
        // observations whose columns do not match the model's: the message may suggest --columns, which infer sample must have
        s.Write("obs.csv", "a,b,c,d\n1,2,3,4\n");
        (code, _, err) = s.Run("infer", "sample", s["p.nflow"], "--observations", s["obs.csv"], "-o", s["post.csv"]);
        Assert.Equal(Program.ExitError, code);
        AssertSuggestsOnlyOwnOptions(err, "infer", "sample");
        (code, output, err) = s.Run("infer", "sample", s["p.nflow"], "--observations", s["obs.csv"], "--columns", "x0=a,x1=b,x2=c", "-n", "5", "-o", s["post.csv"]);
        Assert.True(code == 0, err + output);
        Assert.True(File.Exists(s["post.csv"]));
    }

    /// <summary>Every "--option" named in <paramref name="err"/> is an option of the verb at <paramref name="path"/> (or a recursive root option).</summary>
    private static void AssertSuggestsOnlyOwnOptions(string err, params string[] path)
    {
        Command command = Program.BuildRootForTests();
        foreach (var name in path) command = command.Subcommands.Single(c => c.Name == name);
        var own = command.Options.SelectMany(o => o.Aliases.Append(o.Name)).Append("--threads").Append("--help").ToHashSet();
        foreach (Match m in Regex.Matches(err, @"(?<![\w-])--[a-z][a-z0-9-]*"))
            Assert.True(own.Contains(m.Value), $"the message suggests {m.Value}, which 'nflow {string.Join(' ', path)}' does not have: {err}");
    }
}
