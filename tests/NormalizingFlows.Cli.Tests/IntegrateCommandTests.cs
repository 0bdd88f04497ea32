using NormalizingFlows.Hep.PhaseSpace;
using NormalizingFlows.Data;

namespace NormalizingFlows.Cli.Tests;

public class IntegrateCommandTests
{
    [Fact]
    public void Vegas_PrintsEstimateErrorEfficiencyAndCalls()
    {
        using var s = new CliSandbox();
        var (code, output, err) = s.Run("integrate", "--function", "gaussian", "--dim", "3", "--method", "vegas", "--calls", "30000");
        Assert.True(code == 0, err + output);
        Assert.Contains("gaussian (3-D) with vegas:", output);
        Assert.Contains("±", output);
        Assert.Contains("pull", output);
        Assert.Contains("relative std", output);
        Assert.Contains("unweighting efficiency", output);
        Assert.Contains("integrand calls: 30,000", output);
    }

    [Fact]
    public void PhysicsProcess_IntegratesAndWritesLesHouchesEvents()
    {
        using var s = new CliSandbox();
        var (code, output, err) = s.Run("integrate", "-f", "ee-mumu", "-m", "vegas", "--calls", "20000", "--events", "40", "-o", s["ee.lhe"]);
        Assert.True(code == 0, err + output);
        Assert.Contains("ee-mumu", output);
        Assert.Contains("pull", output); // compared with the analytic σ
        var lhe = NormalizingFlows.Hep.PhaseSpace.LesHouchesReader.Read(s["ee.lhe"]);
        Assert.Equal(40, lhe.Events.Count);
        Assert.Equal(11, Math.Abs(lhe.Init.BeamA));
        foreach (var e in lhe.Events)
            Assert.Contains(e.Particles, p => Math.Abs(p.Id) == 13 && p.Status == 1);

        // .lhe needs a physics process; √s is an option
        (code, output, err) = s.Run("integrate", "-f", "camel", "-m", "mc", "--calls", "1000", "--events", "5", "-o", s["c.lhe"]);
        Assert.Equal(2, code);
        Assert.Contains("physics process", err);
        Assert.DoesNotContain("with mc", output); // refused before integrating, not after
        // --sqrt-s belongs to the physics processes and does not stop another integrand
        (code, output, err) = s.Run("integrate", "-f", "camel", "-m", "mc", "--calls", "1000", "--sqrt-s", "0");
        Assert.True(code == 0, err + output);
        (code, output, err) = s.Run("integrate", "-f", "ee-mumu", "-m", "mc", "--calls", "20000", "--sqrt-s", "60");
        Assert.True(code == 0, err + output);
    }

    [Fact]
    public void Flow_WritesUnweightedEvents()
    {
        using var s = new CliSandbox();
        var (code, output, err) = s.Run("integrate", "-f", "camel", "-d", "2", "-m", "flow", "--calls", "8192", "--batch", "1024", "--hidden", "8", "--bins", "4",
            "--events", "300", "-o", s["events.csv"]);
        Assert.True(code == 0, err + output);
        var t = Csv.Read(s["events.csv"]);
        Assert.Equal(["x1", "x2", "weight"], t.Columns);
        Assert.Equal(300, t.Rows);
        for (int i = 0; i < t.Rows; i++)
        {
            Assert.InRange(t[i, 0], 0.0, 1.0);
            Assert.InRange(t[i, 1], 0.0, 1.0);
            Assert.True(t[i, 2] >= 1.0);
        }
        Assert.Contains("unweighted: 300 events", output);
    }

    [Fact]
    public void Compare_PrintsOneRowPerMethod()
    {
        using var s = new CliSandbox();
        var (code, output, err) = s.Run("integrate", "--compare", "-f", "annulus", "--calls", "8192", "--batch", "1024", "--hidden", "8", "--bins", "4");
        Assert.True(code == 0, err + output);
        var rows = output.Split('\n').Where(l => l.StartsWith("annulus", StringComparison.Ordinal)).ToArray();
        Assert.Equal(3, rows.Length);
        Assert.Contains(rows, r => r.Contains(" mc "));
        Assert.Contains(rows, r => r.Contains(" vegas "));
        Assert.Contains(rows, r => r.Contains(" flow "));
    }

    [Fact]
    public void BadArguments_GiveOneLineErrors()
    {
        using var s = new CliSandbox();
        var (code, _, err) = s.Run("integrate", "-f", "nosuch");
        Assert.NotEqual(0, code);
        Assert.Contains("unknown integrand 'nosuch'", err);
        (code, _, err) = s.Run("integrate", "-f", "circles", "--dim", "3");
        Assert.NotEqual(0, code);
        Assert.Contains("2-dimensional", err);
        (code, _, err) = s.Run("integrate", "-m", "quadrature");
        Assert.NotEqual(0, code);
        Assert.Contains("unknown method", err);
        (code, _, err) = s.Run("integrate", "--events", "10");
        Assert.Equal(2, code);
        Assert.Contains("--output", err);
    }

    [Fact]
    public void ZeroDimensionsAndTooFewCalls_AreOneLineUsageErrors()
    {
        using var s = new CliSandbox();
        var (code, output, err) = s.Run("integrate", "-d", "0");
        Assert.Equal(2, code);
        Assert.Contains("--dim must be at least 1, got 0", err);
        Assert.Equal("", output);
        foreach (var (m, calls) in new[] { ("flow", "10"), ("vegas", "10"), ("mc", "9") })
        {
            (code, output, err) = s.Run("integrate", "-m", m, "--calls", calls);
            Assert.True(code == 2, $"{m}: exit {code}: {err}");
            // one line of error, then (usage errors only) the verb's --help hint
            var lines = err.Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(l => !l.StartsWith("Run 'nflow integrate --help'", StringComparison.Ordinal)).ToArray();
            Assert.Single(lines);
            Assert.Contains($"--calls {calls} leaves", lines[0]);
            Assert.Contains("raise --calls to at least", lines[0]);
            Assert.DoesNotContain("Parameter", err);
        }
        // the library's own check after training (the flow trains in whole rounds of --batch calls)
        (code, _, err) = s.Run("integrate", "-m", "flow", "--calls", "300", "--batch", "256", "--hidden", "4", "--bins", "4", "--iterations", "25");
        Assert.Equal(1, code);
        Assert.Single(err.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains("training used", err);
    }

    [Fact]
    public void ArgumentExceptionMessagesArePrintedOnOneLine()
    {
        Assert.Equal("need at least 2 calls (got 7)", Program.UserMessage(new ArgumentOutOfRangeException("calls", 7, "need at least 2 calls")));
        Assert.Equal("bad x", Program.UserMessage(new ArgumentException("bad x", "x")));
        Assert.Equal("a; b", Program.UserMessage(new InvalidOperationException("a\nb")));
    }

    [Fact]
    public void MadnisOptions_RunTheMultichannelFlowBufferAndVegasPretraining()
    {
        using var s = new CliSandbox();
        var (code, output, err) = s.Run("integrate", "-f", "ee-qqg", "--multichannel", "learned", "--calls", "12000", "--batch", "1024", "--hidden", "8", "--bins", "4");
        Assert.True(code == 0, err + output);
        Assert.Contains("with the learned multichannel flow", output);
        Assert.Contains("channel 0:", output);
        Assert.Contains("channel 1:", output);
        Assert.Contains("pull", output);
        Assert.Contains("integrand calls: 12,000", output);

        // balance weights with the flow trained on the mixture loss
        (code, output, err) = s.Run("integrate", "-f", "ee-qqg", "--multichannel", "mixture", "--allocation", "sigma", "--calls", "8192", "--batch", "1024", "--hidden", "8", "--bins", "4");
        Assert.True(code == 0, err + output);
        Assert.Contains("ee-qqg (2 channels × 5-D) with the mixture multichannel flow", output);
        Assert.Contains("integrand calls: 8,192", output);
        (code, _, err) = s.Run("integrate", "-f", "ee-qqg", "--multichannel", "mixture", "--allocation", "mean", "--calls", "8192");
        Assert.Equal(2, code);
        Assert.Contains("unknown allocation 'mean' for --allocation (choose one of: sigma, rms)", err);

        (code, output, err) = s.Run("integrate", "-f", "camel", "-d", "2", "--calls", "8192", "--batch", "512", "--hidden", "8", "--bins", "4",
            "--buffer", "2048", "--buffer-rounds", "2", "--pretrain", "vegas");
        Assert.True(code == 0, err + output);
        Assert.Contains("integrand calls: 8,192", output);

        (code, _, err) = s.Run("integrate", "-f", "camel", "--multichannel", "learned", "--calls", "8192");
        Assert.Equal(2, code);
        Assert.Contains("--multichannel needs a process on a multichannel mapping", err);
        (code, _, err) = s.Run("integrate", "-f", "ee-qqgg-rambo", "--multichannel", "fixed", "--calls", "8192");
        Assert.Equal(2, code);
        Assert.Contains("not 'ee-qqgg'", err);

        // the four-body process: eight channels, and Les Houches events
        (code, output, err) = s.Run("integrate", "-f", "ee-qqgg", "--multichannel", "learned-balance", "--calls", "8192", "--batch", "1024", "--hidden", "8", "--bins", "4");
        Assert.True(code == 0, err + output);
        Assert.Contains("ee-qqgg (8 channels × 8-D) with the learned-balance multichannel flow", output);
        Assert.Contains("channel 7:", output);
        string lhe = s["qqgg.lhe"];
        (code, output, err) = s.Run("integrate", "-f", "ee-qqgg", "-m", "vegas", "--calls", "8192", "--events", "20", "-o", lhe);
        Assert.True(code == 0, err + output);
        var events = LesHouchesReader.Read(lhe).Events;
        Assert.Equal(20, events.Count);
        Assert.All(events, e => Assert.Equal(new[] { 21, 21 }, e.Particles.Where(p => p.Id == 21).Select(p => p.Id)));
        (code, _, err) = s.Run("integrate", "-f", "camel", "--buffer", "100", "--calls", "8192");
        Assert.NotEqual(0, code);
        Assert.Contains("the replay buffer holds 0 (off) or at least 2048 events", err);
    }
}
