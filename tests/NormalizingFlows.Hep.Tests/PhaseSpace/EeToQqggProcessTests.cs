using NormalizingFlows.Hep.Integration;
using NormalizingFlows.Hep.PhaseSpace;
using NormalizingFlows.Tensors;

namespace NormalizingFlows.Hep.Tests.PhaseSpace;

/// <summary>The four-body channels, the e⁺e⁻ → q q̄ g g process on them and on RAMBO, its events and its multichannel integrand.</summary>
public class EeToQqggProcessTests
{
    const double SqrtS = 91.2, YCut = 0.05;
    static readonly double S = SqrtS * SqrtS;

    static bool PassesCuts(ReadOnlySpan<FourVector> p)
    {
        for (int i = 0; i < 4; i++)
            for (int j = i + 1; j < 4; j++)
                if (!(2 * FourVector.Dot(p[i], p[j]) > YCut * S)) return false;
        return true;
    }

    /// <summary>A smooth test function of the invariants, on the cut region.</summary>
    static double TestFunction(ReadOnlySpan<FourVector> p) =>
        PassesCuts(p) ? 4 * FourVector.Dot(p[0], p[2]) * FourVector.Dot(p[1], p[3]) / (S * S) + FourVector.Dot(p[2], p[3]) / S : 0;

    /// <summary>Mean and standard error of f(p(u)) w(u) over n uniform points of a map.</summary>
    static (double Mean, double Error) Integrate(Func<double[], FourVector[], double> weightedValue, int dimensions, int n, ulong seed)
    {
        var rng = new Rng(seed);
        var u = new double[dimensions];
        var p = new FourVector[4];
        double sum = 0, sq = 0;
        for (int i = 0; i < n; i++)
        {
            for (int j = 0; j < dimensions; j++) u[j] = rng.NextDouble();
            double v = weightedValue(u, p);
            sum += v; sq += v * v;
        }
        double mean = sum / n;
        return (mean, Math.Sqrt(Math.Max(0, sq / n - mean * mean) / (n - 1)));
    }

    static void AssertAgree((double Mean, double Error) a, (double Mean, double Error) b, string what)
    {
        double sigma = Math.Sqrt(a.Error * a.Error + b.Error * b.Error);
        Assert.True(Math.Abs(a.Mean - b.Mean) < 4 * sigma, $"{what}: {a.Mean} ± {a.Error} against {b.Mean} ± {b.Error}");
    }

    [Fact]
    public void EveryChannelAndTheMultichannelMapIntegrateLikeRambo()
    {
        var mapping = FourBodyMultichannelMapping.ForQqgg(SqrtS, YCut);
        var rambo = new RamboMapping(4, SqrtS);
        var reference = Integrate((u, p) => rambo.Map(u, p) * TestFunction(p), 16, 400_000, 1);
        Assert.True(reference.Error < 0.02 * reference.Mean);
        AssertAgree(Integrate((u, p) => mapping.Map(u, p) is var w && w > 0 ? w * TestFunction(p) : 0, 9, 100_000, 2), reference, "multichannel");
        for (int k = 0; k < mapping.Channels; k++)
        {
            int channel = k;
            AssertAgree(Integrate((u, p) => mapping.MapChannel(channel, u, p) is var w && w > 0 ? w * TestFunction(p) : 0, 8, 50_000, 3 + (ulong)k),
                        reference, $"channel {mapping.ChannelTopologies[k]}");
        }
    }

    [Fact]
    public void ChannelMapsConserveMomentumAndTheirDensitiesAreTheInverseWeights()
    {
        var mapping = FourBodyMultichannelMapping.ForQqgg(SqrtS, YCut);
        var rng = new Rng(7);
        var u = new double[8];
        var p = new FourVector[4];
        var g = new double[mapping.Channels];
        for (int k = 0; k < mapping.Channels; k++)
            for (int t = 0; t < 50; t++)
            {
                for (int j = 0; j < 8; j++) u[j] = rng.NextDouble();
                double w = mapping.MapChannel(k, u, p);
                Assert.True(w > 0);
                var sum = p[0] + p[1] + p[2] + p[3];
                Assert.Equal(SqrtS, sum.E, 1e-10);
                Assert.True(Math.Abs(sum.Px) + Math.Abs(sum.Py) + Math.Abs(sum.Pz) < 1e-10);
                foreach (var q in p) Assert.True(Math.Abs(q.M2) < 1e-9 * S);
                mapping.ChannelDensities(p, g);
                Assert.Equal(1, g[k] * w, 1e-9);
                Assert.Equal(1 / g.Select((gk, c) => mapping.ChannelWeights[c] * gk).Sum(), mapping.Weight(p), 1e-9 * mapping.Weight(p));
            }
        Assert.Throws<ArgumentOutOfRangeException>(() => mapping.MapChannel(8, u, p));
        Assert.Throws<ArgumentOutOfRangeException>(() => FourBodyMultichannelMapping.ForQqgg(SqrtS, 0.2));
        Assert.Throws<ArgumentException>(() => new FourBodyMultichannelMapping(SqrtS, YCut, [new FourBodyChannel(0, 1, 1, 2)]));
    }

    [Fact]
    public void CrossSectionOnTheChannelsAgreesWithRamboAndTheMultichannelIntegrand()
    {
        var options = new PhysicsProcessOptions { YCut = YCut };
        var angles = (EeToQqggProcess)PhysicsProcesses.Create("ee-qqgg", options);
        var rambo = (EeToQqggProcess)PhysicsProcesses.Create("ee-qqgg-rambo", options);
        Assert.Equal(9, angles.Dimensions);
        Assert.Equal(16, rambo.Dimensions);
        Assert.Null(angles.AnalyticValue);
        var onChannels = PlainMc.Integrate(angles, 20_000, 11);
        var onRambo = PlainMc.Integrate(rambo, 40_000, 12);
        AssertAgree((onChannels.Mean, onChannels.Error), (onRambo.Mean, onRambo.Error), "σ(ee → qq̄gg), channels against RAMBO");
        Assert.True(onChannels.Error < 0.02 * onChannels.Mean, $"the channels flatten the matrix element: {onChannels.Error / onChannels.Mean:P1}");

        // the multichannel integrand: priors a partition of unity; Σ_k ∫ α_k F_k = σ
        var channels = new PhaseSpaceChannels(angles);
        Assert.Equal((8, 8, 6), (channels.Channels, channels.Dimensions, channels.Features));
        var integrator = new MultichannelFlowIntegrator(channels, new MultichannelOptions { LearnChannelWeights = false, Stratified = false }, seed: 13);
        var r = integrator.Integrate(16_000, 2);
        AssertAgree((r.Estimate, r.Error), (onChannels.Mean, onChannels.Error), "Σ_k ∫ α_k F_k");
        var values = new double[4];
        var priors = new double[32];
        var features = new double[24];
        channels.Evaluate(3, Enumerable.Repeat(0.37, 32).ToArray(), values, priors, features);
        for (int i = 0; i < 4; i++) Assert.Equal(1, priors.Skip(8 * i).Take(8).Sum(), 1e-12);
        Assert.Throws<ArgumentException>(() => new PhaseSpaceChannels(rambo));
        Assert.Throws<ArgumentException>(() => PhysicsProcesses.Create("ee-qqgg", new PhysicsProcessOptions { YCut = 0.2 }));
    }

    [Fact]
    public void EventsCarryTheFlavourAndAConsistentColourFlow()
    {
        var process = new EeToQqggProcess(yCut: YCut);
        var rng = new Rng(19);
        var x = new double[9];
        int events = 0, gluonNextToQuark = 0;
        for (int t = 0; t < 400 && events < 100; t++)
        {
            for (int j = 0; j < 9; j++) x[j] = rng.NextDouble();
            var e = process.CreateEvent(x, 1.0, rng);
            if (e is null) continue;
            events++;
            var final = e.Particles.Skip(2).ToArray();
            Assert.Equal(4, final.Length);
            Assert.Equal(-final[0].Id, final[1].Id);
            Assert.InRange(final[0].Id, 1, 5);
            Assert.Equal(21, final[2].Id);
            Assert.Equal(21, final[3].Id);
            // every colour line starts once and ends once
            var colours = final.Select(p => p.Colour).Where(c => c > 0).OrderBy(c => c);
            var anticolours = final.Select(p => p.AntiColour).Where(c => c > 0).OrderBy(c => c);
            Assert.Equal(colours, anticolours);
            if (final[2].AntiColour == final[0].Colour) gluonNextToQuark++;
            Assert.True(e.Scale > 0 && e.Scale < SqrtS);
        }
        Assert.True(events >= 50);
        // both colour orders occur (the gluons are symmetric on average)
        Assert.InRange(gluonNextToQuark, events / 5, 4 * events / 5);
    }
}
