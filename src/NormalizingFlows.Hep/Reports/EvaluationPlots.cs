using NormalizingFlows.Hep.Evaluation;

namespace NormalizingFlows.Hep.Reports;

/// <summary>Plots of classifier-based evaluation: ROC and SIC curves, classifier score distributions, 2-D histograms.</summary>
public static class EvaluationPlots
{
    /// <summary>The ROC curve (ε_B on x, ε_S on y; at most 400 points) with the diagonal of a random classifier, dashed.</summary>
    public static SvgPlot RocCurve(RocCurve roc, string title = "ROC curve", string xLabel = "background efficiency ε_B", string yLabel = "signal efficiency ε_S", string color = "#1f77b4")
    {
        ArgumentNullException.ThrowIfNull(roc);
        var t = roc.Thin(400);
        return new SvgPlot(title, xLabel, yLabel, 380, 340) { XRange = (0, 1), YRange = (0, 1) }
            .Add(new LineSeries(FormattableString.Invariant($"AUC {roc.Auc:F4} ± {roc.AucError:F4}"), color, t.FalsePositiveRate, t.TruePositiveRate))
            .Add(new LineSeries("random (0.5)", "#888888", [0, 1], [0, 1], Dashed: true));
    }

    /// <summary>The significance-improvement curve ε_S/√ε_B against ε_S.</summary>
    public static SvgPlot Sic(SicCurve sic, string title = "significance improvement", string color = "#2ca02c")
    {
        ArgumentNullException.ThrowIfNull(sic);
        return new SvgPlot(title, "signal efficiency ε_S", "ε_S/√ε_B", 380, 300) { XRange = (0, 1), ReferenceY = 1 }
            .Add(new LineSeries(double.IsFinite(sic.MaxSic) ? FormattableString.Invariant($"max {sic.MaxSic:F2}") : "", color, sic.TruePositiveRate, sic.Sic));
    }

    /// <summary>Normalised histograms of the out-of-fold classifier outputs D(x) for the two samples of a two-sample test.</summary>
    public static SvgPlot ClassifierScores(TwoSampleTestResult test, string labelA = "data", string labelB = "model", int bins = 40)
    {
        ArgumentNullException.ThrowIfNull(test);
        var a = test.ScoresA; var b = test.ScoresB;
        double lo = Math.Min(Quantile(a, 0.001), Quantile(b, 0.001)), hi = Math.Max(Quantile(a, 0.999), Quantile(b, 0.999));
        if (!(hi > lo)) { lo = Math.Max(0, lo - 0.01); hi = Math.Min(1, hi + 0.01); }
        if (!(hi > lo)) { lo = 0; hi = 1; }
        var edges = Enumerable.Range(0, bins + 1).Select(i => lo + (hi - lo) * i / bins).ToArray();
        var (ha, ea) = FlowPlots.Histogram(a, edges);
        var (hb, eb) = FlowPlots.Histogram(b, edges);
        return new SvgPlot("classifier output (out-of-fold)", $"D(x) = P({labelA} | x)", "density", 380, 300)
            .Add(new StepSeries(labelA, FlowPlots.DataColor, edges, ha, ea))
            .Add(new StepSeries(labelB, FlowPlots.ModelColor, edges, hb, eb, Filled: true));
    }

    /// <summary>A 2-D histogram of (x, y) over the given ranges as a heat map (colour scaled to the plot's maximum).</summary>
    public static SvgPlot Histogram2D(string title, double[] x, double[] y, (double Min, double Max) xRange, (double Min, double Max) yRange, string xLabel, string yLabel, int bins = 30, int width = 300, int height = 270)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(y);
        if (x.Length != y.Length) throw new ArgumentException($"x has {x.Length} values, y {y.Length}");
        var h = new double[bins, bins];
        double wx = (xRange.Max - xRange.Min) / bins, wy = (yRange.Max - yRange.Min) / bins;
        for (int k = 0; k < x.Length; k++)
        {
            if (!(x[k] >= xRange.Min && x[k] <= xRange.Max && y[k] >= yRange.Min && y[k] <= yRange.Max)) continue;
            h[Math.Min((int)((x[k] - xRange.Min) / wx), bins - 1), Math.Min((int)((y[k] - yRange.Min) / wy), bins - 1)]++;
        }
        return new SvgPlot(title, xLabel, yLabel, width, height) { XRange = xRange, YRange = yRange }
            .Add(new HeatmapSeries("", xRange.Min, xRange.Max, yRange.Min, yRange.Max, h));
    }

    /// <summary>The central range of finite values between the given quantiles, padded by 5% (±0.5 around a constant).</summary>
    public static (double Min, double Max) Range(double[] values, double lower = 0.005, double upper = 0.995)
    {
        ArgumentNullException.ThrowIfNull(values);
        double lo = Quantile(values, lower), hi = Quantile(values, upper);
        if (!double.IsFinite(lo) || !double.IsFinite(hi)) return (0, 1);
        if (!(hi > lo)) return (lo - 0.5, hi + 0.5);
        double pad = 0.05 * (hi - lo);
        return (lo - pad, hi + pad);
    }

    private static double Quantile(double[] values, double q)
    {
        var s = values.Where(double.IsFinite).OrderBy(v => v).ToArray();
        return s.Length == 0 ? double.NaN : s[(int)(q * (s.Length - 1))];
    }
}
