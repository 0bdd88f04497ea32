using System.Globalization;

namespace NormalizingFlows.Cli.Tests;

/// <summary>
/// <c>train --flow flow-matching --device cpu-accelerator</c>: the device-trained model scores as the CPU-trained one (same
/// draws; a model one epoch shorter differs by ~1e−2 here, float rounding by ~1e−6).
/// </summary>
public sealed class FlowMatchingDeviceCliTests
{
    private static double[] Column(string path) =>
        File.ReadAllLines(path).Skip(1).Select(l => double.Parse(l, CultureInfo.InvariantCulture)).ToArray();

    [Fact]
    public void FlowMatchingTrainsOnTheAcceleratorAsOnTheCpu()
    {
        using var s = new CliSandbox();
        string train = DeviceCliTests.Data(s), test = DeviceCliTests.Data(s, "test.csv", 16, 2);
        string[] run = ["train", train, "--flow", "flow-matching", "--layers", "2", "--hidden", "8", "--batch", "64", "--epochs", "2", "--seed", "1", "--lr", "1e-2"];
        var (code, _, err) = s.Run([.. run, "-o", s["cpu.nflow"]]);
        Assert.True(code == 0, err);
        (code, var output, err) = s.Run([.. run, "-o", s["dev.nflow"], "--device", "cpu-accelerator"]);
        Assert.True(code == 0, err);
        Assert.Contains("training on CPUAccelerator", output);
        (code, _, err) = s.Run("logprob", s["cpu.nflow"], test, "-o", s["cpu.csv"]);
        Assert.True(code == 0, err);
        (code, _, err) = s.Run("logprob", s["dev.nflow"], test, "-o", s["dev.csv"]);
        Assert.True(code == 0, err);
        var (a, b) = (Column(s["cpu.csv"]), Column(s["dev.csv"]));
        Assert.Equal(16, a.Length);
        for (int i = 0; i < a.Length; i++) Assert.True(Math.Abs(a[i] - b[i]) <= 1e-4 * (1 + Math.Abs(a[i])), $"row {i}: CPU-trained {a[i]}, device-trained {b[i]}");
    }
}
