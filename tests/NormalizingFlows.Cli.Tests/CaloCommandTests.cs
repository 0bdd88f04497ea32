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
        // HDF5 in and out: E_inc from a CaloChallenge-layout file, showers written deflate-compressed in that layout
        CaloHdf5.Write(s["e.h5"], showers.Head(4), CaloHdf5Layout.CaloChallenge);
        r = s.Run("calo", "generate", s["g.nflow"], "--energies", s["e.h5"], "-o", s["out.h5"], "--layout", "calochallenge", "--compress");
        Assert.True(r.Code == 0, r.Err);
        var generated = CaloHdf5.Read(s["out.h5"]);
        Assert.Equal(CaloHdf5.Read(s["e.h5"]).IncidentEnergies.Select(e => (double)(float)(e * 1000) / 1000), generated.IncidentEnergies);
        // --particle is case-insensitive in eval too (it used to pass validation and then be rejected as unknown)
        r = s.Run("calo", "eval", s["g.nflow"], s["g.npy"], "--particle", "GAMMA", "--timing-only", "--timing-batch", "16", "--full-pass-batch", "0", "--repeats", "1");
        Assert.True(r.Code == 0, r.Err);
        Assert.Contains("time per shower at batch 16", r.Out);
    }

    [Fact]
    public void SimulateWritesBothHdf5LayoutsThatReadBackAsTheSimulatorsShowers()
    {
        using var s = new CliSandbox();
        var direct = new ToyCalorimeter().Simulate(CaloParticle.Photon, 40, 3);
        var expected = direct.Voxels.Select(v => (double)(float)(v * 1000) / 1000).ToArray();
        foreach (var args in new[] { new[] { "-o", s["gan.h5"] }, ["-o", s["challenge.h5"], "--layout", "calochallenge", "--compress"] })
        {
            var r = s.Run(["calo", "simulate", "--particle", "gamma", "-n", "40", "--seed", "3", .. args]);
            Assert.True(r.Code == 0, r.Err);
            Assert.Equal(expected, CaloHdf5.Read(args[1]).Voxels);
        }
        using (var f = PureHDF.H5File.OpenRead(s["challenge.h5"])) Assert.True(f.LinkExists("showers") && !f.LinkExists("layer_0"));
        var bad = s.Run("calo", "simulate", "--particle", "gamma", "-n", "4", "-o", s["x.h5"], "--layout", "hdf4");
        Assert.Equal(2, bad.Code);
        Assert.Contains("unknown layout 'hdf4' for --layout (choose one of: calogan, calochallenge)", bad.Err);
        // a CaloChallenge data set 1 file has another geometry: one line naming the file and the dataset
        var rng = new Random(1);
        CaloHdf5.WriteChallenge(s["ds1.h5"], new CaloChallengeShowers(CaloChallengeDataset.Dataset1Photons,
            Enumerable.Range(0, 2 * 368).Select(_ => rng.NextDouble()).ToArray(), [10, 20]));
        var ds1 = s.Run("calo", "train", s["ds1.h5"], "--particle", "gamma", "-o", s["m.nflow"]);
        Assert.Equal(1, ds1.Code);
        Assert.Contains("ds1.h5", ds1.Err);
        Assert.Contains("dataset 'showers' has shape [2, 368], expected [2, 504]", ds1.Err);
    }

    [Fact]
    public void EvalOfTwoShowerFilesPrintsTheCaloChallengeMetrics()
    {
        using var s = new CliSandbox();
        // two CaloChallenge data set 1 (pion) files: the generated one with a tenth more energy in every voxel
        var rng = new Random(4);
        var ds = CaloChallengeDataset.Dataset1Pions;
        CaloChallengeShowers Showers(double scale) => new(ds,
            Enumerable.Range(0, 120 * ds.Voxels).Select(_ => scale * rng.NextDouble() * rng.NextDouble()).ToArray(), Enumerable.Range(0, 120).Select(i => 50.0 + i).ToArray());
        CaloHdf5.WriteChallenge(s["ref.h5"], Showers(1));
        CaloHdf5.WriteChallenge(s["gen.h5"], Showers(1.1), compress: true);
        var r = s.Run("calo", "eval", s["gen.h5"], s["ref.h5"], "--folds", "2", "--kpd-batch", "100", "--report", s["m.html"]);
        Assert.True(r.Code == 0, r.Err);
        Assert.Contains("120 showers of", r.Out);
        Assert.Contains("dataset 1 pions (533 voxels)", r.Out);
        foreach (var row in new[] { "| FPD (high-level features) |", "| KPD (high-level features) |", "| classifier AUC, high-level |", "| classifier AUC, low-level |",
            "| separation power: E_dep/E_inc |", "| separation power: centre x layer 13 (mm) |", "| separation power: width y layer 1 (mm) |" })
            Assert.Contains(row, r.Out);
        Assert.DoesNotContain("centre x layer 14", r.Out); // layer 14 is not binned in α
        Assert.Contains("separation power: E layer 14 (GeV)", File.ReadAllText(s["m.html"]));
        // toy showers (.parquet, as .npy) against a CaloChallenge file: one line naming both geometries
        r = s.Run("calo", "simulate", "--particle", "gamma", "-n", "30", "-o", s["g.parquet"], "--seed", "3");
        Assert.True(r.Code == 0, r.Err);
        Assert.Equal(new ToyCalorimeter().Simulate(CaloParticle.Photon, 30, 3).Voxels.Select(v => (double)(float)v), CaloShowers.FromTable(NormalizingFlows.Data.ParquetTable.Read(s["g.parquet"])).Voxels);
        r = s.Run("calo", "eval", s["g.parquet"], s["ref.h5"]);
        Assert.Equal(1, r.Code);
        Assert.Contains("CaloGAN toy (504 voxels)", r.Err);
        Assert.Contains("dataset 1 pions", r.Err);
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
