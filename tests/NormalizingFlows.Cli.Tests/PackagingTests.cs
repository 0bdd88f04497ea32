using System.Diagnostics;
using System.IO.Compression;
using System.Text.RegularExpressions;
using System.Xml.Linq;

namespace NormalizingFlows.Cli.Tests;

/// <summary>
/// The README's install lines, run for real: the three projects under src/ are packed (from the build this test run
/// uses) into a local folder, `dotnet add package NormalizingFlows --source FOLDER` builds and runs a small program
/// against the package, and `dotnet tool install nflow --add-source FOLDER` installs a working nflow. A unique
/// prerelease version per run keeps NuGet's global cache from serving an older package.
/// </summary>
[Collection("ChildProcesses")] // runs dotnet pack, build and tool install: heavy, kept apart from the timed child-process tests
public sealed class PackagingTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "nflow-pack-" + Guid.NewGuid().ToString("N")[..8]);

    public PackagingTests() => Directory.CreateDirectory(_dir);

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }

    private static string RepoRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "NormalizingFlows.slnx"))) dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("NormalizingFlows.slnx not found above " + AppContext.BaseDirectory);
    }

    // the configuration this test assembly was built in: pack reuses that build (--no-build)
    private static string Configuration => AppContext.BaseDirectory.Replace('\\', '/').Contains("/bin/Debug/", StringComparison.Ordinal) ? "Debug" : "Release";

    private static string Dotnet(string workDir, params string[] args)
    {
        var psi = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet")
        {
            WorkingDirectory = workDir, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        psi.Environment["DOTNET_NOLOGO"] = "1";
        using var p = Process.Start(psi)!;
        var stderr = p.StandardError.ReadToEndAsync();
        string stdout = p.StandardOutput.ReadToEnd();
        if (!p.WaitForExit(TimeSpan.FromMinutes(5))) { p.Kill(entireProcessTree: true); throw new TimeoutException($"dotnet {string.Join(' ', args)} took over 5 minutes"); }
        Assert.True(p.ExitCode == 0, $"dotnet {string.Join(' ', args)} exited with {p.ExitCode}:\n{stdout}\n{stderr.Result}");
        return stdout;
    }

    [Fact]
    public void ReadmeInstallLinesWorkFromALocallyPackedFolder()
    {
        string root = RepoRoot(), feed = Path.Combine(_dir, "nupkgs");
        string version = $"0.0.0-ci.{DateTime.UtcNow:yyyyMMddHHmmss}.{Guid.NewGuid().ToString("N")[..6]}";

        // the README names these lines; the test runs them (with a version, so the global package cache cannot answer)
        string readme = File.ReadAllText(Path.Combine(root, "README.md"));
        Assert.Contains("dotnet pack NormalizingFlows.slnx -c Release -o ./nupkgs", readme, StringComparison.Ordinal);
        Assert.Contains("dotnet add package NormalizingFlows --source ./nupkgs", readme, StringComparison.Ordinal);
        Assert.Contains("dotnet tool install --global nflow --add-source ./nupkgs", readme, StringComparison.Ordinal);

        foreach (var project in new[] { "src/NormalizingFlows", "src/NormalizingFlows.Hep", "src/NormalizingFlows.Cli" })
            Dotnet(root, "pack", project, "-c", Configuration, "--no-build", "-o", feed, $"-p:PackageVersion={version}");

        // metadata: id, description, licence, README and licence file inside, the repository commit (source link)
        foreach (var (id, file) in new[] { ("NormalizingFlows", "NormalizingFlows"), ("NormalizingFlows.Hep", "NormalizingFlows.Hep"), ("nflow", "nflow") })
        {
            using var zip = ZipFile.OpenRead(Path.Combine(feed, $"{file}.{version}.nupkg"));
            var nuspec = XDocument.Load(zip.Entries.Single(e => e.FullName.EndsWith(".nuspec", StringComparison.Ordinal)).Open());
            var meta = nuspec.Root!.Elements().Single(e => e.Name.LocalName == "metadata");
            string Field(string name) => meta.Elements().SingleOrDefault(e => e.Name.LocalName == name)?.Value ?? "";
            Assert.Equal(id, Field("id"));
            Assert.True(Field("description").Length > 40, $"{id}: description '{Field("description")}'");
            Assert.Equal("MIT", Field("license"));
            Assert.Equal("README.md", Field("readme"));
            Assert.Contains(zip.Entries, e => e.FullName == "README.md");
            Assert.Contains(zip.Entries, e => e.FullName == "LICENSE");
            if (Directory.Exists(Path.Combine(root, ".git")) || File.Exists(Path.Combine(root, ".git")))
                Assert.Matches(new Regex("^[0-9a-f]{40}$"), meta.Elements().Single(e => e.Name.LocalName == "repository").Attribute("commit")?.Value ?? "");
            if (id == "nflow") Assert.Contains("DotnetTool", nuspec.ToString(), StringComparison.Ordinal);
            if (id == "NormalizingFlows.Hep") Assert.Contains($"id=\"NormalizingFlows\" version=\"{version}\"", nuspec.ToString(), StringComparison.Ordinal);
        }

        // a user's project: dotnet add package, then build and run code that trains, scores and samples a flow
        string app = Path.Combine(_dir, "app");
        Directory.CreateDirectory(app);
        File.WriteAllText(Path.Combine(app, "App.csproj"), """
            <Project Sdk="Microsoft.NET.Sdk">
              <PropertyGroup><OutputType>Exe</OutputType><TargetFramework>net10.0</TargetFramework><ImplicitUsings>enable</ImplicitUsings><Nullable>enable</Nullable></PropertyGroup>
            </Project>
            """);
        File.WriteAllText(Path.Combine(app, "Program.cs"), """
            using NormalizingFlows.Flows;
            using NormalizingFlows.Tensors;
            using NormalizingFlows.Training;
            var x = NormalizingFlows.Data.ToyDatasets.Generate("moons", 1_000).ToTensor<float>();
            var flow = FlowBuilders.NeuralSplineFlow<float>(features: 2, layers: 2, hidden: 16, rng: new Rng(1));
            new MaximumLikelihoodTrainer<float>(flow, new TrainingOptions { Epochs = 1 }).Fit(new TrainingData<float>(x));
            double[] logp = flow.LogProb(x).Value.ToDoubleArray();
            var samples = flow.Sample(10, new Rng(2));
            Console.WriteLine($"ok {logp.Length} {samples.Rows} {double.IsFinite(logp.Average())}");
            """);
        Dotnet(app, "add", "package", "NormalizingFlows", "--source", feed, "--version", version);
        string output = Dotnet(app, "run", "-c", "Release");
        Assert.Contains("ok 1000 10 True", output, StringComparison.Ordinal);

        // the tool (into a folder, not the machine-wide tool set)
        string tools = Path.Combine(_dir, "tools");
        Dotnet(_dir, "tool", "install", "nflow", "--add-source", feed, "--version", version, "--tool-path", tools);
        var psi = new ProcessStartInfo(Path.Combine(tools, OperatingSystem.IsWindows() ? "nflow.exe" : "nflow"), "--version") { RedirectStandardOutput = true, UseShellExecute = false };
        using var nflow = Process.Start(psi)!;
        string printed = nflow.StandardOutput.ReadToEnd();
        nflow.WaitForExit();
        Assert.Equal(0, nflow.ExitCode);
        Assert.StartsWith("0.2.0", printed.Trim(), StringComparison.Ordinal); // the assembly's version (the package's is the test's)
    }
}
