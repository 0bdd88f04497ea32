using NormalizingFlows.Autograd;
using NormalizingFlows.Hep.Calorimeter;
using NormalizingFlows.Tensors;
using NormalizingFlows.Training;
using Xunit.Abstractions;

namespace NormalizingFlows.Hep.Tests.Calorimeter;

public class CaloFlowTests(ITestOutputHelper output)
{
    [Fact]
    public void PostProcessingInvertsThePreprocessingAndAppliesTheThreshold()
    {
        var showers = new ToyCalorimeter().Simulate(CaloParticle.Photon, 60, 5);
        var p = new CaloFlowPreprocessing { EnergyScale = 1.2 };
        var noised = p.AddNoise(showers, new Rng(1));
        var layerE = CaloFlowPreprocessing.LayerEnergies(noised);
        var back = p.Flow2Inverse(p.Flow2Forward(noised), layerE);
        Assert.True(p.Noise > 0 && p.Noise < p.Threshold);
        for (int k = 0; k < back.Length; k++)
        {
            double v = showers.Voxels[k];
            if (v == 0) Assert.Equal(0.0, back[k]); // the noise stays below the threshold: empty voxels come back empty
            else
            {
                // inverse of the preprocessing: the noised value (or zero below threshold), within δ of the simulated one
                double expected = noised[k] < p.Threshold ? 0 : noised[k];
                Assert.Equal(expected, back[k], 1e-9 + 1e-9 * v);
                if (expected > 0) Assert.InRange(back[k] - v, 0, p.Noise);
            }
        }
        var e = p.Flow1Inverse(p.Flow1Forward(layerE, showers.IncidentEnergies), showers.IncidentEnergies);
        for (int k = 0; k < e.Length; k++) Assert.Equal(layerE[k], e[k], 1e-9 + 1e-9 * layerE[k]);
        // the threshold: a layer whose normalised voxels are all equal is spread over every voxel, below threshold when E_i is small
        var flat = new double[CaloGeometry.Voxels];
        var tiny = p.Flow2Inverse(flat, [0.1, 0.1, 1.0]);
        Assert.All(tiny.AsSpan(0, 288).ToArray(), v => Assert.Equal(0.0, v)); // 0.1 GeV / 288 < 2 MeV
        Assert.All(tiny.AsSpan(432, 72).ToArray(), v => Assert.Equal(1.0 / 72, v, 1e-12)); // 1 GeV / 72 > 2 MeV
    }

    [Fact]
    public void NoiseDefaultsToAQuarterOfTheThresholdAndSurvivesTheConfigRoundTrip()
    {
        Assert.Equal(5e-4, new CaloFlowPreprocessing().Noise, 15);
        Assert.Equal(2.5e-3, new CaloFlowPreprocessing { Threshold = 0.01 }.Noise, 15);
        Assert.Equal(1e-6, new CaloFlowPreprocessing { Threshold = 0 }.Noise, 15);
        Assert.Equal(3e-4, new CaloFlowPreprocessing { Threshold = 0.01, Noise = 3e-4 }.Noise, 15);
        var config = new CaloFlowConfig { Preprocessing = new CaloFlowPreprocessing { Threshold = 0.004 } };
        var back = System.Text.Json.JsonSerializer.Deserialize<CaloFlowConfig>(System.Text.Json.JsonSerializer.Serialize(config))!;
        Assert.Equal(1e-3, back.Preprocessing.Noise, 15);
        Assert.Throws<ArgumentException>(() => new CaloFlowConfig { Preprocessing = new CaloFlowPreprocessing { Threshold = 0.001, Noise = 0.002 } }.Validate());
    }

    [Fact]
    public void TinyCaloFlowTrainsDistilsAndTheStudentReproducesTheTeacher()
    {
        var showers = new ToyCalorimeter().Simulate(CaloParticle.Positron, 300, 2);
        var config = new CaloFlowConfig { Flow1Layers = 2, Flow1Hidden = 8, Flow1Bins = 4, Flow2Layers = 2, Flow2Hidden = 16, Flow2Bins = 0 };
        var model = CaloFlow.Create(config, showers, seed: 3);
        var (d1, d2) = model.TrainingData(showers, 3);
        var h1 = model.TrainFlow1(d1, new TrainingOptions { Epochs = 3, BatchSize = 64, Seed = 1 });
        var h2 = model.TrainTeacher(d2, new TrainingOptions { Epochs = 3, BatchSize = 64, LearningRate = 2e-3, Seed = 1 });
        Assert.True(h2.Epochs[^1].TrainLoss < h2.Epochs[0].TrainLoss, "the teacher's loss should fall");

        // the same z and contexts through teacher and student, before and after distillation
        var rng = new Rng(9);
        var z = rng.Normal<float>(100, CaloGeometry.Voxels);
        var c = d2.Context!.CopyRows(0, 100);
        double Mse()
        {
            using var _ = GradMode.Disable();
            var xt = model.Teacher.Transform.Inverse(z, c).X.Value.ToDoubleArray();
            var xs = model.Student!.Transform.Inverse(z, c).X.Value.ToDoubleArray();
            return xt.Zip(xs, (a, b) => (a - b) * (a - b)).Average();
        }
        // a fresh student (random MADE weights, not the teacher's) so that it starts far from the teacher
        model.Distill(d2, new DistillationOptions { Steps = 1, BatchSize = 8, LearningRate = 1e-9 }, copyTeacherWeights: false);
        double before = Mse();
        var loss = model.Distill(d2, new DistillationOptions { Steps = 120, BatchSize = 48, LearningRate = 3e-3, Seed = 4 });
        double after = Mse();
        output.WriteLine($"teacher vs student on the same z: MSE before {before:G4}, after {after:G4}; loss {loss}");
        Assert.True(after < 0.05 * before, $"distillation should shrink the teacher–student MSE: {before} → {after}");

        // generation: shapes, threshold, energies; and the saved model generates the same showers
        var energies = new[] { 5.0, 50.0, 90.0 };
        var gen = model.Generate(energies, CaloSampler.Student, seed: 7);
        Assert.Equal(3 * CaloGeometry.Voxels, gen.Voxels.Length);
        Assert.All(gen.Voxels, v => Assert.True(v == 0 || v >= config.Preprocessing.Threshold));
        // the naive MAF sampling (504 full MADE passes per layer) gives the teacher's showers
        var viaIncremental = model.Generate(energies, CaloSampler.Teacher, seed: 7).Voxels;
        var viaFullPasses = model.Generate(energies, CaloSampler.TeacherFullPasses, seed: 7).Voxels;
        Assert.True(viaIncremental.Zip(viaFullPasses, (a, b) => Math.Abs(a - b)).Max() < 1e-3, "full-pass and incremental teacher sampling should agree");
        Assert.Contains(viaIncremental, v => v > 0);
        var path = Path.Combine(Path.GetTempPath(), $"caloflow-{Guid.NewGuid():N}.nflow");
        try
        {
            model.Save(path);
            var loaded = CaloFlow.Load(path);
            Assert.NotNull(loaded.Student);
            Assert.Equal(gen.Voxels, loaded.Generate(energies, CaloSampler.Student, seed: 7).Voxels);
            Assert.Equal(model.Generate(energies, CaloSampler.Teacher, seed: 7).Voxels, loaded.Generate(energies, CaloSampler.Teacher, seed: 7).Voxels);
        }
        finally { File.Delete(path); }
    }
}
