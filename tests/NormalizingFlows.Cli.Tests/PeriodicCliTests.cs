using System.Globalization;
using System.Text.RegularExpressions;
using NormalizingFlows.Data.Preprocessing;
using NormalizingFlows.Models;
using NormalizingFlows.Tensors;

namespace NormalizingFlows.Cli.Tests;

/// <summary>nflow train --periodic: angle columns modelled on the circle by circular splines.</summary>
public class PeriodicCliTests
{
    private static readonly string[] Small = ["--layers", "3", "--hidden", "32", "--batch", "256", "--bins", "8", "--seed", "1"];

    /// <summary>von Mises(μ, κ) angles in [−π, π) by rejection from the uniform.</summary>
    private static double VonMises(Rng r, double mu, double kappa)
    {
        while (true)
        {
            double t = Math.PI * (2 * r.NextDouble() - 1);
            if (r.NextDouble() < Math.Exp(kappa * (Math.Cos(t - mu) - 1))) return t;
        }
    }

    private static double Wrap(double v) => v - 2 * Math.PI * Math.Floor((v + Math.PI) / (2 * Math.PI));

    // two angles: φ₁ von Mises around the seam (μ = 3), φ₂ = φ₁ + von Mises noise, wrapped; and an ordinary column
    private static string Toy(CliSandbox s, string name, int n, int seed)
    {
        var r = new Rng(seed);
        var lines = new List<string> { "phi1,phi2,x" };
        for (int i = 0; i < n; i++)
        {
            double a = VonMises(r, 3.0, 2.0), b = Wrap(a + VonMises(r, 0, 4.0));
            lines.Add(string.Join(",", new[] { a, b, 0.5 * Math.Cos(a) + 0.3 * r.NextNormal() }.Select(v => v.ToString("R", CultureInfo.InvariantCulture))));
        }
        return s.Write(name, string.Join("\n", lines) + "\n");
    }

    private static double MeanLogLikelihood(string output)
    {
        var m = Regex.Match(output, @"mean log-likelihood: (-?\d+\.\d+)");
        Assert.True(m.Success, output);
        return double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
    }

    [Fact]
    public void PeriodicAnglesBeatTheSameFlowOnTheLine()
    {
        using var s = new CliSandbox();
        string train = Toy(s, "train.csv", 4000, 1), test = Toy(s, "test.csv", 2000, 2);
        var (code, output, err) = s.Run(["train", train, .. Small, "--epochs", "20", "--periodic", "phi1,phi2", "-o", s["circ.nflow"]]);
        Assert.True(code == 0, err + output);
        (code, output, err) = s.Run(["train", train, .. Small, "--epochs", "20", "-o", s["line.nflow"]]);
        Assert.True(code == 0, err + output);

        var circ = ModelFile.Load<float>(s["circ.nflow"]);
        Assert.Equal([PreprocessingKind.Periodic, PreprocessingKind.Periodic], circ.PreprocessingSpec!.Columns.Take(2).Select(c => c.Kind));
        Assert.Equal(FlowSpec.Composed, circ.Spec.Builder);
        Assert.Contains("circular-rational-quadratic", circ.Spec.Architecture!.ToJsonString());

        (code, output, err) = s.Run("logprob", s["circ.nflow"], test, "-o", s["lp-circ.csv"]);
        Assert.True(code == 0, err);
        double llCirc = MeanLogLikelihood(output);
        (code, output, err) = s.Run("logprob", s["line.nflow"], test, "-o", s["lp-line.csv"]);
        Assert.True(code == 0, err);
        double llLine = MeanLogLikelihood(output);
        Console.WriteLine($"test log-likelihood: periodic {llCirc}, line {llLine}");
        // measured: −2.544 against −2.571 (8 epochs: −2.688 against −2.745); the line model's minmax-logit on the angles
        // gets close, but must still split the bump at the seam and lose the correlation across it
        Assert.True(llCirc > llLine + 0.01, $"test log-likelihood: periodic {llCirc}, on the line {llLine}");

        // samples stay in the period
        (code, _, err) = s.Run("sample", s["circ.nflow"], "-n", "3000", "-o", s["samples.csv"], "--seed", "3");
        Assert.True(code == 0, err);
        var cols = NormalizingFlows.Data.Csv.Read(s["samples.csv"]).ToColumns();
        Assert.All(cols[0].Concat(cols[1]), v => Assert.True(v >= -Math.PI - 1e-6 && v < Math.PI + 1e-6, $"sample angle {v}"));
    }

    [Fact]
    public void PeriodicTakesAPeriodAndExplainsItsErrors()
    {
        using var s = new CliSandbox();
        var r = new Rng(5);
        string deg = s.Write("deg.csv", "az,x\n" + string.Join("\n", Enumerable.Range(0, 600).Select(_ =>
            FormattableString.Invariant($"{360 * r.NextDouble()},{r.NextNormal()}"))) + "\n");
        string[] tiny = ["--layers", "2", "--hidden", "8", "--batch", "256", "--epochs", "1"];
        var (code, output, err) = s.Run(["train", deg, .. tiny, "--flow", "maf-rqs", "--periodic", "az=0:360", "-o", s["m.nflow"]]);
        Assert.True(code == 0, err + output);
        var m = ModelFile.Load<float>(s["m.nflow"]);
        Assert.Equal((0.0, 360.0), m.PreprocessingSpec!.Columns[0].Period);
        (code, _, err) = s.Run("sample", s["m.nflow"], "-n", "500", "-o", s["s.csv"], "--seed", "1");
        Assert.True(code == 0, err);
        Assert.All(NormalizingFlows.Data.Csv.Read(s["s.csv"]).ToColumns()[0], v => Assert.True(v >= 0 && v < 360.001, $"sample azimuth {v}"));

        (code, _, err) = s.Run(["train", deg, .. tiny, "--flow", "maf", "--periodic", "az", "-o", s["m2.nflow"]]);
        Assert.Equal(2, code);
        Assert.Contains("--flow nsf or --flow maf-rqs", err);
        (code, _, err) = s.Run(["train", deg, .. tiny, "--preprocess", "standardize", "--periodic", "az", "-o", s["m2.nflow"]]);
        Assert.Equal(2, code);
        Assert.Contains("--periodic needs --preprocess auto", err);
        (code, _, err) = s.Run(["train", deg, .. tiny, "--periodic", "az=0:", "-o", s["m2.nflow"]]);
        Assert.Equal(2, code);
        Assert.Contains("needs both ends", err);
        (code, _, err) = s.Run(["train", deg, .. tiny, "--periodic", "phi", "-o", s["m2.nflow"]]);
        Assert.Equal(1, code);
        Assert.Contains("column 'phi' is declared periodic", err);
        (code, _, err) = s.Run(["train", deg, .. tiny, "--periodic", "az", "--bounds", "az=0:360", "-o", s["m2.nflow"]]);
        Assert.Equal(1, code);
        Assert.Contains("both a bound and a period", err);
    }

    [Theory]
    [InlineData("nsf")]
    [InlineData("maf-rqs")]
    public void PeriodicTrainsOnTheDeviceAsOnTheCpu(string flow)
    {
        // circular and ordinary columns mixed, on ILGPU's CPU accelerator: the device-trained model scores on the CPU
        // as on the device, as the CPU-trained one does, and its device samples stay in the period
        using var s = new CliSandbox();
        string train = Toy(s, "train.csv", 256, 1), test = Toy(s, "test.csv", 64, 2);
        string[] run = ["train", train, "--flow", flow, "--layers", "2", "--hidden", "8", "--bins", "4", "--batch", "64", "--epochs", "2", "--seed", "1",
            "--periodic", "phi1,phi2"];
        var (code, output, err) = s.Run([.. run, "-o", s["dev.nflow"], "--device", "cpu-accelerator"]);
        Assert.True(code == 0, err + output);
        Assert.Contains("training on", output);
        (code, output, err) = s.Run([.. run, "-o", s["cpu.nflow"]]);
        Assert.True(code == 0, err + output);
        (code, output, err) = s.Run("logprob", s["dev.nflow"], test, "-o", s["dev-cpu.csv"]);
        Assert.True(code == 0, err);
        (code, output, err) = s.Run("logprob", s["dev.nflow"], test, "-o", s["dev-dev.csv"], "--device", "cpu-accelerator");
        Assert.True(code == 0, err);
        (code, output, err) = s.Run("logprob", s["cpu.nflow"], test, "-o", s["cpu-cpu.csv"]);
        Assert.True(code == 0, err);
        double[] Read(string f) => File.ReadAllLines(s[f]).Skip(1).Select(l => double.Parse(l, CultureInfo.InvariantCulture)).ToArray();
        var (a, b, c) = (Read("dev-cpu.csv"), Read("dev-dev.csv"), Read("cpu-cpu.csv"));
        Assert.Equal(64, a.Length);
        Console.WriteLine($"{flow}: max |log p| difference CPU vs device {a.Zip(b, (u, v) => Math.Abs(u - v)).Max()}, device- vs CPU-trained {a.Zip(c, (u, v) => Math.Abs(u - v)).Max()}");
        for (int i = 0; i < a.Length; i++)
        {
            Assert.True(double.IsFinite(a[i]), $"row {i}: {a[i]}");
            Assert.True(Math.Abs(a[i] - b[i]) <= 1e-3 * (1 + Math.Abs(a[i])), $"row {i}: CPU {a[i]}, device {b[i]} (device-trained model)");
            Assert.True(Math.Abs(a[i] - c[i]) <= 1e-2 * (1 + Math.Abs(c[i])), $"row {i}: device-trained {a[i]}, CPU-trained {c[i]}");
        }
        (code, _, err) = s.Run("sample", s["dev.nflow"], "-n", "200", "-o", s["x.csv"], "--device", "cpu-accelerator", "--seed", "3");
        Assert.True(code == 0, err);
        var cols = NormalizingFlows.Data.Csv.Read(s["x.csv"]).ToColumns();
        Assert.All(cols[0].Concat(cols[1]), v => Assert.True(v >= -Math.PI - 1e-6 && v < Math.PI + 1e-6, $"sample angle {v}"));
    }
}
