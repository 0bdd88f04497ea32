using NormalizingFlows.Hep.Calorimeter;

namespace NormalizingFlows.Cli.Tests;

public class CaloCommandTests
{
    [Fact]
    public void SimulateTrainDistillGenerateRunEndToEndOnATinyModel()
    {
        using var s = new CliSandbox();
        var r = s.Run("calo", "simulate", "--particle", "gamma", "-n", "300", "-o", s["g.npy"], "--seed", "3");
        Assert.True(r.Code == 0, r.Err);
        var showers = CaloShowers.LoadNpy(s["g.npy"]);
        Assert.Equal(300, showers.Count);
        // float32 file: the simulator's showers rounded to float
        var direct = new ToyCalorimeter().Simulate(CaloParticle.Photon, 300, 3);
        Assert.Equal(direct.Voxels.Select(v => (double)(float)v).ToArray(), showers.Voxels);

        r = s.Run("calo", "train", s["g.npy"], "--particle", "gamma", "-o", s["g.nflow"], "--flow1-layers", "2", "--flow1-hidden", "8", "--flow1-epochs", "1",
            "--layers", "1", "--hidden", "8", "--bins", "0", "--epochs", "1", "--batch", "100");
        Assert.True(r.Code == 0, r.Err);
        r = s.Run("calo", "generate", s["g.nflow"], "-n", "5", "-o", s["out.npy"]);
        Assert.Equal(1, r.Code);
        Assert.Contains("calo distill", r.Err);
        r = s.Run("calo", "distill", s["g.nflow"], s["g.npy"], "--steps", "3", "--batch", "32");
        Assert.True(r.Code == 0, r.Err);
        r = s.Run("calo", "generate", s["g.nflow"], "-n", "7", "-o", s["out.npy"]);
        Assert.True(r.Code == 0, r.Err);
        Assert.Equal(7, CaloShowers.LoadNpy(s["out.npy"]).Count);
        // --particle is case-insensitive in eval too (it used to pass validation and then be rejected as unknown)
        r = s.Run("calo", "eval", s["g.nflow"], s["g.npy"], "--particle", "GAMMA", "--timing-only", "--timing-batch", "16", "--full-pass-batch", "0", "--repeats", "1");
        Assert.True(r.Code == 0, r.Err);
        Assert.Contains("time per shower at batch 16", r.Out);
    }

    [Fact]
    public void BadParticleAndMissingFilesGiveOneLineErrors()
    {
        using var s = new CliSandbox();
        var r = s.Run("calo", "simulate", "--particle", "muon", "-n", "10", "-o", s["x.npy"]);
        Assert.Equal(2, r.Code);
        Assert.Contains("unknown particle 'muon'", r.Err);
        r = s.Run("calo", "train", s["missing.npy"], "-o", s["m.nflow"]);
        Assert.Equal(1, r.Code);
        Assert.Contains("missing.npy", r.Err);
        s.Write("wrong.csv", "a,b\n1,2\n");
        r = s.Run("calo", "eval", s["nope.nflow"], s["missing.npy"]);
        Assert.Equal(1, r.Code);
        Assert.Contains("no such model file", r.Err);
        r = s.Run("calo", "eval", s["wrong.csv"], s["missing.npy"]);
        Assert.Equal(1, r.Code);
        Assert.Contains("wrong.csv", r.Err);
    }
}
