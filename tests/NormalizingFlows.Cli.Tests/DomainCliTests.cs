using System.Globalization;
using NormalizingFlows.Data;
using NormalizingFlows.Data.Preprocessing;
using NormalizingFlows.Models;

namespace NormalizingFlows.Cli.Tests;

/// <summary>
/// Issue #14 items 1–4 and 9 through the command line: domains and bounds, columns matched by name, degenerate data,
/// no silent clamping, log p near the float range, streamed sampling with 64-bit counts and stdout.
/// </summary>
public class DomainCliTests
{
    private static readonly string[] Small = ["--layers", "2", "--hidden", "8", "--batch", "256", "--epochs", "1"];

    private static string Csv(CliSandbox s, string name, string header, IEnumerable<double[]> rows) =>
        s.Write(name, header + "\n" + string.Join("\n", rows.Select(r => string.Join(",", r.Select(v => v.ToString("R", CultureInfo.InvariantCulture))))) + "\n");

    // x0: an edge at the minimum 0.5 (0.5 + Exp(1)), open above; x1: Gaussian
    private static IEnumerable<double[]> EdgeRows(int n, int seed)
    {
        var r = new NormalizingFlows.Tensors.Rng(seed);
        for (int i = 0; i < n; i++) yield return [0.5 - Math.Log(1 - r.NextDouble()), r.NextNormal()];
    }

    private static (int Code, string Out, string Err) Train(CliSandbox s, string data, string model, params string[] extra) =>
        s.Run(["train", data, .. Small, .. extra.Contains("--flow") ? Array.Empty<string>() : ["--flow", "maf"], "-o", s[model], .. extra]);

    // a one-column CSV of log p (may hold −Infinity, which the data reader rightly refuses)
    private static double[] LogProbs(string path) =>
        File.ReadAllLines(path).Skip(1).Where(l => l.Length > 0).Select(l => double.Parse(l, CultureInfo.InvariantCulture)).ToArray();

    [Fact]
    public void HeldOutEventsBeyondTheTrainingMaximumOfAOneSidedColumnAreScored()
    {
        using var s = new CliSandbox();
        string train = Csv(s, "tr.csv", "x0,x1", EdgeRows(3000, 1));
        var (code, output, err) = Train(s, train, "m.nflow");
        Assert.True(code == 0, err + output);
        double max = NormalizingFlows.Data.Csv.Read(train).ToColumns()[0].Max();
        // held-out events: far beyond the training maximum of x0 (open side), and two below its edge (bounded side)
        string test = Csv(s, "te.csv", "x0,x1", [[max + 3, 0.1], [max * 2, -0.3], [1.0, 0.0], [0.0, 0.0], [-2.0, 0.5]]);
        (code, output, err) = s.Run("logprob", s["m.nflow"], test, "-o", s["lp.csv"]);
        Assert.True(code == 0, err);
        var lp = LogProbs(s["lp.csv"]);
        Assert.True(double.IsFinite(lp[0]) && double.IsFinite(lp[1]) && double.IsFinite(lp[2]), string.Join(", ", lp));
        Assert.True(double.IsNegativeInfinity(lp[3]) && double.IsNegativeInfinity(lp[4]), string.Join(", ", lp));
        // the mean over the finite events, the count outside, no "−Infinity ± NaN"
        double mean = (lp[0] + lp[1] + lp[2]) / 3;
        Assert.Contains($"mean log-likelihood: {mean.ToString("F4", CultureInfo.InvariantCulture)} ± ", output);
        Assert.Contains("2 of 5 event(s) lie outside the model's domain", output);
        Assert.DoesNotContain("NaN", output);

        // eval says the same, in the console and in the report
        (code, output, err) = s.Run("eval", s["m.nflow"], test, "-o", s["r.html"], "-n", "200");
        Assert.True(code == 0, err);
        Assert.Contains("2 of 5 event(s) lie outside the model's domain", output);
        Assert.DoesNotContain("n/a ± n/a", File.ReadAllText(s["r.html"]));
        Assert.Contains("2 lie outside (log p = −∞)", File.ReadAllText(s["r.html"]));
    }

    [Fact]
    public void BoundsOptionSetsTheDomain()
    {
        using var s = new CliSandbox();
        string train = Csv(s, "tr.csv", "x0,x1", EdgeRows(600, 2));
        var (code, output, err) = Train(s, train, "m.nflow", "--bounds", "x0=0:", "--bounds", "x1=-20:20", "--bound", "4.5", "--flow", "nsf", "--bins", "5");
        Assert.True(code == 0, err + output);
        var m = ModelFile.Load<float>(s["m.nflow"]);
        Assert.Equal((PreprocessingKind.Log, 0.0), (m.PreprocessingSpec!.Columns[0].Kind, m.PreprocessingSpec.Columns[0].Shift));
        Assert.Equal((PreprocessingKind.MinMaxLogit, -20.0, 20.0), (m.PreprocessingSpec.Columns[1].Kind, m.PreprocessingSpec.Columns[1].Lower!.Value, m.PreprocessingSpec.Columns[1].Upper!.Value));
        Assert.Equal(4.5, m.Spec.Bound);
        Assert.Equal(5, m.Spec.Bins);

        (code, _, err) = Train(s, train, "m2.nflow", "--bounds", "x1=-1:1");
        Assert.Equal(1, code);
        Assert.Contains("column 'x1'", err);
        Assert.Contains("outside its given bounds (-1, 1)", err);
        (code, _, err) = Train(s, train, "m2.nflow", "--bounds", "x1");
        Assert.Equal(2, code);
        Assert.Contains("COLUMN=LOW:HIGH", err);
        (code, _, err) = Train(s, train, "m2.nflow", "--bound", "0");
        Assert.Equal(2, code);
        Assert.Contains("--bound must be a positive finite number", err);
    }

    [Fact]
    public void PreprocessingIsFittedOnTheTrainingSplitOnly()
    {
        using var s = new CliSandbox();
        string train = Csv(s, "tr.csv", "x0,x1", EdgeRows(400, 3));
        // a validation file with one event far beyond the training range of both columns
        // (and one below the edge of x0: outside the domain, reported and left out of the validation mean)
        string val = Csv(s, "val.csv", "x0,x1", EdgeRows(40, 4).Append([500.0, 0.0]).Append([-5.0, 0.0]));
        var (code, output, err) = Train(s, train, "m.nflow", "--val", val);
        Assert.True(code == 0, err + output);
        Assert.Contains("1 of 42 validation event(s) lie outside the preprocessing's domain", err);
        Assert.Matches(@"validation log-likelihood: -?\d+\.\d{4} ± \d+\.\d{4}", output);
        var pre = ModelFile.Load<float>(s["m.nflow"]).Preprocessing!;
        double trainMax = NormalizingFlows.Data.Csv.Read(train).ToColumns()[0].Max();
        Assert.Equal(trainMax, pre.TrainingMax[0], 3);
    }

    [Fact]
    public void ColumnsAreMatchedByName()
    {
        using var s = new CliSandbox();
        var rows = EdgeRows(400, 5).ToList();
        string train = Csv(s, "tr.csv", "a,b", rows);
        Assert.Equal(0, Train(s, train, "m.nflow").Code);
        string test = Csv(s, "te.csv", "a,b", rows.Take(20));
        string swapped = Csv(s, "swapped.csv", "b,a", rows.Take(20).Select(r => new[] { r[1], r[0] }));
        var (code, _, err) = s.Run("logprob", s["m.nflow"], test, "-o", s["a.csv"]);
        Assert.True(code == 0, err);
        (code, _, err) = s.Run("logprob", s["m.nflow"], swapped, "-o", s["b.csv"]);
        Assert.True(code == 0, err);
        Assert.Equal(LogProbs(s["a.csv"]), LogProbs(s["b.csv"]));

        // other names (renamed, or differing in case) are refused, naming both sets and a --columns that would work
        string renamed = Csv(s, "renamed.csv", "p,q", rows.Take(20));
        (code, _, err) = s.Run("logprob", s["m.nflow"], renamed);
        Assert.Equal(1, code);
        Assert.Contains("(p, q)", err);
        Assert.Contains("(a, b)", err);
        Assert.Contains("--columns a=p,b=q", err);
        string upper = Csv(s, "upper.csv", "B,A", rows.Take(20).Select(r => new[] { r[1], r[0] }));
        (code, _, err) = s.Run("logprob", s["m.nflow"], upper);
        Assert.Equal(1, code);
        Assert.Contains("--columns a=A,b=B", err);
        (code, _, err) = s.Run("logprob", s["m.nflow"], upper, "--columns", "a=A,b=B", "-o", s["c.csv"]);
        Assert.True(code == 0, err);
        Assert.Equal(LogProbs(s["a.csv"]), LogProbs(s["c.csv"]));

        // a headerless .npy is taken by position, with a note
        NormalizingFlows.Data.Npy.Write(s["te.npy"], new Table(["x0", "x1"], NormalizingFlows.Data.Csv.Read(test).Values, 20));
        (code, _, err) = s.Run("logprob", s["m.nflow"], s["te.npy"]);
        Assert.True(code == 0, err);
        Assert.Contains("no column names", err);
    }

    [Fact]
    public void DegenerateDataAreRefusedOrWarnedAbout()
    {
        using var s = new CliSandbox();
        var rows = EdgeRows(300, 6).ToList();
        string constant = Csv(s, "const.csv", "x0,c,x1", rows.Select(r => new[] { r[0], 3.5, r[1] }));
        var (code, _, err) = Train(s, constant, "m.nflow");
        Assert.Equal(1, code);
        Assert.Contains("'c' (always 3.5)", err);
        Assert.Contains("point mass", err);
        Assert.Contains("--columns x0,x1", err);
        Assert.False(File.Exists(s["m.nflow"]));

        string identical = Csv(s, "same.csv", "x0,x1", Enumerable.Repeat(new[] { 1.25, -2.0 }, 500));
        (code, _, err) = Train(s, identical, "m.nflow");
        Assert.Equal(1, code);
        Assert.Contains("all 500 rows are identical", err);

        // 12 distinct points repeated: trains, with a warning
        string few = Csv(s, "few.csv", "x0,x1", Enumerable.Range(0, 600).Select(i => rows[i % 12]));
        (code, var output, err) = Train(s, few, "m.nflow");
        Assert.True(code == 0, err + output);
        Assert.Contains("warning: ", err);
        Assert.Contains("only 12 distinct row(s) among 600", err);
    }

    [Fact]
    public void LogProbNearTheFloatRangeIsNeverNaNAndHugeValuesAreScoredOrDropped()
    {
        using var s = new CliSandbox();
        var rows = EdgeRows(400, 7).Select(r => new[] { r[1] * 0.3, r[1] * 0.2 + 0.05 * r[0] }).ToList();
        string train = Csv(s, "tr.csv", "x0,x1", rows);
        Assert.Equal(0, Train(s, train, "m.nflow", "--preprocess", "standardize").Code);
        s.Write("big.csv", "x0,x1\n3e38,0\n-3e38,0\n0,1e300\n0.1,0.1\n");
        var (code, output, err) = s.Run("logprob", s["m.nflow"], s["big.csv"], "-o", s["lp.csv"]);
        Assert.True(code == 0, err);
        var lp = LogProbs(s["lp.csv"]);
        Assert.All(lp.Take(3), v => Assert.True(double.IsNegativeInfinity(v)));
        Assert.True(double.IsFinite(lp[3]));
        Assert.Contains("3 of 4 event(s) lie outside the model's domain", output);
        (code, _, err) = s.Run("logprob", s["m.nflow"], s["big.csv"], "--drop-invalid");
        Assert.True(code == 0, err);

        // training data beyond the float32 range: a named error, or dropped with --drop-invalid
        string huge = Csv(s, "huge.csv", "x0,x1", rows.Take(300).Append([0.1, 1e300]));
        (code, _, err) = Train(s, huge, "h.nflow");
        Assert.Equal(1, code);
        Assert.Contains("data row 301, column 'x1' is 1E+300, beyond the float32 range", err);
        (code, output, err) = Train(s, huge, "h.nflow", "--drop-invalid");
        Assert.True(code == 0, err + output);
        Assert.Contains("dropped 1 row(s) with values beyond the float32 range", err);
    }

    [Fact]
    public void SampleFollowsTheDensityUnlessClampIsAsked()
    {
        using var s = new CliSandbox();
        // a model whose preprocessing saw only 40 events: much of its mass lies beyond that training range
        string train = Csv(s, "tr.csv", "x0,x1", EdgeRows(40, 8).Select(r => new[] { r[1], r[0] - r[1] }));
        Assert.Equal(0, Train(s, train, "m.nflow", "--preprocess", "standardize").Code);
        var pre = ModelFile.Load<float>(s["m.nflow"]).Preprocessing!;
        var (code, _, err) = s.Run("sample", s["m.nflow"], "-n", "4000", "-o", s["free.csv"], "--seed", "1");
        Assert.True(code == 0, err);
        var free = NormalizingFlows.Data.Csv.Read(s["free.csv"]).ToColumns();
        int atEdge = free[0].Count(v => v == pre.TrainingMin[0] || v == pre.TrainingMax[0]);
        int beyond = free[0].Count(v => v < pre.TrainingMin[0] || v > pre.TrainingMax[0]);
        Assert.Equal(0, atEdge);
        Assert.True(beyond > 20, $"{beyond} samples beyond the training range");
        (code, var output, err) = s.Run("sample", s["m.nflow"], "-n", "4000", "-o", s["clamped.csv"], "--seed", "1", "--clamp");
        Assert.True(code == 0, err);
        Assert.Contains("clamped into the training range", output);
        var clamped = NormalizingFlows.Data.Csv.Read(s["clamped.csv"]).ToColumns();
        Assert.Equal(beyond, clamped[0].Count(v => v == pre.TrainingMin[0] || v == pre.TrainingMax[0]));
        (_, output, _) = s.Run("sample", "--help");
        Assert.Contains("--clamp", output);
    }

    [Fact]
    public void SampleStreamsToStdoutAndCountsAre64Bit()
    {
        using var s = new CliSandbox();
        string train = Csv(s, "tr.csv", "x0,x1", EdgeRows(300, 9));
        Assert.Equal(0, Train(s, train, "m.nflow").Code);

        var o = new StringWriter();
        var e = new StringWriter();
        int code = Program.Run(["sample", s["m.nflow"], "-n", "50", "-o", "-", "--seed", "2"], o, e);
        Assert.True(code == 0, e.ToString());
        var lines = o.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("x0,x1", lines[0]);
        Assert.Equal(51, lines.Length);
        Assert.Contains("wrote 50 samples", e.ToString());
        // the same draws as a file
        Assert.Equal(0, s.Run("sample", s["m.nflow"], "-n", "50", "-o", s["f.csv"], "--seed", "2").Code);
        Assert.Equal(File.ReadAllText(s["f.csv"]), o.ToString());

        // 1.1e9 and 5e9 events: accepted, streamed block by block (a stdout that stops after 200 000 characters)
        foreach (var n in new[] { "1100000000", "5000000000" })
        {
            var sink = new StoppingWriter(200_000);
            e = new StringWriter();
            code = Program.Run(["sample", s["m.nflow"], "-n", n, "-o", "-"], sink, e);
            Assert.Equal(1, code);
            Assert.Contains("stdout closed", e.ToString());
            Assert.True(sink.Written >= 200_000);
        }
    }

    private sealed class StoppingWriter(int limit) : StringWriter
    {
        public long Written { get; private set; }

        public override void Write(char value)
        {
            if (++Written > limit) throw new IOException("stdout closed");
        }

        public override void Write(string? value)
        {
            Written += value?.Length ?? 0;
            if (Written > limit) throw new IOException("stdout closed");
        }

        public override void Write(System.Text.StringBuilder? value) => Write(value?.ToString());
    }
}
