using NormalizingFlows.Hep.Calorimeter;
using NormalizingFlows.Hep.Evaluation;
using Xunit.Abstractions;

namespace NormalizingFlows.Hep.Tests.Calorimeter;

public class CaloHighLevelFeaturesTests(ITestOutputHelper output)
{
    [Fact]
    public void ToyFeaturesOfAHandBuiltShower()
    {
        var voxels = new double[2 * CaloGeometry.Voxels];
        var l1 = CaloGeometry.Layers[1];
        voxels[l1.Offset + 5 * 12 + 5] = 2;   // x = −20 mm, y = −20 mm
        voxels[l1.Offset + 5 * 12 + 7] = 1;   // x = +60 mm, y = −20 mm
        voxels[l1.Offset + 0] = -0.5;         // negative: in the layer energy, not in centres and widths
        voxels[0 * 96 + 10] = 0.5;            // layer 0, row 0, column 10: x = (10.5 − 48)·5, y = (0.5 − 1.5)·160
        voxels[CaloGeometry.Voxels + 300] = 4; // second shower
        var f = CaloHighLevelFeatures.Compute(new CaloShowers(voxels, [10, 8]));
        Assert.Equal(2, f.Count);
        Assert.Equal(1 + 3 + 4 * 3, f.Names.Count);
        Assert.Equal(f.Names.Count, f.Columns.Count);
        double Feature(string name, int shower) => f.Columns[f.Names.ToList().IndexOf(name)][shower];
        Assert.Equal(3.0 / 10, Feature("E_dep/E_inc", 0), 14);
        Assert.Equal(0.5, Feature("E layer 0 (GeV)", 0));
        Assert.Equal(2.5, Feature("E layer 1 (GeV)", 0));
        Assert.Equal(0, Feature("E layer 2 (GeV)", 0));
        Assert.Equal(20.0 / 3, Feature("centre x layer 1 (mm)", 0), 12);
        Assert.Equal(-20, Feature("centre y layer 1 (mm)", 0), 12);
        Assert.Equal(Math.Sqrt(12800.0 / 9), Feature("width x layer 1 (mm)", 0), 12);
        Assert.Equal(0, Feature("width y layer 1 (mm)", 0), 12);
        Assert.Equal(-187.5, Feature("centre x layer 0 (mm)", 0), 12);
        Assert.Equal(-160, Feature("centre y layer 0 (mm)", 0), 12);
        Assert.Equal(0, Feature("centre x layer 2 (mm)", 0)); // an empty layer
        Assert.Equal(0.5, Feature("E_dep/E_inc", 1));
        // the toy observables use the same moments
        var obs = CaloObservables.Compute(new CaloShowers(voxels, [10, 8]));
        Assert.Equal(obs.CentroidX[1][0], Feature("centre x layer 1 (mm)", 0));
        Assert.Equal(obs.LateralWidth[1][0], Feature("width x layer 1 (mm)", 0));
        // classifier inputs: log₁₀ E_inc (MeV), log₁₀(E_layer/MeV + 1e-8), centres and widths / 100 mm
        var cls = f.ClassifierColumns();
        Assert.Equal(f.Names.Count, cls.Length);
        Assert.Equal(4, cls[0][0], 12);
        Assert.Equal(Math.Log10(2500 + 1e-8), cls[2][0], 12);
        Assert.Equal(-8, cls[3][0], 12);
        Assert.Equal(20.0 / 300, cls[f.Names.ToList().IndexOf("centre x layer 1 (mm)")][0], 12);
        Assert.Contains("E_inc = 0", Assert.Throws<ArgumentException>(() => CaloHighLevelFeatures.Compute(new CaloShowers(voxels, [10, 0]))).Message);
    }

    [Fact]
    public void ChallengeFeaturesUseThePolarVoxelCentres()
    {
        var ds = CaloChallengeDataset.Dataset1Photons;
        Assert.Equal(368, ds.Voxels);
        var layer1 = ds.Layers[1];
        Assert.Equal((1, 16, 10), (layer1.Id, layer1.RadialBins, layer1.AngularBins));
        var voxels = new double[ds.Voxels];
        voxels[layer1.Offset + 0 * 16 + 2] = 1; // α bin 0, r bin 2: r = 5 mm, α = −0.9π
        voxels[layer1.Offset + 5 * 16 + 2] = 3; // α bin 5: α = 0.1π
        voxels[ds.Layers[4].Offset + 1] = 2;    // layer 12, r bin 1 (no α binning: energy only)
        var f = CaloHighLevelFeatures.Compute(new CaloChallengeShowers(ds, voxels, [20]));
        // E_dep/E_inc, five layer energies, centres and widths of layers 1 and 2 (the ones binned in α)
        Assert.Equal(["E_dep/E_inc", "E layer 0 (GeV)", "E layer 1 (GeV)", "E layer 2 (GeV)", "E layer 3 (GeV)", "E layer 12 (GeV)",
            "centre x layer 1 (mm)", "centre x layer 2 (mm)", "centre y layer 1 (mm)", "centre y layer 2 (mm)",
            "width x layer 1 (mm)", "width x layer 2 (mm)", "width y layer 1 (mm)", "width y layer 2 (mm)"], f.Names);
        double x0 = 5 * Math.Cos(-0.9 * Math.PI), y0 = 5 * Math.Sin(-0.9 * Math.PI), x5 = 5 * Math.Cos(0.1 * Math.PI), y5 = 5 * Math.Sin(0.1 * Math.PI);
        double cx = (x0 + 3 * x5) / 4, cy = (y0 + 3 * y5) / 4;
        Assert.Equal(6.0 / 20, f.Columns[0][0], 14);
        Assert.Equal(4, f.Columns[2][0]);
        Assert.Equal(2, f.Columns[5][0]);
        Assert.Equal(cx, f.Columns[6][0], 12);
        Assert.Equal(cy, f.Columns[8][0], 12);
        Assert.Equal(Math.Sqrt((x0 * x0 + 3 * x5 * x5) / 4 - cx * cx), f.Columns[10][0], 12);
        Assert.Equal(Math.Sqrt((y0 * y0 + 3 * y5 * y5) / 4 - cy * cy), f.Columns[12][0], 12);
        // every known geometry carries its binning file's radial edges
        foreach (var d in CaloChallengeDataset.All)
            foreach (var l in d.Layers) Assert.Equal(l.RadialBins + 1, l.RadialEdges.Count);
        Assert.Equal(2000, CaloChallengeDataset.Dataset1Pions.Layers[6].RadialEdges[^1]);
    }

    [Fact]
    public void ALayersRadialBinsAreItsEdgesAndBadEdgesNameTheLayer()
    {
        var layer = new CaloChallengeLayer(12, [0, 100, 200, 400], 10, 40);
        Assert.Equal((3, 30), (layer.RadialBins, layer.Voxels));
        var edges = new double[] { 0, 5, 10 };
        var copy = new CaloChallengeLayer(1, edges, 2, 0);
        edges[2] = 1; // the layer keeps its own copy
        Assert.Equal(10, copy.RadialEdges[2]);
        Assert.Contains("layer 7: radial edges must be finite and increasing, but edge 1 is 5 and edge 2 is 5",
            Assert.Throws<ArgumentException>(() => new CaloChallengeLayer(7, [0, 5, 5], 1, 0)).Message);
        Assert.Contains("layer 3: 1 radial edge(s)", Assert.Throws<ArgumentException>(() => new CaloChallengeLayer(3, [0], 1, 0)).Message);
        Assert.Contains("layer 4", Assert.Throws<ArgumentOutOfRangeException>(() => new CaloChallengeLayer(4, [0, 1], 0, 0)).Message);
    }

    [Fact]
    public void MetricsSeparateOneParticleFromAnother()
    {
        var sim = new ToyCalorimeter();
        var reference = CaloHighLevelFeatures.Compute(sim.Simulate(CaloParticle.Photon, 600, 1));
        var same = CaloHighLevelFeatures.Compute(sim.Simulate(CaloParticle.Photon, 600, 2));
        var other = CaloHighLevelFeatures.Compute(sim.Simulate(CaloParticle.PiPlus, 600, 2));
        var options = new PhysicsDistanceOptions { KpdBatchSize = 600 };
        var m = CaloEvaluation.Metrics("photons", reference, same, options, bins: 20);
        var p = CaloEvaluation.Metrics("pions", reference, other, options, bins: 20);
        foreach (var row in CaloEvaluation.MetricsRows([m, p])) output.WriteLine(string.Join(" | ", row));
        Assert.Equal(reference.Names, m.SeparationPowers.Select(s => s.Feature));
        Assert.All(reference.SeparationPowers(reference, 20), s => Assert.Equal(0, s.SeparationPower));
        Assert.True(p.Fpd.Value > 10 * m.Fpd.Value && p.Fpd.Value > 5 * p.Fpd.Error, $"FPD photons {m.Fpd.Describe()}, pions {p.Fpd.Describe()}");
        Assert.True(p.Kpd.Value > 10 * Math.Max(m.Kpd.Value, m.Kpd.Error), $"KPD photons {m.Kpd.Describe()}, pions {p.Kpd.Describe()}");
        double Sep(CaloMetrics x, string name) => x.SeparationPowers.Single(s => s.Feature == name).SeparationPower;
        Assert.True(Sep(p, "E layer 0 (GeV)") > 3 * Sep(m, "E layer 0 (GeV)"));
        Assert.Contains("FPD (high-level features)", CaloEvaluation.MetricsRows([m]).First()[0]);
        string html = CaloEvaluation.MetricsSection(new NormalizingFlows.Hep.Reports.HtmlReport("metrics"), [m, p]).Render();
        Assert.Contains("CaloChallenge metrics", html);
        Assert.Contains("separation power: width y layer 2 (mm)", html);
        Assert.Contains(p.Fpd.Value.ToString("G3", System.Globalization.CultureInfo.InvariantCulture), html);
    }
}
