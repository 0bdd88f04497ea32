using System.Globalization;
using NormalizingFlows.Hep.Evaluation;
using NormalizingFlows.Hep.Reports;

namespace NormalizingFlows.Hep.AnomalyDetection;

/// <summary>
/// The HTML report of a bump-hunt study: the max-SIC table (mean ± spread over seeds), the SIC curves of all methods
/// on one plot (mean over seeds on a common ε_S grid, as in the seeds' CATHODE slide), background rejection curves,
/// the m_jj spectrum, and CATHODE's synthetic background against the signal-region data.
/// </summary>
public static class BumpHuntReport
{
    /// <summary>Plot colour of each method.</summary>
    public static string ColorOf(BumpHuntMethod m) => m switch
    {
        BumpHuntMethod.Supervised => "#1f77b4",
        BumpHuntMethod.Idealized => "#ff7f0e",
        BumpHuntMethod.Cathode => "#2ca02c",
        BumpHuntMethod.Anode => "#d62728",
        BumpHuntMethod.CWoLa => "#9467bd",
        _ => "#7f7f7f",
    };

    /// <summary>
    /// The mean over <paramref name="runs"/> of SIC(ε_S) on a grid of signal efficiencies (0.01 … 1), interpolating
    /// ε_B along each ROC curve; points where ε_B rests on fewer than <paramref name="minBackgroundEvents"/>
    /// background events are NaN.
    /// </summary>
    public static (double[] SignalEfficiency, double[] Sic) MeanSicCurve(IReadOnlyList<BumpHuntRun> runs, BumpHuntMethod method, int minBackgroundEvents = 25)
    {
        ArgumentNullException.ThrowIfNull(runs);
        var grid = Enumerable.Range(1, 100).Select(k => k / 100.0).ToArray();
        var sum = new double[grid.Length];
        var count = new int[grid.Length];
        foreach (var r in runs)
            foreach (var mr in r.Methods.Where(x => x.Method == method))
                for (int g = 0; g < grid.Length; g++)
                {
                    double f = Roc.FalsePositiveRateAt(mr.Roc, grid[g]);
                    if (!(f * mr.Roc.Negatives >= minBackgroundEvents)) { sum[g] = double.NaN; continue; }
                    sum[g] += grid[g] / Math.Sqrt(f);
                    count[g]++;
                }
        return (grid, sum.Select((s, g) => count[g] > 0 ? s / count[g] : double.NaN).ToArray());
    }

    /// <summary>
    /// Builds the report. <paramref name="command"/> is shown so the figures can be reproduced;
    /// <paramref name="dataSource"/> describes events read from a file (see <see cref="DescribeInput"/>), which then
    /// replaces the generator's settings in the "data" row (the generator still supplies the idealized background).
    /// </summary>
    public static HtmlReport Build(IReadOnlyList<BumpHuntRun> runs, IReadOnlyList<MethodSummary> summary, BumpHuntSettings settings, string? command = null,
        string? dataSource = null)
    {
        ArgumentNullException.ThrowIfNull(runs);
        ArgumentNullException.ThrowIfNull(summary);
        ArgumentNullException.ThrowIfNull(settings);
        if (runs.Count == 0) throw new ArgumentException("no runs to report");
        var d = settings.Data;
        var report = new HtmlReport("Bump hunt: ANODE, CATHODE and baselines on a synthetic LHCO-like data set");
        if (command is not null) report.Paragraph("Command: " + command);
        string generated = Inv($"{d.BackgroundEvents} background + {d.SignalEvents} signal events, m_jj ∈ [{d.MjjMin}, {d.MjjMax}] TeV, SR [{d.SignalRegionLow}, {d.SignalRegionHigh}] TeV");
        var rows = new List<(string, string)> { ("data", dataSource ?? "generated per seed: " + generated) };
        if (dataSource is not null && summary.Any(s => s.Method == BumpHuntMethod.Idealized))
            rows.Add(("idealized background", "drawn from the generator: " + generated));
        report.KeyValues([
            .. rows,
            ("signal region (first seed)", Inv($"{runs[0].SignalRegionBackground} background + {runs[0].SignalRegionSignal} signal, S/√B = {runs[0].Significance:F2}, sidebands {runs[0].SidebandEvents}")),
            ("seeds", string.Join(", ", runs.Select(r => r.Seed.ToString(CultureInfo.InvariantCulture)))),
            ("density estimator", Inv($"{settings.Flow.Builder}, {settings.Flow.Layers} layers, hidden {settings.Flow.Hidden}, ≤ {settings.Flow.Epochs} epochs (patience {settings.Flow.Patience}), batch {settings.Flow.BatchSize}")),
            ("classifier", Inv($"MLP [{string.Join(", ", settings.Classifier.Classifier.HiddenSizes)}], ≤ {settings.Classifier.Classifier.Epochs} epochs, {settings.Classifier.Folds} folds × {settings.Classifier.Members} members")),
            ("oversampling", Inv($"×{settings.Oversampling} (CATHODE synthetic and idealized perfect background)")),
            ("SIC guard", Inv($"ε_B must rest on ≥ {settings.MinBackgroundEvents} background events")),
        ]);
        report.Section("Max SIC and background rejection (mean ± spread over seeds)");
        report.Table(["method", "max SIC", "AUC", "1/ε_B at ε_S = 0.2", "1/ε_B at ε_S = 0.5", "seconds per run"],
            summary.Select(s => new[] { s.Method.ToString(), Pm(s.MaxSic, "F2"), Pm(s.Auc, "F3"), FormatRejection(s.RejectionAt20, runs[0].SignalRegionBackground),
                FormatRejection(s.RejectionAt50, runs[0].SignalRegionBackground), Pm(s.Seconds, "F0") }));
        if (summary.Any(s => s.RejectionAt20.Values.Any(double.IsPositiveInfinity) || s.RejectionAt50.Values.Any(double.IsPositiveInfinity)))
            report.Paragraph("\"> N\": no background event of the signal region passes the cut at that signal efficiency, so 1/ε_B exceeds the N background events there (a lower bound, not a measurement).");

        var sic = new SvgPlot("Significance improvement (signal region)", "signal efficiency ε_S (TPR)", "SIC = ε_S/√ε_B", 620, 420) { XRange = (0, 1), ReferenceY = 1 };
        var rej = new SvgPlot("Background rejection", "signal efficiency ε_S", "1/ε_B", 620, 420) { XRange = (0, 1), LogY = true };
        foreach (var s in summary)
        {
            var (x, y) = MeanSicCurve(runs, s.Method, settings.MinBackgroundEvents);
            sic.Add(new LineSeries(s.Method.ToString(), ColorOf(s.Method), x, y, Dashed: s.Method == BumpHuntMethod.Random));
            var (rx, ry) = MeanRejection(runs, s.Method, x);
            rej.Add(new LineSeries(s.Method.ToString(), ColorOf(s.Method), rx, ry, Dashed: s.Method == BumpHuntMethod.Random));
        }
        report.Section("SIC curves of all methods");
        report.Figures(sic, rej);

        var first = runs[0];
        var sr = first.SignalRegion;
        report.Section(Inv($"Signal region of seed {first.Seed}"));
        var plots = new List<SvgPlot>();
        if (first.Cathode is { } c)
        {
            var bkgRows = Enumerable.Range(0, sr.Count).Where(i => !sr.IsSignal[i]).ToArray();
            for (int j = 0; j < 4; j++)
            {
                var data = sr.Features[j];
                var range = EvaluationPlots.Range(data, 0.002, 0.998);
                var edges = Enumerable.Range(0, 41).Select(k => range.Min + (range.Max - range.Min) * k / 40).ToArray();
                var (hd, ed) = FlowPlots.Histogram(data, edges);
                var (hs, es) = FlowPlots.Histogram(c.SyntheticFeatures[j], edges);
                var (hb, _) = FlowPlots.Histogram(bkgRows.Select(i => data[i]).ToArray(), edges);
                plots.Add(new SvgPlot(BumpHuntEvents.FeatureNames[j] + " in the SR", BumpHuntEvents.FeatureNames[j], "density", 380, 300)
                    .Add(new StepSeries("SR data", FlowPlots.DataColor, edges, hd, ed))
                    .Add(new StepSeries("true SR background", "#1f77b4", edges, hb))
                    .Add(new StepSeries("CATHODE synthetic", FlowPlots.ModelColor, edges, hs, es, Filled: true)));
            }
            var ds = c.Scores; var ss = c.SyntheticScores;
            var sedges = Enumerable.Range(0, 41).Select(k => Math.Min(ds.Min(), ss.Min()) + (Math.Max(ds.Max(), ss.Max()) - Math.Min(ds.Min(), ss.Min())) * k / 40).ToArray();
            var sigScores = Enumerable.Range(0, sr.Count).Where(i => sr.IsSignal[i]).Select(i => ds[i]).ToArray();
            var bkgScores = bkgRows.Select(i => ds[i]).ToArray();
            var score = new SvgPlot("CATHODE classifier output (out-of-fold)", "D(x)", "density", 380, 300) { LogY = true }
                .Add(new StepSeries("SR background", "#1f77b4", sedges, FlowPlots.Histogram(bkgScores, sedges).Density))
                .Add(new StepSeries("synthetic", FlowPlots.ModelColor, sedges, FlowPlots.Histogram(ss, sedges).Density));
            if (sigScores.Length > 0) score.Add(new StepSeries("SR signal", "#2ca02c", sedges, FlowPlots.Histogram(sigScores, sedges).Density));
            plots.Add(score);
        }
        if (plots.Count > 0) report.Figures([.. plots]);
        report.Section("Per-seed results");
        report.Table(["seed", "method", "max SIC", "AUC", "1/ε_B at ε_S = 0.2", "ε_S at max SIC", "seconds"],
            runs.SelectMany(r => r.Methods.Select(m => new[]
            {
                r.Seed.ToString(CultureInfo.InvariantCulture), m.Method.ToString(), Inv($"{m.MaxSic:F2}"), Inv($"{m.Auc:F3}"),
                double.IsPositiveInfinity(m.RejectionAt20) ? Inv($"> {r.SignalRegionBackground}") : Inv($"{m.RejectionAt20:F1}"), Inv($"{m.Sic.TruePositiveRateAtMax:F2}"), Inv($"{m.Seconds:F0}"),
            })));
        return report;
    }

    private static (double[] X, double[] Y) MeanRejection(IReadOnlyList<BumpHuntRun> runs, BumpHuntMethod method, double[] grid)
    {
        var y = new double[grid.Length];
        for (int g = 0; g < grid.Length; g++)
        {
            var v = runs.SelectMany(r => r.Methods.Where(x => x.Method == method)).Select(m => Roc.FalsePositiveRateAt(m.Roc, grid[g])).Where(f => f > 0).ToArray();
            y[g] = v.Length == 0 ? double.NaN : 1 / v.Average();
        }
        return (grid, y);
    }

    /// <summary>
    /// Background rejection over seeds as text: "mean ± spread" (F1) when every seed has a finite 1/ε_B; where no
    /// background event passes (1/ε_B = ∞) the honest figure is the lower bound "&gt; N" with N the signal region's
    /// background events, e.g. "&gt; 1234 (2 of 3 seeds; the others 450.0 ± 0.0)".
    /// </summary>
    public static string FormatRejection(SeedStatistic rejection, int backgroundEvents)
    {
        ArgumentNullException.ThrowIfNull(rejection);
        var v = rejection.Values;
        int infinite = v.Count(double.IsPositiveInfinity);
        if (infinite == 0) return Pm(rejection, "F1");
        string bound = Inv($"> {backgroundEvents}");
        if (infinite == v.Length) return v.Length == 1 ? bound : Inv($"{bound} (all {v.Length} seeds)");
        return Inv($"{bound} ({infinite} of {v.Length} seeds; the others {Pm(SeedStatistic.Of(v.Where(double.IsFinite)), "F1")})");
    }

    /// <summary>
    /// A line describing bump-hunt events read from <paramref name="source"/>: event counts by the label column,
    /// the m_jj range, and the signal-region counts for <paramref name="options"/>' SR.
    /// </summary>
    public static string DescribeInput(string source, BumpHuntEvents events, BumpHuntOptions options)
    {
        ArgumentNullException.ThrowIfNull(events);
        ArgumentNullException.ThrowIfNull(options);
        int signal = events.SignalCount;
        var sr = events.RowsInside(options.SignalRegionLow, options.SignalRegionHigh);
        int srSignal = sr.Count(i => events.IsSignal[i]);
        string range = events.Count == 0 ? "no events" : Inv($"m_jj ∈ [{events.Mjj.Min():F3}, {events.Mjj.Max():F3}] TeV");
        return Inv($"{source}: {events.Count} events ({events.Count - signal} background + {signal} signal by its label column), {range}; SR [{options.SignalRegionLow}, {options.SignalRegionHigh}] TeV holds {sr.Length - srSignal} background + {srSignal} signal");
    }

    private static string Pm(SeedStatistic s, string format) =>
        s.Mean.ToString(format, CultureInfo.InvariantCulture) + " ± " + s.Spread.ToString(format, CultureInfo.InvariantCulture);

    private static string Inv(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
