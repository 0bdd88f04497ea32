using NormalizingFlows.Hep.Calorimeter;
using NormalizingFlows.Hep.Evaluation;
using Xunit.Abstractions;

namespace NormalizingFlows.Hep.Tests.Calorimeter;

public class CaloEvaluationTests(ITestOutputHelper output)
{
    [Fact]
    public void EachClassifierInputHasItsDocumentedColumns()
    {
        var showers = new ToyCalorimeter().Simulate(CaloParticle.Positron, 40, 3);
        var log = CaloEvaluation.ClassifierColumns(showers, CaloClassifierInput.LogNormalised);
        Assert.Equal(CaloGeometry.Voxels + 1, log.Length);
        for (int i = 0; i < showers.Count; i++)
        {
            double einc = showers.IncidentEnergies[i];
            var s = showers.Shower(i);
            foreach (int v in new[] { 0, 100, 287, 288, 503 })
                Assert.Equal(Math.Log10(s[v] / einc + 1e-8), log[v][i], 12);
            Assert.Equal(Math.Log10(einc), log[CaloGeometry.Voxels][i], 12);
        }
        var raw = CaloEvaluation.ClassifierColumns(showers, CaloClassifierInput.Raw);
        Assert.Equal(raw, CaloEvaluation.ClassifierColumns(showers, normalised: false));
        Assert.Equal(CaloGeometry.Voxels + 4, CaloEvaluation.ClassifierColumns(showers, CaloClassifierInput.LayerNormalised).Length);
        var high = CaloEvaluation.ClassifierColumns(showers, CaloClassifierInput.HighLevel);
        Assert.Equal(22, high.Length);
        var obs = CaloObservables.Compute(showers);
        Assert.Equal(obs.TotalEnergy[5] / obs.IncidentEnergy[5], high[1][5], 12);
        Assert.Equal(obs.Sparsity[2], high[2 + 3 + 3 + 2]);

        // a negative voxel cannot be logged: the error names the shower and voxel
        var bad = (double[])showers.Voxels.Clone();
        bad[7 * CaloGeometry.Voxels + 12] = -0.001;
        var ex = Assert.Throws<ArgumentException>(() => CaloEvaluation.ClassifierColumns(new CaloShowers(bad, showers.IncidentEnergies), CaloClassifierInput.LogNormalised));
        Assert.Contains("shower 7, voxel 12", ex.Message);
    }

    [Fact]
    public void CompareJudgesEveryInputWithBothClassifiers()
    {
        var sim = new ToyCalorimeter();
        var reference = sim.Simulate(CaloParticle.Positron, 600, 1);
        var same = sim.Simulate(CaloParticle.Positron, 600, 2);
        var v = (double[])same.Voxels.Clone();
        for (int k = 0; k < v.Length; k++) v[k] *= 1.15; // a 15 % energy-scale error
        var scaled = new CaloShowers(v, same.IncidentEnergies);
        var mlp = CaloEvaluation.DefaultClassifier with { Epochs = 5, Seed = 3 };
        var comparisons = CaloEvaluation.Compare(reference, [new CaloCandidate("same physics", same, double.NaN), new CaloCandidate("scale 1.15", scaled, 1e-3)], mlp);
        foreach (var row in CaloEvaluation.TableRows(comparisons, 2e-3)) output.WriteLine(string.Join(" | ", row));
        Assert.Equal(1 + 2 * 4, CaloEvaluation.TableRows(comparisons, 2e-3).Count());
        foreach (var c in comparisons)
        {
            Assert.Equal(CaloEvaluation.AllInputs, c.Tests.Keys.OrderBy(k => k));
            foreach (var (input, verdict) in c.Tests)
            {
                Assert.Equal(verdict.Mlp.FoldA, verdict.Trees.FoldA); // both judges on the same folds
                Assert.Equal(Math.Max(verdict.Mlp.Auc, verdict.Trees.Auc), verdict.Auc);
                Assert.Equal(verdict.Trees.Auc, c.Auc(input, "GBDT"));
            }
        }
        var ok = comparisons[0];
        foreach (var input in CaloEvaluation.AllInputs)
            Assert.InRange(ok[input].Trees.Auc, 0.5 - 4 * ok[input].Trees.AucError - 0.01, 0.5 + 4 * ok[input].Trees.AucError + 0.01);
        var off = comparisons[1];
        Assert.True(off[CaloClassifierInput.HighLevel].Auc > 0.8, $"high-level AUC {off[CaloClassifierInput.HighLevel].Auc}");
        Assert.True(off.Worst.Auc > 0.8);
        Assert.Same(ok[CaloClassifierInput.Raw].Mlp, ok.Unnormalised);
        Assert.Throws<ArgumentException>(() => ok.Auc(CaloClassifierInput.Raw, "BDT"));
    }

    [Fact]
    public void MetricsOfAModelAndOfTwoShowerFilesRunTheSameClassifierTests()
    {
        // `nflow calo eval` with a model (Compare, then Metrics of the comparisons) and with two shower files (Metrics of
        // features and voxel columns): the "classifier AUC, high-level/low-level" rows must be one test each
        var reference = new ToyCalorimeter().Simulate(CaloParticle.Positron, 150, 1);
        var noisier = new ToyCalorimeter(new ToyCalorimeterOptions { NoiseSigma = 3 * new ToyCalorimeterOptions().NoiseSigma }).Simulate(CaloParticle.Positron, 150, 2);
        var mlp = CaloEvaluation.DefaultClassifier with { HiddenSizes = [16], Epochs = 3, Seed = 3 };
        var candidate = new CaloCandidate("noisier", noisier, 1e-3);
        var comparison = CaloEvaluation.Compare(reference, [candidate], mlp, inputs: [CaloClassifierInput.LogNormalised, CaloClassifierInput.HighLevel]);
        var model = CaloEvaluation.Metrics(reference, [candidate], comparison, mlp).Single();
        var files = CaloEvaluation.Metrics("noisier", CaloHighLevelFeatures.Compute(reference), CaloHighLevelFeatures.Compute(noisier),
            CaloEvaluation.LowLevelColumns(reference.Voxels, reference.IncidentEnergies, CaloGeometry.Voxels),
            CaloEvaluation.LowLevelColumns(noisier.Voxels, noisier.IncidentEnergies, CaloGeometry.Voxels), mlp);
        foreach (var (a, b) in new[] { (model.HighLevel!, files.HighLevel!), (model.LowLevel!, files.LowLevel!) })
        {
            Assert.Equal(a.Mlp.Auc, b.Mlp.Auc);
            Assert.Equal(a.Trees.Auc, b.Trees.Auc);
        }
        Assert.Same(comparison[0][CaloClassifierInput.LogNormalised], model.LowLevel);
        // the high-level row is the challenge's input, not the 22 observables of the classifier table
        Assert.NotEqual(comparison[0][CaloClassifierInput.HighLevel].Mlp.Auc, model.HighLevel!.Mlp.Auc);
        Assert.Equal(CaloEvaluation.HighLevelTest(CaloHighLevelFeatures.Compute(reference), CaloHighLevelFeatures.Compute(noisier), mlp).Mlp.Auc, model.HighLevel.Mlp.Auc);
        Assert.Equal(files.Fpd.Value, model.Fpd.Value);
    }
}
