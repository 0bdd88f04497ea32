using NormalizingFlows.Hep.Calorimeter;

namespace NormalizingFlows.Hep.Tests.Calorimeter;

public class ToyCalorimeterPhysicsTests
{
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
