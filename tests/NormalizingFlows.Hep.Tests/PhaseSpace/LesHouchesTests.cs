using System.Xml.Linq;
using NormalizingFlows.Data;
using NormalizingFlows.Hep.PhaseSpace;
using NormalizingFlows.Tensors;
using Xunit.Abstractions;

namespace NormalizingFlows.Hep.Tests.PhaseSpace;

public sealed class LesHouchesTests(ITestOutputHelper output) : IDisposable
{
    readonly string _dir = Directory.CreateTempSubdirectory("nflow-lhe-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>Hit-or-miss unweighting of uniform points with a maximum from a pilot run (times a safety factor).</summary>
    static double[] Unweight(IPhaseSpaceProcess process, int trials, Rng rng, out double sigma, out double error)
    {
        var r = PlainMc.Integrate(process, trials, rng.NextUInt64());
        sigma = r.Mean;
        error = r.Error;
        double max = r.Values.Max();
        int d = process.Dimensions;
        var kept = new List<double>();
        for (int i = 0; i < trials; i++)
            if (r.Values[i] > rng.NextDouble() * max) kept.AddRange(r.Points.AsSpan(i * d, d));
        return kept.ToArray();
    }

    static void AssertPhysical(LesHouchesEvent e, double sqrtS)
    {
        FourVector incoming = default, outgoing = default;
        foreach (var p in e.Particles)
        {
            if (p.Status == -1) incoming += p.Momentum;
            else if (p.Status == 1) outgoing += p.Momentum;
            Assert.True(Math.Abs(p.Momentum.M2) < 1e-7 * sqrtS * sqrtS, $"particle {p.Id} off shell: M² = {p.Momentum.M2}");
        }
        Assert.Equal(sqrtS, incoming.E, 1e-9 * sqrtS);
        var d = incoming - outgoing;
        Assert.True(Math.Abs(d.E) + Math.Abs(d.Px) + Math.Abs(d.Py) + Math.Abs(d.Pz) < 1e-8 * sqrtS, $"momentum not conserved: {d}");
        // Colour lines: every tag among the outgoing partons appears once as a colour and once as an anticolour.
        var colours = e.Particles.Where(p => p.Status == 1 && p.Colour != 0).Select(p => p.Colour).OrderBy(c => c).ToArray();
        var anti = e.Particles.Where(p => p.Status == 1 && p.AntiColour != 0).Select(p => p.AntiColour).OrderBy(c => c).ToArray();
        Assert.Equal(colours, anti);
    }

    [Fact]
    public void QqgEventsRoundTripAndConserveMomentum()
    {
        var process = new EeToQqgProcess(91.2, 0.01);
        var rng = new Rng(99);
        const int trials = 60_000;
        double[] points = Unweight(process, trials, rng, out double sigma, out double error);
        string path = Path.Combine(_dir, "qqg.lhe");
        int written = LesHouchesWriter.WriteUnweighted(path, process, points, sigma, error, new Rng(5));
        Assert.Equal(points.Length / process.Dimensions, written);
        output.WriteLine($"{written} unweighted events from {trials} trials, sigma = {sigma:F1} ± {error:F1} pb, {new FileInfo(path).Length} bytes");
        Assert.True(written > 300);

        // Well-formed XML with the LHEF root, init and event elements.
        var xml = XDocument.Load(path);
        Assert.Equal("LesHouchesEvents", xml.Root!.Name.LocalName);
        Assert.Equal("3.0", xml.Root.Attribute("version")!.Value);
        Assert.Equal(written, xml.Root.Elements("event").Count());

        var file = LesHouchesReader.Read(path);
        Assert.Equal((11, -11), (file.Init.BeamA, file.Init.BeamB));
        Assert.Equal(45.6, file.Init.EnergyA, 1e-9);
        Assert.Equal(3, file.Init.WeightStrategy);
        Assert.Equal(sigma, file.Init.Processes[0].CrossSection, 1e-9 * sigma);
        Assert.Equal(error, file.Init.Processes[0].Error, 1e-9 * error);
        Assert.Equal(process.ProcessId, file.Init.Processes[0].ProcessId);
        Assert.Equal(written, file.Events.Count);

        // The same events again, to compare field by field (same rng seed → same flavours).
        var flavourRng = new Rng(5);
        int d = process.Dimensions, upType = 0;
        for (int i = 0; i < written; i++)
        {
            var expected = process.CreateEvent(points.AsSpan(i * d, d), sigma, flavourRng)!;
            var got = file.Events[i];
            Assert.Equal(expected.ProcessId, got.ProcessId);
            Assert.Equal(sigma, got.Weight, 1e-9 * sigma);
            Assert.Equal(expected.Scale, got.Scale, 1e-9 * expected.Scale);
            Assert.Equal(expected.AlphaQcd, got.AlphaQcd, 1e-12);
            Assert.Equal(5, got.Particles.Count);
            for (int j = 0; j < 5; j++)
            {
                var a = expected.Particles[j];
                var b = got.Particles[j];
                Assert.Equal((a.Id, a.Status, a.Mother1, a.Mother2, a.Colour, a.AntiColour), (b.Id, b.Status, b.Mother1, b.Mother2, b.Colour, b.AntiColour));
                Assert.Equal(a.Momentum.E, b.Momentum.E, 1e-9 * 91.2);
                Assert.Equal(a.Momentum.Px, b.Momentum.Px, 1e-9 * 91.2);
                Assert.Equal(a.Momentum.Py, b.Momentum.Py, 1e-9 * 91.2);
                Assert.Equal(a.Momentum.Pz, b.Momentum.Pz, 1e-9 * 91.2);
                Assert.Equal(9, b.Spin);
            }
            AssertPhysical(got, 91.2);
            var (q, qbar, g) = (got.Particles[2], got.Particles[3], got.Particles[4]);
            Assert.InRange(q.Id, 1, 5);
            Assert.Equal(-q.Id, qbar.Id);
            Assert.Equal(21, g.Id);
            Assert.Equal((-1, -1), (got.Particles[0].Status, got.Particles[1].Status));
            Assert.All(new[] { q, qbar, g }, p => Assert.Equal((1, 1, 2), (p.Status, p.Mother1, p.Mother2)));
            Assert.Equal((501, 0, 0, 502, 502, 501), (q.Colour, q.AntiColour, qbar.Colour, qbar.AntiColour, g.Colour, g.AntiColour));
            if (got.Particles[2].Id is 2 or 4) upType++;
        }
        // Integrated over angles each flavour's share is its Born share: σ(u) + σ(c) over Σσ(q).
        double bornUp = EeAnnihilation.PairCrossSection(Fermion.Up, 91.2, process.Parameters) + EeAnnihilation.PairCrossSection(Fermion.Charm, 91.2, process.Parameters);
        double bornAll = process.Quarks.Sum(q => EeAnnihilation.PairCrossSection(q, 91.2, process.Parameters));
        double share = (double)upType / written, expectedShare = bornUp / bornAll;
        double shareErr = Math.Sqrt(expectedShare * (1 - expectedShare) / written);
        output.WriteLine($"up-type share {share:F3}, Born share {expectedShare:F3} ± {shareErr:F3}");
        Assert.True(Math.Abs(share - expectedShare) < 4 * shareErr, $"up-type share {share} vs {expectedShare}");
    }

    [Fact]
    public void MuMuEventsCarryTheForwardBackwardAsymmetry()
    {
        var process = new EeToMuMuProcess(60.0);
        var rng = new Rng(8);
        double[] points = Unweight(process, 20_000, rng, out double sigma, out double error);
        string path = Path.Combine(_dir, "mumu.lhe");
        int written = LesHouchesWriter.WriteUnweighted(path, process, points, sigma, error, rng);
        var file = LesHouchesReader.Read(path);
        Assert.Equal(written, file.Events.Count);
        int forward = 0;
        foreach (var e in file.Events)
        {
            AssertPhysical(e, 60.0);
            Assert.Equal([11, -11, 13, -13], e.Particles.Select(p => p.Id));
            if (e.Particles[2].Momentum.CosTheta > 0) forward++;
        }
        double afb = (2.0 * forward - written) / written, err = Math.Sqrt((1 - afb * afb) / written);
        output.WriteLine($"{written} mu mu events at 60 GeV: A_FB = {afb:F3} ± {err:F3}, analytic {process.AnalyticForwardBackwardAsymmetry:F3}");
        Assert.True(Math.Abs(afb - process.AnalyticForwardBackwardAsymmetry) < 4 * err);
    }

    [Fact]
    public void ReaderReportsTheLineOfMalformedContent()
    {
        string good = string.Join("\n",
            "<LesHouchesEvents version=\"3.0\">", "<init>", " 11 -11 45.6 45.6 0 0 0 0 3 1", " 10.0 0.1 10.0 1", "</init>",
            "<event>", " 2 1 10.0 91.2 0.0078 0.118",
            " 13 1 0 0 0 0 0 0 45.6 45.6 0 0 9", " -13 1 0 0 0 0 0 0 -45.6 45.6 0 0 9", "</event>", "</LesHouchesEvents>");
        var file = LesHouchesReader.Read(new StringReader(good), "good.lhe");
        Assert.Single(file.Events);
        Assert.Equal(-45.6, file.Events[0].Particles[1].Momentum.Pz);

        var bad = LesHouchesReaderError(good.Replace(" -13 1 0 0 0 0 0 0 -45.6", " -13 1 0 0 0 0 0 0 oops"));
        Assert.Equal(9, bad.Line);
        Assert.Contains("PUP3", bad.Message);
        var truncated = LesHouchesReaderError(good.Replace(" -13 1 0 0 0 0 0 0 -45.6 45.6 0 0 9\n", ""));
        Assert.Equal(9, truncated.Line);
        var mother = LesHouchesReaderError(good.Replace(" 13 1 0 0", " 13 1 7 0"));
        Assert.Contains("mother", mother.Message);
        LesHouchesReaderError("<init>\n");
    }

    static DataFormatException LesHouchesReaderError(string text) =>
        Assert.Throws<DataFormatException>(() => LesHouchesReader.Read(new StringReader(text), "bad.lhe"));

    [Fact]
    public void WriterRejectsNonFiniteMomentaAndLeavesNoFile()
    {
        var process = new EeToMuMuProcess();
        var e = process.CreateEvent([0.3, 0.6], 1.0, new Rng(1))!;
        var broken = e with { Particles = [.. e.Particles.Take(3), e.Particles[3] with { Momentum = new FourVector(double.NaN, 0, 0, 0) }] };
        string path = Path.Combine(_dir, "broken.lhe");
        var ex = Assert.Throws<ArgumentException>(() => LesHouchesWriter.Write(path, process.CreateInit(1, 0.1, 1), [e, broken]));
        Assert.Contains("event 1, particle 4", ex.Message);
        Assert.False(File.Exists(path));
        Assert.Empty(Directory.GetFiles(_dir));
    }
}
