using NormalizingFlows.Hep.Reports;

namespace NormalizingFlows.Hep.Tests.Reports;

public class ReportTests
{
    [Theory]
    [InlineData(0, 1, 5, new[] { 0, 0.2, 0.4, 0.6, 0.8, 1.0 })]
    [InlineData(-3.7, 12.2, 5, new[] { 0.0, 5, 10 })]
    [InlineData(0.001, 0.0049, 4, new[] { 0.001, 0.002, 0.003, 0.004 })]
    public void NiceTicksAreRoundAndInside(double lo, double hi, int target, double[] expectedSubset)
    {
        var ticks = SvgPlot.NiceTicks(lo, hi, target);
        Assert.All(ticks, t => Assert.InRange(t, lo - 1e-12, hi + 1e-12));
        foreach (var e in expectedSubset) Assert.Contains(ticks, t => Math.Abs(t - e) < 1e-9);
        Assert.Empty(SvgPlot.NiceTicks(1, 1, 5));
        Assert.Empty(SvgPlot.NiceTicks(double.NaN, 1, 5));
    }

    [Fact]
    public void ReportIsSelfContainedEscapedAndSkipsNonFiniteValues()
    {
        var plot = new SvgPlot("a <b> & c", "x", "y") { LogY = true }
            .Add(new StepSeries("data", "#000", [0, 1, 2, 3], [1, 0, 10], [0.5, 0, 2]))
            .Add(new LineSeries("model", "#c00", [0, 1, 2], [1, double.NaN, 3]))
            .Add(new ScatterSeries("pts", "#00c", [0.5, double.PositiveInfinity], [2, 2]))
            .Add(new HeatmapSeries("", 0, 3, 0.5, 20, new double[,] { { 1, 2 }, { 0, 4 } }));
        var report = new HtmlReport("Test & report").Section("Fit").Paragraph("1 < 2").KeyValues([("k", "v")])
            .Table(["a", "b"], [["1", "2"]]).Figures(plot);
        string html = report.Render();
        Assert.StartsWith("<!DOCTYPE html>", html);
        Assert.Contains("<svg", html);
        Assert.Contains("a &lt;b&gt; &amp; c", html);
        Assert.Contains("1 &lt; 2", html);
        Assert.DoesNotContain("NaN", html);
        Assert.DoesNotContain("Infinity", html);
        Assert.DoesNotContain("<script", html);
        Assert.DoesNotContain("src=\"http", html);
        Assert.DoesNotContain("href=\"http", html);
        string path = Path.Combine(Path.GetTempPath(), $"nflow-report-{Guid.NewGuid():N}.html");
        report.Save(path);
        Assert.True(new FileInfo(path).Length > 1000);
        File.Delete(path);
    }

    [Fact]
    public void ViridisEndsAreDarkPurpleAndYellow()
    {
        Assert.Equal("rgb(68,1,84)", SvgPlot.Viridis(0));
        Assert.Equal("rgb(253,231,37)", SvgPlot.Viridis(1));
        Assert.Equal(SvgPlot.Viridis(1), SvgPlot.Viridis(7));
    }
}
