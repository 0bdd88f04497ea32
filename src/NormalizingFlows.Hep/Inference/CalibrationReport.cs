using NormalizingFlows.Hep.Evaluation;
using System.Globalization;
using NormalizingFlows.Hep.Reports;
using NormalizingFlows.Training;

namespace NormalizingFlows.Hep.Inference;

/// <summary>
/// The self-contained HTML report of <c>nflow infer calibrate</c>: SBC rank histograms with their χ² p-values, the
/// expected-coverage curve, posterior mean/std against the truth, posterior examples against the truth and, for the
/// W → ℓν model, the comparison with the quadratic neutrino solution.
/// </summary>
public static class CalibrationReport
{
    private static readonly string[] Colors = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"];

    /// <summary>Builds the report.</summary>
    public static HtmlReport Build(string title, string modelDescription, IReadOnlyList<string> names, CalibrationResult calibration,
        IReadOnlyList<PosteriorExample> examples, TrainingHistory? history = null, NeutrinoStudyResult? neutrino = null)
    {
        ArgumentNullException.ThrowIfNull(names);
        ArgumentNullException.ThrowIfNull(calibration);
        ArgumentNullException.ThrowIfNull(examples);
        var report = new HtmlReport(title);
        report.KeyValues([
            ("model", modelDescription),
            ("calibration observations", calibration.Observations.ToString(CultureInfo.InvariantCulture)),
            ("posterior samples per observation", calibration.SamplesPerObservation.ToString(CultureInfo.InvariantCulture)),
            ("smallest SBC p-value", F(calibration.MinPValue, "G3") + (calibration.MinPValue > 0.01 ? " (ranks consistent with uniform)" : " (ranks NOT uniform: miscalibrated)")),
        ]);

        report.Section("Simulation-based calibration");
        report.Paragraph("For each simulated (θ*, x), the rank of θ* among the posterior samples given x. A calibrated posterior gives uniform ranks; " +
            "a ∪ shape means an overconfident (too narrow) posterior, a ∩ shape an underconfident one, a slope a bias.");
        var rankPlots = new List<SvgPlot>();
        foreach (var r in calibration.Ranks)
        {
            int b = r.Counts.Length;
            var edges = Enumerable.Range(0, b + 1).Select(i => (double)i / b).ToArray();
            var plot = new SvgPlot($"{r.Name}: χ² = {F(r.ChiSquare, "F1")}/{r.DegreesOfFreedom}, p = {F(r.PValue, "G3")}", "normalised rank", "observations", 380, 260)
                .Add(new StepSeries("ranks", Colors[0], edges, r.Counts.Select(c => (double)c).ToArray(), r.Counts.Select(c => Math.Sqrt(c)).ToArray(), Filled: true))
                .Add(new StepSeries("uniform", "#222222", edges, r.Expected));
            rankPlots.Add(plot);
        }
        report.Figures(rankPlots.ToArray());

        report.Section("Coverage of central credible intervals");
        var coverage = new SvgPlot("expected coverage", "credibility level", "fraction of truths inside", 380, 340) { XRange = (0, 1), YRange = (0, 1) }
            .Add(new LineSeries("ideal", "#888888", [0, 1], [0, 1], Dashed: true));
        for (int j = 0; j < calibration.Parameters.Length; j++)
            coverage.Add(new LineSeries(calibration.Parameters[j].Name, Colors[j % Colors.Length], [0, .. calibration.Levels, 1], [0, .. calibration.Parameters[j].Coverage, 1]));
        coverage.Add(new LineSeries("joint (all parameters)", "#222222", [0, .. calibration.Levels, 1], [0, .. calibration.JointCoverage, 1], Dashed: true));
        report.Figures(coverage);
        report.Table(["parameter", "bias", "RMSE of mean", "mean posterior σ", "pull mean", "pull σ", .. calibration.Levels.Select(l => $"cov {F(100 * l, "G4")}%"), "SBC p"],
            calibration.Parameters.Select((p, j) => (string[])[p.Name, F(p.Bias), F(p.Rmse), F(p.MeanPosteriorStd), F(p.PullMean, "F3"), F(p.PullStd, "F3"),
                .. p.Coverage.Select(c => F(c, "F3")), F(calibration.Ranks[j].PValue, "G3")]));

        if (examples.Count > 0)
        {
            report.Section("Posterior examples");
            report.Paragraph("Posterior samples for single simulated observations; the black line marks the true value.");
            var plots = new List<SvgPlot>();
            int d = names.Count;
            for (int e = 0; e < examples.Count; e++)
                for (int j = 0; j < d; j++)
                {
                    var ex = examples[e];
                    var v = Enumerable.Range(0, ex.Samples.Length / d).Select(s => ex.Samples[s * d + j]).ToArray();
                    plots.Add(HistogramWithMarkers($"observation {e + 1}: {names[j]}", names[j], v, [(ex.Truth[j], "#222222", "truth")]));
                }
            report.Figures(plots.ToArray());
        }

        if (neutrino is not null)
        {
            report.Section("W → ℓν: neutrino p_z, flow posterior versus the W-mass constraint");
            report.KeyValues([
                ("held-out events", neutrino.Events.ToString("N0", CultureInfo.InvariantCulture)),
                ("posterior samples per event", neutrino.SamplesPerEvent.ToString(CultureInfo.InvariantCulture)),
                ("events without a real root", F(100 * neutrino.NoRealRootFraction, "F1") + " %"),
                ("posterior sampling speed", $"{F(neutrino.PosteriorsPerSecond, "F0")} posteriors/s ({F(neutrino.SamplesPerSecond / 1e6, "F2")} M samples/s); {F(neutrino.PosteriorsPerCpuSecond, "F0")} per CPU second"),
            ]);
            report.Table(["method", "events", "n", "σ68 [GeV]", "RMS [GeV]", "median bias [GeV]", "68% coverage"],
                neutrino.Rows.Select(r => new[] { r.Method, r.Category, r.Events.ToString(CultureInfo.InvariantCulture), F(r.Sigma68, "F1"), F(r.Rms, "F1"), F(r.MedianBias, "F1"),
                    double.IsNaN(r.Coverage68) ? "–" : F(r.Coverage68, "F3") }));
            var plots = neutrino.Examples.Select((ex, i) => HistogramWithMarkers(
                $"event {i + 1} ({(ex.HasRealRoots ? "two real roots" : "no real root")})", "p_z^ν [GeV]", ex.PosteriorPz,
                ex.HasRealRoots
                    ? [(ex.TruePz, "#222222", "truth"), (ex.Small, "#2ca02c", "root (smaller |p_z|)"), (ex.Large, "#ff7f0e", "other root")]
                    : [(ex.TruePz, "#222222", "truth"), (ex.Small, "#2ca02c", "real part of the roots")])).ToArray();
            report.Figures(plots);
        }

        if (history is not null && history.Epochs.Count > 0)
        {
            report.Section("Training");
            report.Figures(FlowPlots.TrainingCurve(history));
        }
        return report;
    }

    private static SvgPlot HistogramWithMarkers(string title, string xLabel, double[] values, (double X, string Color, string Label)[] markers)
    {
        var sorted = values.Where(double.IsFinite).OrderBy(v => v).ToArray();
        double lo = sorted.Length > 0 ? SortedQuantile.Of(sorted, 0.002) : -1, hi = sorted.Length > 0 ? SortedQuantile.Of(sorted, 0.998) : 1;
        foreach (var m in markers) { lo = Math.Min(lo, m.X); hi = Math.Max(hi, m.X); }
        double pad = 0.05 * (hi - lo) + 1e-9;
        lo -= pad; hi += pad;
        const int bins = 40;
        var edges = Enumerable.Range(0, bins + 1).Select(i => lo + (hi - lo) * i / bins).ToArray();
        var (density, _) = FlowPlots.Histogram(values, edges);
        double top = density.DefaultIfEmpty(1).Max() * 1.1;
        var plot = new SvgPlot(title, xLabel, "posterior density", 380, 260).Add(new StepSeries("posterior", Colors[0], edges, density, Filled: true));
        foreach (var m in markers) plot.Add(new LineSeries(m.Label, m.Color, [m.X, m.X], [0, top]));
        return plot;
    }

    private static string F(double v, string format = "F4") => v.ToString(format, CultureInfo.InvariantCulture);
}
