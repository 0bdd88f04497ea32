using NormalizingFlows.Cli;

namespace NormalizingFlows.Cli.Tests;

public class DemoTests
{
    [Fact]
    public void DemoTrainsSamplesAndWritesAReadableReport()
    {
        string path = Path.Combine(Path.GetTempPath(), $"nflow-demo-{Guid.NewGuid():N}.html");
        var output = new StringWriter();
        try
        {
            Assert.Equal(0, Demo.Run("moons", path, epochs: 2, seed: 1, output: output));
            string html = File.ReadAllText(path);
            Assert.Contains("test log-likelihood", html);
            Assert.Contains("<svg", html);
            Assert.Contains("learned density", html);
            string log = output.ToString();
            Assert.Contains("epoch   2", log);
            Assert.Contains("wrote", log);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void UnknownVerbExitsWithUsage() => Assert.Equal(2, Program.Run(["frobnicate"], TextWriter.Null, TextWriter.Null));
}
