using System.Diagnostics;
using NormalizingFlows.Cli;
using NormalizingFlows.IO;
using NormalizingFlows.Models;

namespace NormalizingFlows.Cli.Tests;

/// <summary>The built nflow run as a child process, for signals.</summary>
internal static class ChildNflow
{
    /// <summary>
    /// Starts nflow as a child with SIGINT and SIGTERM at their default action. A signal ignored by the parent stays
    /// ignored in its children (POSIX), and a test run started in the background of a non-interactive shell (as CI
    /// harnesses do) has SIGINT ignored: a child started plainly would then rightly ignore the test's SIGINT too.
    /// GNU env's --default-signal resets that before nflow starts.
    /// </summary>
    public static Process Start(string workDir, params string[] args)
    {
        string dotnet = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet";
        var psi = new ProcessStartInfo(OperatingSystem.IsLinux() ? "env" : dotnet)
        {
            WorkingDirectory = workDir,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        if (OperatingSystem.IsLinux())
        {
            psi.ArgumentList.Add("--default-signal=INT,TERM");
            psi.ArgumentList.Add(dotnet);
        }
        psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "nflow.dll"));
        foreach (var a in args) psi.ArgumentList.Add(a);
        return Process.Start(psi)!;
    }

    /// <summary>Reads <paramref name="reader"/> until a line contains <paramref name="marker"/>; returns what was read.</summary>
    public static string WaitFor(StreamReader reader, string marker, TimeSpan timeout)
    {
        var clock = Stopwatch.StartNew();
        var text = new System.Text.StringBuilder();
        while (clock.Elapsed < timeout)
        {
            var line = reader.ReadLineAsync();
            if (!line.Wait(timeout - clock.Elapsed) || line.Result is null) break;
            text.AppendLine(line.Result);
            if (line.Result.Contains(marker, StringComparison.Ordinal)) return text.ToString();
        }
        throw new TimeoutException($"no line with '{marker}' within {timeout}: {text}");
    }

    public static void Signal(Process p, string signal)
    {
        using var kill = Process.Start(new ProcessStartInfo("kill", $"-{signal} {p.Id}") { UseShellExecute = false })!;
        kill.WaitForExit();
        Assert.Equal(0, kill.ExitCode);
    }
}

[Collection("ChildProcesses")] // signals to real child processes with time limits: never beside PackagingTests' dotnet pack/build/run
public class JobsTests
{
    private static readonly string[] SmallModel = ["--flow", "nsf", "--layers", "2", "--hidden", "16", "--bins", "4", "--batch", "256"];

    private static string Toy(CliSandbox s, string name = "moons.csv", int n = 2000, int seed = 1)
    {
        var (code, _, err) = s.Run("toy", "moons", "-n", n.ToString(), "-o", s[name], "--seed", seed.ToString());
        Assert.True(code == 0, err);
        return s[name];
    }

    private static float[] Parameters(string modelPath) =>
        [.. ModelFile.Load<float>(modelPath).Flow.StateDict().Values.SelectMany(t => t.ToArray())];

    // ---- 5: --resume ---------------------------------------------------------------------------------------------

    [Fact]
    public void AResumedTrainEqualsAnUninterruptedOneWithTheWholeHistory()
    {
        using var s = new CliSandbox();
        string data = Toy(s, n: 1200);
        string[] args = ["train", data, .. SmallModel, "--epochs", "3", "--val", "0.2"];
        Assert.Equal(0, s.Run([.. args, "-o", s["straight.nflow"]]).Code);
        Assert.Equal(Program.ExitInterrupted, s.Run([.. args, "-o", s["m.nflow"], "--cancel-after-steps", "5"]).Code); // 4 steps per epoch: inside epoch 2
        var (code, output, err) = s.Run([.. args, "-o", s["m.nflow"], "--resume", s["m.nflow.ckpt"]]);
        Assert.True(code == 0, err + output);
        var model = ModelFile.Load<float>(s["m.nflow"]);
        Assert.Equal([1, 2, 3], model.History!.Epochs.Select(e => e.Epoch));
        Assert.Equal(12, model.History.Steps);
        Assert.Equal(ModelFile.Load<float>(s["straight.nflow"]).History!.Epochs.Select(e => e.TrainLoss), model.History.Epochs.Select(e => e.TrainLoss));
        Assert.Equal(Parameters(s["straight.nflow"]), Parameters(s["m.nflow"]));
    }

    [Theory]
    [InlineData("--epochs", "4", "--epochs 3")]
    [InlineData("--lr", "0.002", "--lr 0.001")]
    [InlineData("--batch", "128", "--batch 256")]
    [InlineData("--seed", "7", "--seed 0")]
    [InlineData("--layers", "3", "--layers 2")]
    public void ResumeWithAnotherOptionIsRefusedNamingIt(string option, string value, string expected)
    {
        using var s = new CliSandbox();
        string data = Toy(s, n: 1200);
        string[] args = ["train", data, .. SmallModel, "--epochs", "3", "-o", s["m.nflow"]];
        Assert.Equal(Program.ExitInterrupted, s.Run([.. args, "--cancel-after-steps", "2"]).Code);
        int i = Array.IndexOf(args, option);
        string[] changed = i >= 0 ? [.. args[..(i + 1)], value, .. args[(i + 2)..]] : [.. args, option, value];
        var (code, _, err) = s.Run([.. changed, "--resume", s["m.nflow.ckpt"]]);
        Assert.Equal(1, code);
        Assert.Contains($"written with {expected}, this run has {option} {value}", err);
        Assert.DoesNotContain("   at ", err);
        Assert.False(File.Exists(s["m.nflow"]));
    }

    [Fact]
    public void ResumeWithOtherDataIsRefusedNamingTheData()
    {
        using var s = new CliSandbox();
        string data = Toy(s, n: 1200);
        string other = Toy(s, "other.csv", n: 1200, seed: 2);
        Assert.Equal(Program.ExitInterrupted, s.Run(["train", data, .. SmallModel, "-o", s["m.nflow"], "--cancel-after-steps", "2"]).Code);
        var (code, _, err) = s.Run(["train", other, .. SmallModel, "-o", s["m.nflow"], "--resume", s["m.nflow.ckpt"]]);
        Assert.Equal(1, code);
        Assert.Contains("data differ", err);
        Assert.Contains("moons.csv", err);
        Assert.Contains("other.csv", err);
    }

    // ---- 7: signals ----------------------------------------------------------------------------------------------

    [Fact]
    public async Task SigtermStopsARealTrainWithACheckpointThatResumes()
    {
        if (OperatingSystem.IsWindows()) return; // no kill(1) to send the signal
        using var s = new CliSandbox();
        string data = Toy(s, n: 4000);
        string[] args = ["train", data, .. SmallModel, "--epochs", "300", "-o", s["m.nflow"]];
        using var child = ChildNflow.Start(s.Dir, args);
        var stderr = child.StandardError.ReadToEndAsync();
        ChildNflow.WaitFor(child.StandardOutput, "epoch", TimeSpan.FromSeconds(60)); // the first epoch's line: training runs
        ChildNflow.Signal(child, "TERM");
        var rest = child.StandardOutput.ReadToEndAsync();
        Assert.True(child.WaitForExit(60_000), "the child stops within a minute of SIGTERM");
        string err = await stderr;
        Assert.Equal(Program.ExitTerminated, child.ExitCode);
        Assert.Contains($"interrupted by SIGTERM after", err);
        Assert.Contains($"checkpoint written to {s["m.nflow.ckpt"]}", err);
        Assert.Contains($"--resume {s["m.nflow.ckpt"]}", err);
        Assert.False(File.Exists(s["m.nflow"]), "no model from an interrupted run");
        Assert.Empty(Directory.GetFiles(s.Dir, "*.tmp"));
        await rest;

        // the checkpoint resumes: the same command continues from its step (stopped again two steps later to stay fast)
        var meta = SafeTensors.Load(s["m.nflow.ckpt"]).Metadata;
        long saved = long.Parse(meta["step"]);
        Assert.True(saved > 0);
        var (code, output, err2) = s.Run([.. args, "--resume", s["m.nflow.ckpt"], "--cancel-after-steps", (saved + 2).ToString()]);
        Assert.Equal(Program.ExitInterrupted, code);
        Assert.Contains("resuming from", output);
        Assert.Contains($"after {saved + 2} steps", err2);
    }

    [Fact]
    public void ASimulatedSigtermInTrainExits143NamingTheCheckpoint()
    {
        using var s = new CliSandbox();
        string data = Toy(s, n: 1200);
        var (code, _, err) = s.Run(["train", data, .. SmallModel, "--epochs", "3", "-o", s["m.nflow"], "--simulate-signal", "SIGTERM@3"]);
        Assert.Equal(Program.ExitTerminated, code);
        Assert.Contains($"interrupted by SIGTERM after 3 steps; checkpoint written to {s["m.nflow.ckpt"]}", err);
    }

    [Fact]
    public void ASimulatedSigintInIntegrateExits130AndWritesNothing()
    {
        using var s = new CliSandbox();
        var (code, output, err) = s.Run("integrate", "-f", "gaussian", "-d", "3", "-m", "vegas", "--calls", "200000", "--events", "10", "-o", s["ev.csv"], "--simulate-signal", "SIGINT@3");
        Assert.Equal(Program.ExitInterrupted, code);
        Assert.Contains("nflow: interrupted by SIGINT; nothing was written", err);
        Assert.DoesNotContain("   at ", err);
        Assert.DoesNotContain("±", output);
        Assert.Empty(Directory.GetFiles(s.Dir));
    }

    [Fact]
    public async Task SigintStopsARealIntegrate()
    {
        if (OperatingSystem.IsWindows()) return;
        using var s = new CliSandbox();
        using var child = ChildNflow.Start(s.Dir, "integrate", "-f", "camel", "-d", "4", "-m", "vegas", "--calls", "2000000000", "--events", "5", "-o", s["ev.csv"], "--progress-every", "0");
        var stdout = child.StandardOutput.ReadToEndAsync();
        ChildNflow.WaitFor(child.StandardError, "calls/s", TimeSpan.FromSeconds(60));
        ChildNflow.Signal(child, "INT");
        var err = child.StandardError.ReadToEndAsync();
        Assert.True(child.WaitForExit(60_000), "the child stops within a minute of SIGINT");
        Assert.Equal(Program.ExitInterrupted, child.ExitCode);
        Assert.Contains("nflow: interrupted by SIGINT; nothing was written", await err);
        await stdout;
        Assert.False(File.Exists(s["ev.csv"]));
    }

    // ---- 10: progress --------------------------------------------------------------------------------------------

    [Fact]
    public void IntegratePrintsProgressLinesWithRateAndEtaWhenNotOnATerminal()
    {
        using var s = new CliSandbox();
        var (code, output, err) = s.Run("integrate", "-f", "gaussian", "-d", "3", "-m", "vegas", "--calls", "60000", "--progress-every", "0");
        Assert.True(code == 0, err + output);
        var lines = err.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(lines.Length >= 3, err);
        Assert.All(lines, l => Assert.Matches(@"^nflow integrate: gaussian vegas: \d+% \([\d,]+/60,000 calls\) · [\d,.]+ calls/s · elapsed \d+:\d\d:\d\d · ETA (\d+:\d\d:\d\d|–)$", l));
        Assert.Contains("100% (60,000/60,000 calls)", lines[^1]);
        Assert.DoesNotContain("\r", err);
        // the default interval (10 s) keeps a short job's log to its final line
        (code, _, err) = s.Run("integrate", "-f", "gaussian", "-d", "3", "-m", "vegas", "--calls", "60000");
        Assert.Equal(0, code);
        Assert.Single(err.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    [Fact]
    public void ProgressLineShowsRateAndTimeLeft()
    {
        var err = new StringWriter();
        var ctx = new CliContext(new StringWriter(), err) { ProgressInterval = 5 };
        double now = 0;
        var p = new JobProgress(ctx, "job", 1000, "events", clock: () => now);
        now = 2; p.Report(100);   // within 5 s of the start: silent
        now = 6; p.Report(300);   // prints
        now = 8; p.Report(400);   // within 5 s of the last line: silent
        now = 10; p.Complete(500); // the final line always
        Assert.Equal(
            "job: 30% (300/1,000 events) · 50.0 events/s · elapsed 0:00:06 · ETA 0:00:14\n" +
            "job: 50% (500/1,000 events) · 50.0 events/s · elapsed 0:00:10 · ETA 0:00:10\n", err.ToString().Replace("\r\n", "\n"));
        Assert.Equal("26:00:00", JobProgress.Time(93_600));
    }

    // ---- 8: output paths -----------------------------------------------------------------------------------------

    public static TheoryData<string[]> WritingVerbs => new()
    {
        { ["toy", "moons", "-n", "10", "-o", "{out}"] },
        { ["integrate", "-f", "gaussian", "-m", "mc", "--calls", "1000", "--events", "5", "-o", "{out}"] },
        { ["train", "{data}", "--epochs", "1", "-o", "{out}"] },
        { ["infer", "train", "--simulator", "linear-gaussian", "-n", "200", "--epochs", "1", "-o", "{out}"] },
        { ["bumphunt", "generate", "--background", "100", "--signal", "0", "-o", "{out}"] },
        { ["bumphunt", "run", "--background", "100", "--signal", "0", "--seeds", "1", "--report", "{out}"] },
        { ["calo", "simulate", "-p", "gamma", "-n", "5", "-o", "{out}"] },
    };

    [Theory]
    [MemberData(nameof(WritingVerbs))]
    public void AnOutputThatCannotBeWrittenIsRefusedBeforeTheWork(string[] args)
    {
        using var s = new CliSandbox();
        string data = Toy(s, n: 300);
        Directory.CreateDirectory(s["adir"]);
        string readOnly = ReadOnlyFolder(s);
        foreach (var (target, reason) in new[]
        {
            (s["adir"], "is a directory"),
            (Path.Combine(s["missing"], "x.csv"), "does not exist"),
            (Path.Combine(readOnly, "x.csv"), "cannot create files in"),
        })
        {
            var clock = Stopwatch.StartNew();
            var (code, output, err) = s.Run([.. args.Select(a => a.Replace("{out}", target).Replace("{data}", data))]);
            Assert.True(code == 1, $"{string.Join(' ', args)} → {target}: exit {code}: {err}{output}");
            Assert.Contains(target, err);
            Assert.Contains(reason, err);
            Assert.DoesNotContain("   at ", err);
            Assert.True(clock.Elapsed.TotalSeconds < 5, $"refused after {clock.Elapsed.TotalSeconds:F1} s: the check comes before the work");
        }
    }

    /// <summary>A folder this process cannot create files in (root ignores permissions: then /proc, which takes no files).</summary>
    private static string ReadOnlyFolder(CliSandbox s)
    {
        if (OperatingSystem.IsWindows() || Environment.UserName == "root") return "/proc";
        Directory.CreateDirectory(s["ro"]);
        File.SetUnixFileMode(s["ro"], UnixFileMode.UserRead | UnixFileMode.UserExecute);
        return s["ro"];
    }

    [Fact]
    public void InferTrainStopsOnASignalWithACheckpointThatResumesOnlyWithTheSameOptions()
    {
        using var s = new CliSandbox();
        string[] args = ["infer", "train", "--simulator", "linear-gaussian", "-n", "1000", "--layers", "2", "--hidden", "16", "--epochs", "3", "--batch", "200", "-o", s["p.nflow"]];
        var (code, _, err) = s.Run([.. args, "--simulate-signal", "SIGTERM@6"]);
        Assert.Equal(Program.ExitTerminated, code);
        Assert.Matches($@"nflow: infer train interrupted by SIGTERM after [1-9]\d* steps; checkpoint written to {System.Text.RegularExpressions.Regex.Escape(s["p.nflow.ckpt"])}", err);
        Assert.False(File.Exists(s["p.nflow"]));

        (code, _, err) = s.Run([.. args.Select(a => a == "16" ? "32" : a), "--resume", s["p.nflow.ckpt"]]);
        Assert.Equal(1, code);
        Assert.Contains("written with --hidden 16, this run has --hidden 32", err);

        (code, var output, err) = s.Run([.. args, "--resume", s["p.nflow.ckpt"]]);
        Assert.True(code == 0, err + output);
        var model = NormalizingFlows.Hep.Inference.PosteriorEstimator<float>.Load(s["p.nflow"]);
        Assert.Equal([1, 2, 3], model.History!.Epochs.Select(e => e.Epoch));
        Assert.Equal(15, model.History.Steps); // 900 training pairs / 200 = 5 steps per epoch
        Assert.False(File.Exists(s["p.nflow.ckpt"]), "the checkpoint is removed after success");
    }

    [Fact]
    public void BumpHuntRunReportsProgressAndStopsOnASignalWritingNothing()
    {
        using var s = new CliSandbox();
        string[] args = ["bumphunt", "run", "--background", "4000", "--signal", "200", "--method", "cwola,random", "--seeds", "2", "--folds", "2", "--clf-epochs", "2",
            "--report", s["r.html"], "--table", s["t.csv"], "--progress-every", "0"];
        var (code, output, err) = s.Run(args);
        Assert.True(code == 0, err + output);
        Assert.Matches(@"nflow bumphunt run: 50% \(2/4 methods\) · [\d.,]+ methods/s · elapsed \d+:\d\d:\d\d · ETA \d+:\d\d:\d\d", err);
        Assert.Contains("100% (4/4 methods)", err);

        File.Delete(s["r.html"]); File.Delete(s["t.csv"]);
        (code, output, err) = s.Run([.. args, "--simulate-signal", "SIGTERM@3"]);
        Assert.Equal(Program.ExitTerminated, code);
        Assert.Contains("nflow: interrupted by SIGTERM; nothing was written", err);
        Assert.False(File.Exists(s["r.html"]));
        Assert.False(File.Exists(s["t.csv"]));
    }

    [Fact]
    public void CaloTrainStopsInEitherPhaseWithACheckpointAndResumesToTheEnd()
    {
        using var s = new CliSandbox();
        Assert.Equal(0, s.Run("calo", "simulate", "--particle", "gamma", "-n", "300", "-o", s["g.npy"], "--seed", "3").Code);
        string[] args = ["calo", "train", s["g.npy"], "--particle", "gamma", "-o", s["g.nflow"], "--flow1-layers", "2", "--flow1-hidden", "8", "--flow1-epochs", "2",
            "--layers", "1", "--hidden", "8", "--bins", "0", "--epochs", "2", "--batch", "100"];
        string ckpt = s["g.nflow.ckpt"];
        var (code, _, err) = s.Run([.. args, "--simulate-signal", "SIGINT@2"]);
        Assert.Equal(Program.ExitInterrupted, code);
        Assert.Contains($"interrupted by SIGINT while training flow I, after 2 steps; checkpoint written to {ckpt}", err);
        Assert.False(File.Exists(s["g.nflow"]));

        (code, _, err) = s.Run([.. args.Select(a => a == "100" ? "50" : a), "--resume", ckpt]);
        Assert.Equal(1, code);
        Assert.Contains("written with --batch 100, this run has --batch 50", err);

        // flow I finishes (6 polls), then the teacher is stopped at its second step
        (code, var output, err) = s.Run([.. args, "--resume", ckpt, "--simulate-signal", "SIGTERM@8"]);
        Assert.Equal(Program.ExitTerminated, code);
        Assert.Contains("flow I: final loss", output);
        Assert.Contains($"interrupted by SIGTERM while training the teacher, after 2 steps; checkpoint written to {ckpt} (and flow I to {ckpt}.flow1)", err);

        (code, output, err) = s.Run([.. args, "--resume", ckpt]);
        Assert.True(code == 0, err + output);
        Assert.Contains($"flow I: restored from {ckpt}.flow1", output);
        Assert.Contains("teacher: final loss", output);
        Assert.True(File.Exists(s["g.nflow"]));
        Assert.False(File.Exists(ckpt));
        Assert.False(File.Exists(ckpt + ".flow1"));
    }

    [Fact]
    public void CaloDistillStopsOnASignalWithACheckpointAndResumesToTheSameStudent()
    {
        using var s = new CliSandbox();
        Assert.Equal(0, s.Run("calo", "simulate", "--particle", "gamma", "-n", "200", "-o", s["g.npy"], "--seed", "3").Code);
        Assert.Equal(0, s.Run("calo", "simulate", "--particle", "gamma", "-n", "200", "-o", s["h.npy"], "--seed", "4").Code);
        Assert.Equal(0, s.Run("calo", "train", s["g.npy"], "-o", s["g.nflow"], "--flow1-layers", "2", "--flow1-hidden", "8", "--flow1-epochs", "1",
            "--layers", "1", "--hidden", "8", "--bins", "0", "--epochs", "1", "--batch", "100").Code);
        byte[] before = File.ReadAllBytes(s["g.nflow"]);

        // the reference: 6 steps in one go
        var (code, output, err) = s.Run("calo", "distill", s["g.nflow"], s["g.npy"], "--steps", "6", "--batch", "32", "-o", s["full.nflow"], "--progress-every", "0");
        Assert.True(code == 0, err + output);
        Assert.Contains("nflow calo distill: 100% (6/6 steps)", err);
        Assert.Contains("steps/s", err);
        Assert.Contains("ETA", err);

        // stopped after 3 steps: a checkpoint, the model untouched, no output
        string[] args = ["calo", "distill", s["g.nflow"], s["g.npy"], "--steps", "6", "--batch", "32", "-o", s["part.nflow"]];
        string ckpt = s["part.nflow.ckpt"];
        (code, _, err) = s.Run([.. args, "--simulate-signal", "SIGTERM@3"]);
        Assert.Equal(Program.ExitTerminated, code);
        Assert.Contains($"nflow: calo distill interrupted by SIGTERM after 3 of 6 steps; checkpoint written to {ckpt}", err);
        Assert.Contains($"continue with the same command plus: --resume {ckpt}", err);
        Assert.True(File.Exists(ckpt));
        Assert.False(File.Exists(s["part.nflow"]));
        Assert.Equal(before, File.ReadAllBytes(s["g.nflow"]));

        // other options or other data are refused by name
        (code, _, err) = s.Run([.. args.Select(a => a == "6" ? "8" : a), "--resume", ckpt]);
        Assert.Equal(1, code);
        Assert.Contains("written with --steps 6, this run has --steps 8", err);
        (code, _, err) = s.Run([.. args, "--lr", "0.002", "--resume", ckpt]);
        Assert.Equal(1, code);
        Assert.Contains("written with --lr 0.001, this run has --lr 0.002", err);
        (code, _, err) = s.Run([.. args.Select(a => a == s["g.npy"] ? s["h.npy"] : a), "--resume", ckpt]);
        Assert.Equal(1, code);
        Assert.Contains("data differ from the data the checkpoint was trained on", err);
        Assert.False(File.Exists(s["part.nflow"]));

        // resumed, stopped again (SIGINT after 2 more steps), resumed to the end
        (code, _, err) = s.Run([.. args, "--resume", ckpt, "--simulate-signal", "SIGINT@2"]);
        Assert.Equal(Program.ExitInterrupted, code);
        Assert.Contains($"interrupted by SIGINT after 5 of 6 steps; checkpoint written to {ckpt}", err);
        (code, output, err) = s.Run([.. args, "--resume", ckpt]);
        Assert.True(code == 0, err + output);
        Assert.Contains($"resuming from {ckpt}", output);
        Assert.Contains("distill step 6/6", output);
        Assert.DoesNotContain("distill step 3/6", output);
        Assert.False(File.Exists(ckpt), "the checkpoint is removed after success");

        // the same student, bit for bit, as the uninterrupted run (parameters, optimizer and random stream restored)
        var full = Hep.Calorimeter.CaloFlow.Load(s["full.nflow"]).Student!.StateDict();
        var part = Hep.Calorimeter.CaloFlow.Load(s["part.nflow"]).Student!.StateDict();
        Assert.Equal(full.Keys, part.Keys);
        foreach (var (k, t) in full) Assert.True(t.ReadOnlySpan.SequenceEqual(part[k].ReadOnlySpan), $"student tensor {k} differs after resuming");
    }

    [Fact]
    public void SampleReportsProgressAndStopsOnASignalWritingNothing()
    {
        using var s = new CliSandbox();
        string data = Toy(s, n: 600);
        Assert.Equal(0, s.Run(["train", data, .. SmallModel, "--epochs", "1", "-o", s["m.nflow"]]).Code);
        var (code, output, err) = s.Run("sample", s["m.nflow"], "-n", "70000", "-o", s["x.npy"], "--progress-every", "0");
        Assert.True(code == 0, err + output);
        Assert.Matches(@"nflow sample: 47% \(32,768/70,000 events\) · [\d,.]+ events/s · elapsed \d+:\d\d:\d\d · ETA", err);
        Assert.Contains("100% (70,000/70,000 events)", err);
        File.Delete(s["x.npy"]);
        (code, _, err) = s.Run("sample", s["m.nflow"], "-n", "70000", "-o", s["x.npy"], "--simulate-signal", "SIGINT@1");
        Assert.Equal(Program.ExitInterrupted, code);
        Assert.Contains("nflow: interrupted by SIGINT; nothing was written", err);
        Assert.False(File.Exists(s["x.npy"]));
    }

    // ---- 11: interrupted atomic writes ---------------------------------------------------------------------------

    [Fact]
    public void AWriterKilledInMidWriteLeavesATemporaryFileThatTheNextWriteRemoves()
    {
        if (OperatingSystem.IsWindows()) return;
        using var s = new CliSandbox();
        // a large CSV takes a second or more to write: kill -9 the writer while its temporary file exists
        using var child = ChildNflow.Start(s.Dir, "toy", "moons", "-n", "1000000", "-o", s["big.csv"]);
        var clock = Stopwatch.StartNew();
        string[] temps = [];
        while (clock.Elapsed < TimeSpan.FromSeconds(60) && !child.HasExited)
        {
            temps = Directory.GetFiles(s.Dir, ".big.csv.*.tmp");
            if (temps.Length > 0 && new FileInfo(temps[0]).Length > 0) break;
            Thread.Sleep(5);
        }
        Assert.True(temps.Length == 1, "the temporary file was seen while the child wrote");
        child.Kill();
        child.WaitForExit();
        Assert.True(File.Exists(temps[0]), "SIGKILL leaves the temporary file behind");
        Assert.False(File.Exists(s["big.csv"]), "the target never holds a partial file");
        Assert.Contains($".big.csv.{child.Id}.", temps[0]);

        var (code, _, err) = s.Run("toy", "moons", "-n", "10", "-o", s["big.csv"]);
        Assert.True(code == 0, err);
        Assert.Empty(Directory.GetFiles(s.Dir, "*.tmp"));
        Assert.Equal(11, File.ReadAllLines(s["big.csv"]).Length);
    }
}
