using NormalizingFlows.Flows;
using NormalizingFlows.Hep.Calorimeter;
using NormalizingFlows.Tensors;
using NormalizingFlows.Training;

namespace NormalizingFlows.Cli.Tests;

/// <summary>
/// <c>calo generate</c> and <c>calo eval</c> with <c>--device</c> on ILGPU's CPU accelerator: the student's and the
/// teacher's showers from the device equal the CPU run's for the same seed (the device maps the CPU's base draws);
/// eval times the generation on the device (without the full-pass teacher row: its 504 full MADE passes per layer
/// take minutes on the CPU accelerator); <c>calo distill</c> on the device trains the CPU's student; one-line errors
/// for a missing GPU, for eval of two shower files and for simulate.
/// </summary>
public sealed class CaloDeviceCliTests
{
    private const string Device = "cpu-accelerator";

    /// <summary>A tiny untrained model with a student, every flow's weights moved off their start, saved to <paramref name="path"/>.</summary>
    private static void SaveTinyModel(string path)
    {
        var showers = new ToyCalorimeter().Simulate(CaloParticle.Photon, 40, 5);
        var model = CaloFlow.Create(new CaloFlowConfig { Particle = "gamma", Flow1Layers = 2, Flow1Hidden = 8, Flow1Bins = 4, Flow2Layers = 2, Flow2Hidden = 4, Flow2Bins = 2 }, showers, seed: 3);
        model.Distiller(new DistillationOptions { Steps = 1 }); // the student, with the teacher's weights
        var noise = new Rng(13);
        foreach (var p in model.Parameters())
        {
            var s = p.Value.Span;
            for (int i = 0; i < s.Length; i++) s[i] += (float)(0.03 * noise.NextNormal());
        }
        model.Save(path);
    }

    [Theory]
    [InlineData("student")]
    [InlineData("teacher")]
    public void GenerateOnTheDeviceWritesTheCpusShowers(string sampler)
    {
        using var s = new CliSandbox();
        SaveTinyModel(s["m.nflow"]);
        string[] run = ["calo", "generate", s["m.nflow"], "-n", "5", "--sampler", sampler, "--batch", "3", "--seed", "3"];
        var (code, _, err) = s.Run([.. run, "-o", s["cpu.npy"]]);
        Assert.True(code == 0, err);
        (code, var output, err) = s.Run([.. run, "-o", s["dev.npy"], "--device", Device]);
        Assert.True(code == 0, err);
        Assert.Contains($"with the {sampler} on ", output);
        var cpu = CaloShowers.LoadNpy(s["cpu.npy"]);
        var dev = CaloShowers.LoadNpy(s["dev.npy"]);
        Assert.Equal(cpu.IncidentEnergies, dev.IncidentEnergies);
        for (int i = 0; i < cpu.Voxels.Length; i++)
            Assert.True(Math.Abs(cpu.Voxels[i] - dev.Voxels[i]) <= 1e-3 * Math.Abs(cpu.Voxels[i]) + 1e-9, $"voxel {i}: CPU {cpu.Voxels[i]}, device {dev.Voxels[i]}");
        Assert.True(cpu.Voxels.Count(v => v > 0) > cpu.Voxels.Length / 10, "too few voxels above threshold for a meaningful comparison");
    }

    [Fact]
    public void EvalTimesTheGenerationOnTheDevice()
    {
        using var s = new CliSandbox();
        SaveTinyModel(s["m.nflow"]);
        new ToyCalorimeter().Simulate(CaloParticle.Photon, 24, 2).SaveNpy(s["ref.npy"]);
        // timings only: the classifier tests of a full eval run on the CPU and take most of its time (25 s here), the
        // generation they compare is Generate on the device (tested above and in the library's tests)
        var (code, output, err) = s.Run("calo", "eval", s["m.nflow"], s["ref.npy"], "--timing-batch", "4", "--full-pass-batch", "0", "--repeats", "1",
            "--device", Device, "--timing-only");
        Assert.True(code == 0, err);
        Assert.Contains("time per shower at batch 4 (wall, and CPU time over all threads; flow I and flow II on ", output);
        Assert.Contains("flow II sampling alone per shower: teacher ", output);
    }

    [Fact]
    public void DeviceErrorsAreOneLine()
    {
        using var s = new CliSandbox();
        SaveTinyModel(s["m.nflow"]);
        new ToyCalorimeter().Simulate(CaloParticle.Photon, 8, 2).SaveNpy(s["ref.npy"]);
        foreach (var verb in new[] { "generate", "eval", "distill" })
        {
            string[] args = verb switch
            {
                "generate" => ["calo", "generate", s["m.nflow"], "-n", "2", "-o", s["x.npy"]],
                "distill" => ["calo", "distill", s["m.nflow"], s["ref.npy"], "--steps", "1", "-o", s["d.nflow"]],
                _ => ["calo", "eval", s["m.nflow"], s["ref.npy"], "--timing-only"],
            };
            var (code, _, err) = s.Run([.. args, "--device", "cuda"]);
            Assert.Equal(1, code);
            var lines = err.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.StartsWith("nflow: error: --device cuda: no CUDA device", lines[0]);
            Assert.DoesNotContain(" at ", err);
        }
        // two shower files: nothing to generate, so nothing for the device
        var (c2, _, e2) = s.Run("calo", "eval", s["ref.npy"], s["ref.npy"], "--device", Device);
        Assert.Equal(1, c2);
        Assert.Contains("--device cpu-accelerator: calo eval of two shower files generates nothing", e2);
        // the simulator stays on the CPU, refused by name
        var (c3, _, e3) = s.Run("calo", "simulate", "-p", "gamma", "-n", "2", "-o", s["sim.npy"], "--device", Device);
        Assert.Equal(2, c3);
        Assert.Contains("not supported on the device yet: calo simulate", e3);
    }

    [Fact]
    public void DistillOnTheDeviceTrainsTheCpusStudent()
    {
        using var s = new CliSandbox();
        SaveTinyModel(s["m.nflow"]);
        new ToyCalorimeter().Simulate(CaloParticle.Photon, 24, 4).SaveNpy(s["data.npy"]);
        // one step: a distillation step of the 504-voxel teacher and student takes about 10 s on the CPU accelerator
        // whatever the batch (DeviceDistillationTests checks the terms, gradients and several steps on small flows)
        string[] run = ["calo", "distill", s["m.nflow"], s["data.npy"], "--steps", "1", "--batch", "4", "--lr", "3e-3", "--seed", "2"];
        var (code, output, err) = s.Run([.. run, "-o", s["cpu.nflow"]]);
        Assert.True(code == 0, err);
        (code, var devOutput, err) = s.Run([.. run, "-o", s["dev.nflow"], "--device", Device]);
        Assert.True(code == 0, err);
        Assert.Contains("distillation: final loss ", devOutput);
        var before = CaloFlow.Load(s["m.nflow"]).Student!.Parameters().SelectMany(p => p.Value.ToArray()).ToArray();
        var cpu = CaloFlow.Load(s["cpu.nflow"]).Student!.Parameters().SelectMany(p => p.Value.ToArray()).ToArray();
        var dev = CaloFlow.Load(s["dev.nflow"]).Student!.Parameters().SelectMany(p => p.Value.ToArray()).ToArray();
        Assert.NotEqual(before, cpu);
        for (int i = 0; i < cpu.Length; i++)
            Assert.True(Math.Abs(cpu[i] - dev[i]) <= 2e-3 * Math.Abs(cpu[i]) + 2e-4, $"student weight {i}: CPU {cpu[i]}, device {dev[i]}");
        // the final losses printed agree too
        string Loss(string o) => o.Split('\n').Single(l => l.StartsWith("distillation: final loss ")).Split(' ')[3];
        Assert.Equal(double.Parse(Loss(output), System.Globalization.CultureInfo.InvariantCulture), double.Parse(Loss(devOutput), System.Globalization.CultureInfo.InvariantCulture), 3);
    }
}
