using NormalizingFlows.Hep.Calorimeter;
using NormalizingFlows.Hep.Evaluation;
using NormalizingFlows.Tensors;
using Xunit.Abstractions;

namespace NormalizingFlows.Hep.Tests.Calorimeter;

public class ToyCalorimeterPhysicsTests(ITestOutputHelper output)
{
    private static double Mean(double[] v) => v.Average();
    private static double Std(double[] v) { double m = v.Average(); return Math.Sqrt(v.Average(x => (x - m) * (x - m))); }

    [Theory]
    [InlineData(10.0)]
    [InlineData(50.0)]
    public void SamplingResolutionIsAOverRootE(double energy)
    {
        // e⁺ at a fixed energy: deposited + leaked energy fluctuates by the sampling term a/√E (noise adds ≪ 1 %)
        var opt = new ToyCalorimeterOptions();
        var s = new ToyCalorimeter(opt).Simulate(CaloParticle.Positron, Enumerable.Repeat(energy, 2000).ToArray(), 5);
        var seen = Enumerable.Range(0, s.Count).Select(i => (s.TotalEnergy(i) + s.Leakage![i]) / energy).ToArray();
        double expected = opt.StochasticTerm / Math.Sqrt(energy);
        output.WriteLine($"{energy} GeV: (E_vis + leakage)/E = {Mean(seen):F4}, σ/E = {Std(seen):F4}, a/√E = {expected:F4}");
        Assert.InRange(Mean(seen), 0.99, 1.005); // unbiased up to the energy lost below the readout threshold
        Assert.InRange(Std(seen), 0.92 * expected, 1.08 * expected); // statistical error of σ from 2 000 showers: 1.6 %
        // without sampling fluctuations, only noise and threshold remain: far below a/√E
        var flat = new ToyCalorimeter(opt with { SamplingFluctuations = false }).Simulate(CaloParticle.Positron, Enumerable.Repeat(energy, 500).ToArray(), 5);
        var seenFlat = Enumerable.Range(0, flat.Count).Select(i => (flat.TotalEnergy(i) + flat.Leakage![i]) / energy).ToArray();
        Assert.True(Std(seenFlat) < 0.3 * expected, $"σ/E without sampling fluctuations {Std(seenFlat)}");
    }

    [Fact]
    public void ResponsesLayerFractionsAndHitMultiplicitiesAreThoseOfTheDocs()
    {
        // the figures docs/calorimeter.md states (1 500 showers, default options)
        var sim = new ToyCalorimeter();
        var cases = new (CaloParticle Particle, double Response, double Spread, double[] Fractions, double[] Hits)[]
        {
            (CaloParticle.Positron, 0.966, 0.034, [0.029, 0.945, 0.025], [10.2, 42.0, 14.7]),
            (CaloParticle.Photon, 0.947, 0.054, [0.011, 0.950, 0.039], [4.8, 38.6, 16.4]),
            (CaloParticle.PiPlus, 0.23, 0.26, [0.072, 0.738, 0.191], [2.3, 20.2, 10.5]),
        };
        foreach (var (particle, response, spread, fractions, hits) in cases)
        {
            var o = CaloObservables.Compute(sim.Simulate(particle, 1500, 1));
            var ratio = o.TotalEnergy.Zip(o.IncidentEnergy, (t, e) => t / e).ToArray();
            output.WriteLine($"{particle}: E_tot/E_inc {Mean(ratio):F4} ± {Std(ratio):F4}; fractions {string.Join("/", o.LayerFraction.Select(f => Mean(f).ToString("F4")))}; "
                + $"hits {string.Join("/", Enumerable.Range(0, 3).Select(l => (Mean(o.Sparsity[l]) * CaloGeometry.Layers[l].Voxels).ToString("F2")))}");
            Assert.InRange(Mean(ratio), response - 0.01, response + 0.01);
            Assert.InRange(Std(ratio), 0.9 * spread, 1.1 * spread);
            for (int l = 0; l < 3; l++)
            {
                Assert.InRange(Mean(o.LayerFraction[l]), fractions[l] - 0.006, fractions[l] + 0.006);
                Assert.InRange(Mean(o.Sparsity[l]) * CaloGeometry.Layers[l].Voxels, 0.9 * hits[l], 1.1 * hits[l]);
            }
        }
    }

    /// <summary>
    /// Periodicity of a shower's voxel energies: per layer, the largest over q = v_min/k (k = 1…4, v_min the layer's
    /// smallest voxel) of Σ cos(2πv/q)/√n over the voxels with 1.5 ≤ v/q ≤ 40; summed over layers. Voxel energies on a
    /// per-shower lattice (multiples of one quantum plus small noise) give large values; continuous energies do not.
    /// </summary>
    private static double LatticeScore(ReadOnlySpan<double> shower)
    {
        double total = 0;
        Span<double> values = stackalloc double[288];
        foreach (var g in CaloGeometry.Layers)
        {
            int n = 0;
            foreach (double v in shower.Slice(g.Offset, g.Voxels)) if (v > 0) values[n++] = v;
            if (n < 3) continue;
            double min = double.MaxValue;
            for (int j = 0; j < n; j++) min = Math.Min(min, values[j]);
            double best = double.NaN;
            for (int k = 1; k <= 4; k++)
            {
                double q = min / k, sum = 0;
                int used = 0;
                for (int j = 0; j < n; j++)
                {
                    double x = values[j] / q;
                    if (x < 1.5 || x > 40) continue;
                    sum += Math.Cos(2 * Math.PI * x);
                    used++;
                }
                if (used >= 2 && !(sum / Math.Sqrt(used) <= best)) best = sum / Math.Sqrt(used);
            }
            if (!double.IsNaN(best)) total += best;
        }
        return total;
    }

    private static CaloShowers Smeared(CaloShowers s, double relative, long seed)
    {
        var rng = new Rng(seed);
        var v = (double[])s.Voxels.Clone();
        for (int k = 0; k < v.Length; k++) if (v[k] != 0) v[k] *= 1 + relative * rng.NextNormal();
        return new CaloShowers(v, s.IncidentEnergies);
    }

    private static RocCurve LatticeAuc(CaloShowers a, CaloShowers b) =>
        Roc.Compute(Enumerable.Range(0, a.Count).Select(i => LatticeScore(a.Shower(i))).ToArray(),
            Enumerable.Range(0, b.Count).Select(i => LatticeScore(b.Shower(i))).ToArray());

    /// <summary>Per layer, the <paramref name="top"/> largest voxel energies of each shower, in descending order (no positions).</summary>
    private static double[][] SortedVoxels(CaloShowers s, int top)
    {
        var cols = new double[3 * top][];
        for (int j = 0; j < cols.Length; j++) cols[j] = new double[s.Count];
        for (int i = 0; i < s.Count; i++)
            for (int l = 0; l < 3; l++)
            {
                var g = CaloGeometry.Layers[l];
                var v = s.Shower(i).Slice(g.Offset, g.Voxels).ToArray();
                Array.Sort(v);
                for (int j = 0; j < top; j++) cols[l * top + j][i] = v[^(j + 1)];
            }
        return cols;
    }

    [Fact]
    public void GradientBoostedTreesCannotTellShowersFromShowersSmearedByThreePercent()
    {
        // the strong judge on the per-layer sorted voxel energies (where the lattice showed most): with one energy
        // quantum per spot, as the simulator had it, 2 000 + 2 000 e⁺ showers gave AUC 0.79
        var sim = new ToyCalorimeter();
        var a = sim.Simulate(CaloParticle.Positron, 2000, 11);
        var b = Smeared(sim.Simulate(CaloParticle.Positron, 2000, 12), 0.03, 3);
        var r = ClassifierTwoSampleTest.RunTrees(SortedVoxels(a, 20), SortedVoxels(b, 20), new GradientBoostedTreesOptions { Trees = 100, Seed = 1 }, folds: 2, seed: 1);
        output.WriteLine($"GBDT, sorted voxels, simulated vs smeared 3 %: AUC {r.Auc:F3} ± {r.AucError:F3}");
        Assert.InRange(r.Auc, 0.35, 0.65);
    }

    [Theory]
    [InlineData(CaloParticle.Positron)]
    [InlineData(CaloParticle.Photon)]
    public void VoxelEnergiesCarryNoPerShowerLattice(CaloParticle particle)
    {
        // simulated showers against other simulated showers smeared by 3 % per voxel: a lattice of voxel energies
        // (every spot of a layer carrying one quantum, as the simulator had it) makes them separable (AUC ≈ 0.76 here)
        var sim = new ToyCalorimeter();
        var a = sim.Simulate(particle, 1000, 11);
        var b = Smeared(sim.Simulate(particle, 1000, 12), 0.03, 3);
        var roc = LatticeAuc(a, b);
        output.WriteLine($"{particle}: lattice statistic, simulated vs smeared 3 %: AUC {roc.Auc:F3} ± {roc.AucError:F3}");
        Assert.InRange(roc.Auc, 0.35, 0.65);
        // the statistic sees a lattice when there is one: the same showers rounded to multiples of 10 MeV plus 0.5 MeV noise
        var rng = new Rng(4);
        var lattice = (double[])a.Voxels.Clone();
        for (int k = 0; k < lattice.Length; k++)
            if (lattice[k] != 0) lattice[k] = Math.Max(0.01, 0.01 * Math.Round(lattice[k] / 0.01)) + 0.0005 * rng.NextNormal();
        var withLattice = new CaloShowers(lattice, a.IncidentEnergies);
        var control = LatticeAuc(withLattice, Smeared(withLattice, 0.03, 5));
        output.WriteLine($"{particle}: the same with a 10 MeV lattice: AUC {control.Auc:F3} ± {control.AucError:F3}");
        Assert.True(control.Auc > 0.6, $"control AUC {control.Auc}");
    }

    [Fact]
    public void EnergyIsConservedUpToLeakageAndInvisibleEnergy()
    {
        var sim = new ToyCalorimeter(new ToyCalorimeterOptions { SamplingFluctuations = false, NoiseSigma = 0, Threshold = 0 });
        foreach (var particle in Enum.GetValues<CaloParticle>())
        {
            var s = sim.Simulate(particle, 200, 3);
            for (int i = 0; i < s.Count; i++)
            {
                double balance = s.TotalEnergy(i) + s.Leakage![i] + s.Invisible![i];
                Assert.Equal(s.IncidentEnergies[i], balance, 1e-9 * s.IncidentEnergies[i]);
                Assert.True(s.Leakage[i] >= 0 && s.Invisible[i] >= 0);
                if (particle != CaloParticle.PiPlus) Assert.Equal(0.0, s.Invisible[i]);
            }
        }
    }

    [Fact]
    public void SamplingNoiseAndThresholdKeepTheResponseCloseToOneAndSparse()
    {
        var opt = new ToyCalorimeterOptions();
        var s = new ToyCalorimeter(opt).Simulate(CaloParticle.Positron, 800, 4);
        double ratio = 0, leak = 0;
        for (int i = 0; i < s.Count; i++) { ratio += s.TotalEnergy(i) / s.IncidentEnergies[i]; leak += s.Leakage![i] / s.IncidentEnergies[i]; }
        ratio /= s.Count; leak /= s.Count;
        // the mean visible fraction is 1 − leakage within the sampling/noise/threshold effects (a few per cent)
        Assert.InRange(ratio, 1 - leak - 0.03, 1 - leak + 0.01);
        int nonZero = s.Voxels.Count(v => v != 0);
        Assert.All(s.Voxels.Where(v => v != 0), v => Assert.True(v >= opt.Threshold));
        Assert.InRange(nonZero / (double)s.Voxels.Length, 0.02, 0.5);
    }

    [Fact]
    public void ShowersAreDeterministicForASeed()
    {
        var sim = new ToyCalorimeter();
        var a = sim.Simulate(CaloParticle.PiPlus, 300, 9);
        var b = sim.Simulate(CaloParticle.PiPlus, 300, 9);
        var c = sim.Simulate(CaloParticle.PiPlus, 300, 10);
        Assert.Equal(a.Voxels, b.Voxels);
        Assert.Equal(a.IncidentEnergies, b.IncidentEnergies);
        Assert.NotEqual(a.Voxels, c.Voxels);
        Assert.All(a.IncidentEnergies, e => Assert.InRange(e, 1, 100));
    }

    [Fact]
    public void ParticlesDifferAsInTheCaloGanData()
    {
        var sim = new ToyCalorimeter();
        var e = CaloObservables.Compute(sim.Simulate(CaloParticle.Positron, 1500, 1));
        var g = CaloObservables.Compute(sim.Simulate(CaloParticle.Photon, 1500, 1));
        var p = CaloObservables.Compute(sim.Simulate(CaloParticle.PiPlus, 1500, 1));
        static double Mean(double[] v) => v.Average();
        static double Std(double[] v) { double m = v.Average(); return Math.Sqrt(v.Average(x => (x - m) * (x - m))); }
        // photons start later: less energy in layer 0, deeper showers
        Assert.True(Mean(g.LayerFraction[0]) < 0.8 * Mean(e.LayerFraction[0]), $"γ layer-0 fraction {Mean(g.LayerFraction[0])} vs e⁺ {Mean(e.LayerFraction[0])}");
        Assert.True(Mean(g.Depth) > Mean(e.Depth));
        // pions: much less visible energy, far larger event-by-event fluctuations, wider and deeper
        var ratioE = e.TotalEnergy.Zip(e.IncidentEnergy, (t, i) => t / i).ToArray();
        var ratioP = p.TotalEnergy.Zip(p.IncidentEnergy, (t, i) => t / i).ToArray();
        Assert.True(Mean(ratioP) < 0.6 * Mean(ratioE));
        Assert.True(Std(ratioP) > 3 * Std(ratioE));
        Assert.True(Mean(p.LayerFraction[2]) > 2 * Mean(e.LayerFraction[2]));
        // pions that interacted (visible energy above 20 % of E_inc) are wider than electromagnetic showers
        var wide = Enumerable.Range(0, p.Count).Where(i => ratioP[i] > 0.2).Select(i => p.LateralWidth[1][i]).ToArray();
        Assert.True(wide.Length > 100);
        Assert.True(Mean(wide) > 1.5 * Mean(e.LateralWidth[1]), $"π⁺ width {Mean(wide)} vs e⁺ {Mean(e.LateralWidth[1])}");
    }
}
