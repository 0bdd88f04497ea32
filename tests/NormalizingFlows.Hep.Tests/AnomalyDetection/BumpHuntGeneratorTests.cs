using NormalizingFlows.Hep.AnomalyDetection;
using NormalizingFlows.Tensors;
using Xunit.Abstractions;

namespace NormalizingFlows.Hep.Tests.AnomalyDetection;

public class BumpHuntGeneratorTests(ITestOutputHelper output)
{
    /// <summary>χ² of observed bin counts against the spectrum's expected counts, and the expected counts.</summary>
    private static (double Chi2, int Bins, double[] Expected, int[] Observed) Chi2(double[] mjj, DijetSpectrum spectrum, int bins)
    {
        var o = spectrum.Options;
        var edges = Enumerable.Range(0, bins + 1).Select(k => o.MjjMin + (o.MjjMax - o.MjjMin) * k / bins).ToArray();
        var obs = new int[bins];
        foreach (var m in mjj) obs[Math.Min((int)((m - o.MjjMin) / (o.MjjMax - o.MjjMin) * bins), bins - 1)]++;
        var exp = Enumerable.Range(0, bins).Select(k => mjj.Length * spectrum.Fraction(edges[k], edges[k + 1])).ToArray();
        double chi2 = 0;
        int used = 0;
        for (int k = 0; k < bins; k++)
        {
            if (exp[k] < 5) continue; // Pearson's χ² needs expected counts ≳ 5
            chi2 += (obs[k] - exp[k]) * (obs[k] - exp[k]) / exp[k];
            used++;
        }
        return (chi2, used, exp, obs);
    }

    [Fact]
    public void MjjSpectrumIsSmoothAndFallsAsConfigured()
    {
        var options = new BumpHuntOptions { BackgroundEvents = 60_000, SignalEvents = 0 };
        var gen = new BumpHuntGenerator(options);
        var events = gen.Generate(new Rng(3));
        Assert.Equal(60_000, events.Count);
        Assert.All(events.Mjj, m => Assert.InRange(m, options.MjjMin, options.MjjMax));

        // agrees with the configured dijet function: χ²/ndf within ~3σ of 1 (σ = √(2/ndf))
        var (chi2, bins, exp, obs) = Chi2(events.Mjj, gen.Spectrum, 30);
        output.WriteLine($"χ²/ndf = {chi2:F1}/{bins} = {chi2 / bins:F2}");
        Assert.InRange(chi2 / bins, 0, 1 + 3 * Math.Sqrt(2.0 / bins));

        // a differently configured spectrum (flatter: p₂ = 3) is rejected by the same comparison
        var other = new DijetSpectrum(options with { P2 = 3 });
        var (chi2Other, binsOther, _, _) = Chi2(events.Mjj, other, 30);
        output.WriteLine($"against p₂ = 3: χ²/ndf = {chi2Other / binsOther:F1}");
        Assert.True(chi2Other / binsOther > 10, $"χ²/ndf {chi2Other / binsOther}");

        // smooth and falling: expected counts strictly decrease, and so do the observed counts in coarse bins
        for (int k = 1; k < exp.Length; k++) Assert.True(exp[k] < exp[k - 1]);
        var coarse = Enumerable.Range(0, 6).Select(k => obs.Skip(5 * k).Take(5).Sum()).ToArray();
        for (int k = 1; k < coarse.Length; k++) Assert.True(coarse[k] < coarse[k - 1], $"coarse bins {string.Join(", ", coarse)}");
        // local smoothness: second differences of log(expected) are small against the first
        for (int k = 1; k < exp.Length - 1; k++)
        {
            double d1 = Math.Log(exp[k + 1]) - Math.Log(exp[k]), d0 = Math.Log(exp[k]) - Math.Log(exp[k - 1]);
            Assert.True(Math.Abs(d1 - d0) < 0.2 * Math.Abs(d0), $"bin {k}: slopes {d0} and {d1}");
        }

        // the inverse CDF inverts the CDF
        foreach (var u in new[] { 1e-6, 0.1, 0.5, 0.9, 0.999999 })
            Assert.Equal(u, gen.Spectrum.Cdf(gen.Spectrum.Quantile(u)), 9);
        // about 10 % of the background falls in the default signal region (LHCO: ~12 %)
        double srFraction = gen.Spectrum.Fraction(options.SignalRegionLow, options.SignalRegionHigh);
        output.WriteLine($"SR fraction {srFraction:F4}");
        Assert.InRange(events.RowsInside(options.SignalRegionLow, options.SignalRegionHigh).Length / 60_000.0, srFraction - 0.006, srFraction + 0.006);
    }

    [Fact]
    public void FeaturesDependOnMjjAndTheSignalIsAResonance()
    {
        var options = new BumpHuntOptions { BackgroundEvents = 40_000, SignalEvents = 4000 };
        var events = new BumpHuntGenerator(options).Generate(new Rng(4));
        Assert.Equal(4000, events.SignalCount);
        var bkg = Enumerable.Range(0, events.Count).Where(i => !events.IsSignal[i]).ToArray();
        var sig = Enumerable.Range(0, events.Count).Where(i => events.IsSignal[i]).ToArray();
        double Mean(IEnumerable<int> rows, Func<int, double> f) => rows.Select(f).Average();

        // background features shift smoothly with m_jj: heavier jets and lower τ21 at higher m_jj
        var low = bkg.Where(i => events.Mjj[i] < 3.0).ToArray();
        var high = bkg.Where(i => events.Mjj[i] > 4.0).ToArray();
        double mLow = Mean(low, i => Math.Log(events.Features[0][i] + events.Features[1][i])), mHigh = Mean(high, i => Math.Log(events.Features[0][i] + events.Features[1][i]));
        output.WriteLine($"<ln m_j2>: {mLow:F3} (m_jj < 3) vs {mHigh:F3} (m_jj > 4); log ratio of m_jj means {Math.Log(Mean(high, i => events.Mjj[i]) / Mean(low, i => events.Mjj[i])):F3}");
        Assert.True(mHigh - mLow > 0.3, $"{mLow} → {mHigh}");
        Assert.True(Mean(high, i => events.Features[2][i]) < Mean(low, i => events.Features[2][i]) - 0.01);

        // the signal is localised at 3.5 TeV (≈ 77 % in the SR), with m_j1 ≈ m_Y, Δm ≈ m_X − m_Y and low τ21
        double inSr = sig.Count(i => events.Mjj[i] >= 3.3 && events.Mjj[i] < 3.7) / (double)sig.Length;
        output.WriteLine($"signal fraction in SR {inSr:F3}");
        Assert.InRange(inSr, 0.72, 0.82);
        Assert.InRange(Median(sig.Select(i => events.Features[0][i])), 0.09, 0.105);
        Assert.InRange(Median(sig.Select(i => events.Features[1][i])), 0.37, 0.41);
        Assert.True(Mean(sig, i => events.Features[2][i]) < Mean(bkg, i => events.Features[2][i]) - 0.15);
        // features stay in their physical ranges
        Assert.All(Enumerable.Range(0, events.Count), i =>
        {
            Assert.True(events.Features[0][i] > 0 && events.Features[1][i] >= 0);
            Assert.InRange(events.Features[2][i], 0, 1);
            Assert.InRange(events.Features[3][i], 0, 1);
        });

        // deterministic for a seed, and the table round trip keeps everything
        var again = new BumpHuntGenerator(options).Generate(new Rng(4));
        Assert.Equal(events.Mjj, again.Mjj);
        var back = BumpHuntEvents.FromTable(events.ToTable());
        Assert.Equal(events.Features[3], back.Features[3]);
        Assert.Equal(events.IsSignal, back.IsSignal);
    }

    [Fact]
    public void InvalidSettingsAreRejectedWithTheirName()
    {
        var e = Assert.Throws<ArgumentException>(() => new BumpHuntGenerator(new BumpHuntOptions { SignalRegionLow = 2.0 }));
        Assert.Contains("signal region", e.Message);
        Assert.Contains("SignalEvents", Assert.Throws<ArgumentException>(() => new BumpHuntOptions { SignalEvents = -1 }.Validate()).Message);
        var t = new NormalizingFlows.Data.Table(["mjj", "mj1"], [3.0, 0.1], 1);
        Assert.Contains("'dmj'", Assert.Throws<ArgumentException>(() => BumpHuntEvents.FromTable(t)).Message);
    }

    private static double Median(IEnumerable<double> values)
    {
        var s = values.OrderBy(v => v).ToArray();
        return s[s.Length / 2];
    }
}
