using NormalizingFlows.Hep.Inference;
using NormalizingFlows.Tensors;
using NormalizingFlows.Training;
using Xunit.Abstractions;

namespace NormalizingFlows.Hep.Tests.Inference;

public class WlnuTests(ITestOutputHelper output)
{
    [Fact]
    public void GeneratorProducesWDecaysInsideTheAcceptance()
    {
        var sim = new WlnuSimulator(missingPtSigma: 0);
        var (theta, x) = sim.Sample(20_000, new Rng(1));
        var masses = new double[20_000];
        int exact = 0;
        for (int e = 0; e < masses.Length; e++)
        {
            double lpx = x[6 * e], lpy = x[6 * e + 1], lpz = x[6 * e + 2], le = x[6 * e + 3];
            double ptl = Math.Sqrt(lpx * lpx + lpy * lpy);
            Assert.True(ptl > 25 && Math.Abs(Math.Asinh(lpz / ptl)) < 2.5, $"event {e} fails the cuts");
            Assert.Equal(ptl, Math.Sqrt(le * le - lpz * lpz), 6); // massless lepton
            Assert.Equal(theta[3 * e], x[6 * e + 4]); // no smearing: missing pT = neutrino pT
            double npz = WlnuSimulator.NeutrinoPz(theta[3 * e], theta[3 * e + 1], theta[3 * e + 2]);
            double ne = Math.Sqrt(theta[3 * e] * theta[3 * e] + theta[3 * e + 1] * theta[3 * e + 1] + npz * npz);
            double m2 = 2 * (le * ne - lpx * theta[3 * e] - lpy * theta[3 * e + 1] - lpz * npz);
            masses[e] = Math.Sqrt(m2);
            // with the event's own mass and the true neutrino pT, one root of the constraint is the true pz
            var q = NeutrinoSolver.SolvePz(lpx, lpy, lpz, le, theta[3 * e], theta[3 * e + 1], masses[e]);
            if (Math.Min(Math.Abs(q.Small - npz), Math.Abs(q.Large - npz)) < 1e-4 * (1 + Math.Abs(npz))) exact++;
        }
        Array.Sort(masses);
        double median = masses[masses.Length / 2], q25 = masses[masses.Length / 4], q75 = masses[3 * masses.Length / 4];
        output.WriteLine($"m(ℓν): median {median:F2}, quartiles {q25:F2} {q75:F2}; acceptance {sim.LastAcceptance:F3}; exact root found in {exact} of {masses.Length}");
        Assert.InRange(median, WlnuSimulator.WMass - 0.3, WlnuSimulator.WMass + 0.3);
        Assert.InRange(q75 - q25, 0.8 * WlnuSimulator.WWidth, 1.2 * WlnuSimulator.WWidth); // Cauchy: interquartile range = Γ
        Assert.InRange(sim.LastAcceptance, 0.3, 0.8);
        Assert.True(exact >= masses.Length - 20, $"the quadratic recovers the true pz in only {exact} of {masses.Length} events");
    }

    [Fact]
    public void SmearedMissingPtLeavesSomeEventsWithoutRealRoots()
    {
        var (_, x) = new WlnuSimulator().Sample(5000, new Rng(2));
        int none = 0;
        for (int e = 0; e < 5000; e++)
            if (!NeutrinoSolver.SolvePz(x[6 * e], x[6 * e + 1], x[6 * e + 2], x[6 * e + 3], x[6 * e + 4], x[6 * e + 5]).HasRealRoots) none++;
        output.WriteLine($"no real root: {none / 50.0:F1} %");
        Assert.InRange(none / 5000.0, 0.05, 0.6);
    }

    [Fact]
    public void SmallFlowIsCalibratedWithAndWithoutRealRoots()
    {
        var sim = new WlnuSimulator();
        var model = PosteriorEstimator<float>.Create(sim.ParameterNames, sim.ObservationNames, "nsf", layers: 3, hidden: 32, bins: 8, bound: 4, seed: 1);
        model.Fit(sim, 20_000, new Rng(3), new TrainingOptions { Epochs = 4, BatchSize = 256, LearningRate = 3e-3, Seed = 1, ReportEverySteps = int.MaxValue });
        var r = NeutrinoStudy.Run(model, sim, events: 2000, samplesPerEvent: 100, new Rng(4));
        foreach (var row in r.Rows) output.WriteLine($"{row.Method,-42} {row.Category,-13} n={row.Events,5} σ68 {row.Sigma68,7:F1} rms {row.Rms,7:F1} bias {row.MedianBias,6:F1} cov68 {row.Coverage68:F3}");
        output.WriteLine($"no real root {r.NoRealRootFraction:P1}; {r.PosteriorsPerSecond:F0} posteriors/s");
        Assert.Equal(9, r.Rows.Length);
        Assert.Equal(6, r.Examples.Length);
        var flowAll = r.Rows.Single(x => x.Method.StartsWith("flow") && x.Category == "all");
        var quadNone = r.Rows.Single(x => x.Method.StartsWith("quadratic, smaller") && x.Category == "no real root");
        var flowNone = r.Rows.Single(x => x.Method.StartsWith("flow") && x.Category == "no real root");
        // even a briefly trained flow's 68 % posterior intervals are roughly calibrated, on every class of events
        Assert.InRange(flowAll.Coverage68, 0.55, 0.8);
        Assert.InRange(flowNone.Coverage68, 0.5, 0.85);
        Assert.True(quadNone.Events > 0 && flowNone.Events == quadNone.Events);
    }
}
