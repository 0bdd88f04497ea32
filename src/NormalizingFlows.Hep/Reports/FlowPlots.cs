using NormalizingFlows.Training;

namespace NormalizingFlows.Hep.Reports;

/// <summary>The standard plots for judging a trained flow against data (the HEP way: histograms with ratio panels).</summary>
public static class FlowPlots
{
    /// <summary>Colour of data.</summary>
    public const string DataColor = "#222222";
    /// <summary>Colour of the model.</summary>
    public const string ModelColor = "#d62728";

    /// <summary>
    /// Normalised histograms of one column for data (with Poisson error bars) and model samples, and below it the
    /// model/data ratio with its uncertainty. Bins span the data's 0.5–99.5% range.
    /// </summary>
    public static (SvgPlot Histogram, SvgPlot Ratio) Marginal(string name, double[] data, double[] model, int bins = 40)
    {
        var sorted = data.Where(double.IsFinite).OrderBy(v => v).ToArray();
        if (sorted.Length == 0) throw new ArgumentException($"column '{name}' has no finite data values");
        double lo = sorted[(int)(0.005 * (sorted.Length - 1))], hi = sorted[(int)(0.995 * (sorted.Length - 1))];
        if (!(hi > lo)) { lo -= 0.5; hi += 0.5; }
        var edges = Enumerable.Range(0, bins + 1).Select(i => lo + (hi - lo) * i / bins).ToArray();
        var (hd, ed) = Histogram(data, edges);
        var (hm, em) = Histogram(model, edges);
        var hist = new SvgPlot(name, name, "density", 420, 260)
            .Add(new StepSeries("data", DataColor, edges, hd, ed))
            .Add(new StepSeries("model", ModelColor, edges, hm, em, Filled: true));
        var centers = Enumerable.Range(0, bins).Select(i => 0.5 * (edges[i] + edges[i + 1])).ToArray();
        var ratio = new double[bins];
        var ratioErr = new double[bins];
        for (int i = 0; i < bins; i++)
        {
            ratio[i] = hd[i] > 0 ? hm[i] / hd[i] : double.NaN;
            ratioErr[i] = hd[i] > 0 && hm[i] > 0 ? ratio[i] * Math.Sqrt(Math.Pow(ed[i] / hd[i], 2) + Math.Pow(em[i] / hm[i], 2)) : double.NaN;
        }
        var ratioPlot = new SvgPlot("", name, "model / data", 420, 150) { YRange = (0.5, 1.5), ReferenceY = 1 }
            .Add(new ErrorBarSeries("", ModelColor, centers, ratio, ratioErr));
        return (hist, ratioPlot);
    }

    /// <summary>Density-normalised histogram and its Poisson uncertainties over the given edges (values outside are ignored).</summary>
    public static (double[] Density, double[] Error) Histogram(double[] values, double[] edges)
    {
        int bins = edges.Length - 1;
        var counts = new double[bins];
        double lo = edges[0], hi = edges[^1], width = (hi - lo) / bins;
        foreach (var v in values)
        {
            if (!(v >= lo && v <= hi)) continue;
            counts[Math.Min((int)((v - lo) / width), bins - 1)]++;
        }
        double norm = values.Length * width;
        return (counts.Select(c => c / norm).ToArray(), counts.Select(c => Math.Sqrt(c) / norm).ToArray());
    }

    /// <summary>A 2-D scatter of two columns (at most <paramref name="maxPoints"/> points).</summary>
    public static SvgPlot Scatter(string title, double[] x, double[] y, string color, string xLabel, string yLabel, (double, double)? xRange = null, (double, double)? yRange = null, int maxPoints = 4000)
    {
        int n = Math.Min(x.Length, maxPoints);
        return new SvgPlot(title, xLabel, yLabel, 380, 340) { XRange = xRange, YRange = yRange }
            .Add(new ScatterSeries("", color, x[..n], y[..n]));
    }

    /// <summary>A heat map of a density evaluated on a grid (values[i, j] at x bin i, y bin j).</summary>
    public static SvgPlot Density(string title, double[,] values, (double Min, double Max) x, (double Min, double Max) y, string xLabel, string yLabel) =>
        new SvgPlot(title, xLabel, yLabel, 380, 340) { XRange = x, YRange = y }.Add(new HeatmapSeries("", x.Min, x.Max, y.Min, y.Max, values));

    /// <summary>Training loss and validation log-likelihood per epoch.</summary>
    public static SvgPlot TrainingCurve(TrainingHistory history)
    {
        var epochs = history.Epochs.Select(e => (double)e.Epoch).ToArray();
        var plot = new SvgPlot("training", "epoch", "mean log-likelihood per event", 460, 300)
            .Add(new LineSeries("train", "#1f77b4", epochs, history.Epochs.Select(e => -e.TrainLoss).ToArray()));
        if (history.Epochs.Any(e => e.ValidationLogLikelihood is not null))
            plot.Add(new LineSeries("validation", "#ff7f0e", epochs, history.Epochs.Select(e => e.ValidationLogLikelihood ?? double.NaN).ToArray()));
        return plot;
    }
}
