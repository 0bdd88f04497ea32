using System.Globalization;
using System.Text.RegularExpressions;
using NormalizingFlows.Hep.Reports;

namespace NormalizingFlows.Hep.Tests.Reports;

/// <summary>Geometry of rendered plots, read back from the SVG: axes, heat-map colours, colour bars and legends.</summary>
public partial class PlotLayoutTests
{
    // plot area of a 460×320 plot: Left 62, Top 30, Bottom margin 46
    private const double PlotBottom = 320 - 46;

    [Fact]
    public void LogAxisIsPaddedInLogSpaceNotDownTo1eMinus300()
    {
        var svg = new SvgPlot("rejection", "ε_S", "1/ε_B") { LogY = true }
            .Add(new LineSeries("a", "#000", [0.1, 0.5, 0.9], [5000, 40, 2])).Render();
        var exponents = YTickLabels(svg).Select(t => t.Label).Select(l => double.Parse(l[2..], CultureInfo.InvariantCulture)).ToArray();
        Assert.NotEmpty(exponents);
        Assert.All(exponents, e => Assert.InRange(e, -1, 5)); // data span 2 … 5000: decades 1e0 … 1e4
        Assert.Contains(1.0, exponents);
        Assert.Contains(3.0, exponents);
    }

    [Fact]
    public void HistogramAxisStartsAtZero()
    {
        var svg = new SvgPlot("h", "x", "density")
            .Add(new StepSeries("data", "#000", [0, 1, 2, 3], [5, 6, 7], [0.2, 0.2, 0.2])).Render();
        var zero = YTickLabels(svg).Where(t => t.Label == "0").ToArray();
        Assert.Single(zero);
        Assert.Equal(PlotBottom + 4, zero[0].Y, 1);
    }

    [Fact]
    public void HeatMapDrawsNegativeValuesAndHasAColourBar()
    {
        var svg = new SvgPlot("log image", "x", "y")
            .Add(new HeatmapSeries("", 0, 2, 0, 2, new double[,] { { -3, -1 }, { 0.5, 2 } }, ColorLabel: "log10 E")).Render();
        string plotArea = Regex.Match(svg, "<g clip-path=.*?</g>").Value;
        Assert.Equal(4, Regex.Matches(plotArea, "<rect [^>]*fill=\"rgb\\(").Count); // every finite cell, negative ones too
        Assert.Contains(SvgPlot.Viridis(0), plotArea); // the minimum takes the bottom colour, the maximum the top one
        Assert.Contains(SvgPlot.Viridis(1), plotArea);
        string bar = Regex.Match(svg, "<g class=\"colorbar\">.*?</g>").Value;
        Assert.NotEmpty(bar);
        var labels = Regex.Matches(bar, "<text x=\"([^\"]+)\"[^>]*>([^<]*)</text>").Select(m => m.Groups[2].Value).ToArray();
        Assert.Contains("-3", labels);
        Assert.Contains("2", labels);
        Assert.Contains("log10 E", bar);
    }

    [Fact]
    public void HeatMapColourBarMarksValuesBeyondAGivenScale()
    {
        var svg = new SvgPlot("img", "x", "y")
            .Add(new HeatmapSeries("", 0, 2, 0, 2, new double[,] { { -9, -1 }, { 0.5, 2 } }, ColorMin: -4, ColorMax: 2)).Render();
        string bar = Regex.Match(svg, "<g class=\"colorbar\">.*?</g>").Value;
        Assert.Contains("≤ -4", System.Net.WebUtility.HtmlDecode(bar));
        Assert.DoesNotContain("≥", System.Net.WebUtility.HtmlDecode(bar));
    }

    [Fact]
    public void LegendAvoidsACurveThroughTheTopRightCorner()
    {
        var x = Enumerable.Range(0, 101).Select(i => i / 100.0).ToArray();
        var svg = new SvgPlot("roc", "ε_B", "ε_S") { XRange = (0, 1), YRange = (0, 1) }
            .Add(new LineSeries("classifier-curve", "#1f77b4", x, x.Select(v => Math.Sqrt(v)).ToArray()))
            .Add(new LineSeries("random-guess", "#888", [0, 1], [0, 1], Dashed: true)).Render();
        AssertLegendCoversNoCurve(svg, "classifier-curve", "random-guess");
    }

    [Fact]
    public void LegendGoesOutsideWhenCurvesFillEveryCorner()
    {
        var x = Enumerable.Range(0, 51).Select(i => i / 50.0).ToArray();
        var svg = new SvgPlot("busy", "x", "y") { YRange = (0, 1) }
            .Add(new LineSeries("top-line", "#000", x, x.Select(_ => 0.97).ToArray()))
            .Add(new LineSeries("bottom-line", "#c00", x, x.Select(_ => 0.03).ToArray()))
            .Add(new LineSeries("left-edge", "#0c0", [0.01, 0.01], [0, 1]))
            .Add(new LineSeries("right-edge", "#00c", [0.99, 0.99], [0, 1])).Render();
        AssertLegendCoversNoCurve(svg, "top-line", "bottom-line", "left-edge", "right-edge");
        var height = double.Parse(Regex.Match(svg, "<svg [^>]*height=\"([0-9.]+)\"").Groups[1].Value, CultureInfo.InvariantCulture);
        Assert.True(height > 320, "the legend below the plot makes the figure taller");
    }

    /// <summary>Every vertex and segment sample of every polyline lies outside every legend label's box.</summary>
    private static void AssertLegendCoversNoCurve(string svg, params string[] labels)
    {
        var boxes = labels.Select(label =>
        {
            var m = Regex.Match(svg, $"<text x=\"([0-9.]+)\" y=\"([0-9.]+)\">{Regex.Escape(label)}</text>");
            Assert.True(m.Success, $"legend entry '{label}' not found");
            double tx = D(m.Groups[1].Value), ty = D(m.Groups[2].Value);
            return (X0: tx - 14, Y0: ty - 10, X1: tx + 6 * label.Length, Y1: ty + 3);
        }).ToArray();
        foreach (Match pl in Regex.Matches(svg, "<polyline fill=\"none\"[^>]*points=\"([^\"]*)\""))
        {
            var pts = pl.Groups[1].Value.Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(p => p.Split(',')).Select(p => (X: D(p[0]), Y: D(p[1]))).ToArray();
            for (int i = 0; i < pts.Length; i++)
            {
                var a = pts[i];
                var b = i + 1 < pts.Length ? pts[i + 1] : a;
                for (int k = 0; k <= 20; k++)
                {
                    double px = a.X + (b.X - a.X) * k / 20, py = a.Y + (b.Y - a.Y) * k / 20;
                    foreach (var bx in boxes)
                        Assert.False(px > bx.X0 && px < bx.X1 && py > bx.Y0 && py < bx.Y1, $"a curve passes under the legend at ({px:F1}, {py:F1})");
                }
            }
        }
    }

    private static (string Label, double Y)[] YTickLabels(string svg) =>
        Regex.Matches(svg, "<text x=\"58\" y=\"([0-9.\\-]+)\" text-anchor=\"end\">([^<]*)</text>").Select(m => (m.Groups[2].Value, D(m.Groups[1].Value))).ToArray();

    private static double D(string s) => double.Parse(s, CultureInfo.InvariantCulture);
}
