using System.Globalization;
using System.Text;

namespace NormalizingFlows.Cli.Tests;

/// <summary><c>nflow train --flow cnf --device cpu-accelerator</c>: the continuous flow trained by maximum likelihood on the device as on the CPU.</summary>
public sealed class ContinuousDeviceCliTests
{
    [Fact]
    public void CnfTrainsOnTheAcceleratorAsOnTheCpu()
    {
        // 40 rows (32 train, 8 validation), one step of the default adaptive solver (tolerances 1e−5) through the ODE
        using var s = new CliSandbox();
        var rng = new Random(1);
        var text = new StringBuilder("a,b\n");
        for (int i = 0; i < 40; i++)
        {
            double u = rng.NextDouble(), v = rng.NextDouble();
            text.AppendLine(string.Create(CultureInfo.InvariantCulture, $"{u + v},{u - 2 * v}"));
        }
        string data = s.Write("train.csv", text.ToString());
        string[] run = ["train", data, "--flow", "cnf", "--layers", "1", "--hidden", "4", "--batch", "64", "--epochs", "1", "--seed", "1"];
        var (code, cpu, err) = s.Run([.. run, "-o", s["cpu.nflow"]]);
        Assert.True(code == 0, err);
        (code, var dev, err) = s.Run([.. run, "-o", s["dev.nflow"], "--device", "cpu-accelerator"]);
        Assert.True(code == 0, err);
        Assert.Contains("cpu-accelerator", dev);
        static double Validation(string output) =>
            double.Parse(output.Split("validation log-likelihood:")[1].Trim().Split(' ')[0], CultureInfo.InvariantCulture);
        Assert.True(Math.Abs(Validation(cpu) - Validation(dev)) <= 1e-3, $"validation: CPU {Validation(cpu)}, device {Validation(dev)}");
        Assert.True(File.Exists(s["dev.nflow"]));
    }
}
