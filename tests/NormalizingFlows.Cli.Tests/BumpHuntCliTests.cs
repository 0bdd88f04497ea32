using NormalizingFlows.Data;

namespace NormalizingFlows.Cli.Tests;

public class BumpHuntCliTests
{
    [Fact]
    public void GenerateThenRunPrintsTheMaxSicTableAndWritesReportAndTable()
    {
        using var s = new CliSandbox();
        var (code, output, err) = s.Run("bumphunt", "generate", "--background", "20000", "--signal", "600", "--seed", "3", "-o", s["bh.csv"]);
        Assert.True(code == 0, err);
        Assert.Contains("S/√B", output);
        var table = Csv.Read(s["bh.csv"]);
        Assert.Equal(["mjj", "mj1", "dmj", "tau21_j1", "tau21_j2", "label"], table.Columns);
        Assert.Equal(20_600, table.Rows);

        (code, output, err) = s.Run("bumphunt", "run", "--input", s["bh.csv"], "--background", "20000", "--signal", "600",
            "--method", "cwola,random", "--seeds", "2", "--folds", "2", "--clf-epochs", "3", "--report", s["r.html"], "--table", s["t.csv"]);
        Assert.True(code == 0, err + output);
        Assert.Matches(@"CWoLa\s+\d+\.\d\d ± \d+\.\d\d", output);
        Assert.Matches(@"Random\s+\d+\.\d\d ± \d+\.\d\d", output);
        string html = File.ReadAllText(s["r.html"]);
        Assert.Contains("<svg", html);
        Assert.Contains("SIC curves of all methods", html);
        var lines = File.ReadAllLines(s["t.csv"]);
        Assert.Equal("seed,method,max_sic,auc,rejection_at_0.2,rejection_at_0.5,seconds", lines[0]);
        Assert.Equal(5, lines.Length); // header + 2 seeds × 2 methods
        Assert.StartsWith("1,Random,", lines[4]);
    }

    [Fact]
    public void UnknownMethodIsAUsageError()
    {
        using var s = new CliSandbox();
        var (code, _, err) = s.Run("bumphunt", "run", "--method", "cathode,magic");
        Assert.Equal(2, code);
        Assert.Contains("magic", err);
    }
}
