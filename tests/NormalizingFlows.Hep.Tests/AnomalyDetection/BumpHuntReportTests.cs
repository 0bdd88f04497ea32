using System.Net;
using System.Text.RegularExpressions;
using NormalizingFlows.Hep.AnomalyDetection;

namespace NormalizingFlows.Hep.Tests.AnomalyDetection;

public class BumpHuntReportTests
{
    /// <summary>A signal region of 400 background and 40 signal events and two methods: one separates them perfectly.</summary>
    private static BumpHuntRun FakeRun(long seed)
    {
        var rng = new Random((int)seed);
        int nb = 400, ns = 40, n = nb + ns;
        var isSignal = Enumerable.Range(0, n).Select(i => i >= nb).ToArray();
        var perfect = isSignal.Select(s => s ? 1 + rng.NextDouble() : rng.NextDouble()).ToArray();
        var random = isSignal.Select(_ => rng.NextDouble()).ToArray();
        var mjj = Enumerable.Range(0, n).Select(_ => 3.3 + 0.4 * rng.NextDouble()).ToArray();
        var features = Enumerable.Range(0, 4).Select(_ => Enumerable.Range(0, n).Select(_ => rng.NextDouble()).ToArray()).ToArray();
        var methods = new[]
        {
            MethodResult.Evaluate(BumpHuntMethod.Supervised, perfect, isSignal),
            MethodResult.Evaluate(BumpHuntMethod.Random, random, isSignal),
        };
        return new BumpHuntRun(seed, nb, ns, 1000, methods,
            new Dictionary<BumpHuntMethod, double[]> { [BumpHuntMethod.Supervised] = perfect, [BumpHuntMethod.Random] = random },
            isSignal, null, new BumpHuntEvents(mjj, features, isSignal));
    }

    [Fact]
    public void InfiniteRejectionIsShownAsALowerBoundAndTheLogAxisStaysNearTheData()
    {
        var runs = new[] { FakeRun(1), FakeRun(2) };
        Assert.True(double.IsPositiveInfinity(runs[0].Methods[0].RejectionAt20));
        string html = WebUtility.HtmlDecode(BumpHuntReport.Build(runs, BumpHuntStudy.Summarise(runs), new BumpHuntSettings()).Render());
        Assert.DoesNotContain("Infinity", html);
        Assert.DoesNotContain("∞ ±", html);
        Assert.Contains("> 400 (all 2 seeds)", html);
        Assert.Contains("<td>> 400</td>", html); // per-seed rows: the bound, or the plain figure
        Assert.Matches(@"<td>Random</td><td>[0-9.]+</td><td>[0-9.]+</td><td>[0-9]+\.[0-9]</td>", html);
        var exponents = Regex.Matches(html, ">1e(-?[0-9.]+)</text>").Select(m => double.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture)).ToArray();
        Assert.NotEmpty(exponents);
        Assert.All(exponents, e => Assert.InRange(e, -1, 4)); // 1/ε_B of these runs lies between 1 and a few hundred
    }

    [Fact]
    public void RejectionIsFormattedAsMeanAndSpreadOrAsABound()
    {
        Assert.Equal("12.0 ± 2.8", BumpHuntReport.FormatRejection(SeedStatistic.Of([10, 14]), 500));
        Assert.Equal("> 500", BumpHuntReport.FormatRejection(SeedStatistic.Of([double.PositiveInfinity]), 500));
        Assert.Equal("> 500 (1 of 2 seeds; the others 450.0 ± 0.0)", BumpHuntReport.FormatRejection(SeedStatistic.Of([double.PositiveInfinity, 450]), 500));
    }

    [Fact]
    public void DataRowDescribesTheInputFileNotTheGeneratorDefaults()
    {
        var runs = new[] { FakeRun(3) };
        var settings = new BumpHuntSettings();
        string source = BumpHuntReport.DescribeInput("events.csv", runs[0].SignalRegion, settings.Data);
        Assert.Contains("events.csv: 440 events (400 background + 40 signal", source);
        string html = WebUtility.HtmlDecode(BumpHuntReport.Build(runs, BumpHuntStudy.Summarise(runs), settings, "nflow bumphunt run --input events.csv", source).Render());
        var dataRow = Regex.Match(html, "<tr><th>data</th><td>([^<]*)</td>").Groups[1].Value;
        Assert.StartsWith("events.csv: 440 events", dataRow);
        Assert.DoesNotContain(settings.Data.BackgroundEvents.ToString(System.Globalization.CultureInfo.InvariantCulture), dataRow);
    }
}
