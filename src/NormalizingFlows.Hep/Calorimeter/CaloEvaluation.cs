using System.Globalization;
using NormalizingFlows.Hep.Evaluation;
using NormalizingFlows.Hep.Reports;

namespace NormalizingFlows.Hep.Calorimeter;

/// <summary>A set of showers to compare with the reference: its name, the showers and its generation time per shower (NaN: not timed).</summary>
public sealed record CaloCandidate(string Name, CaloShowers Showers, double SecondsPerShower);

/// <summary>The comparison of one candidate with the reference: classifier AUCs on unnormalised and normalised inputs.</summary>
/// <param name="Name">The candidate's name.</param>
/// <param name="SecondsPerShower">Generation time per shower (NaN when not timed).</param>
/// <param name="Unnormalised">Two-sample test on the 504 voxel energies (GeV) and E_inc.</param>
/// <param name="Normalised">Two-sample test on the 504 voxels divided by their layer energy, log₁₀ E_i and log₁₀ E_inc.</param>
public sealed record CaloComparison(string Name, double SecondsPerShower, TwoSampleTestResult Unnormalised, TwoSampleTestResult Normalised);

/// <summary>
/// The CaloFlow evaluation: classifier two-sample tests (the seeds' "ultimate metric": a DNN trained to tell reference
/// showers from generated ones, on unnormalised and on normalised inputs; AUC 0.5 ideal), the histograms of
/// <see cref="CaloObservables"/>, average shower images per layer, generation times, and an HTML report of it all.
/// </summary>
public static class CaloEvaluation
{
    private static readonly string[] Colors = ["#d62728", "#1f77b4", "#2ca02c", "#9467bd"];

    /// <summary>The classifier inputs as columns (<c>result[j][i]</c>): unnormalised or normalised (see <see cref="CaloComparison"/>).</summary>
    public static double[][] ClassifierColumns(CaloShowers showers, bool normalised)
    {
        ArgumentNullException.ThrowIfNull(showers);
        int n = showers.Count, extra = normalised ? 4 : 1;
        var cols = new double[CaloGeometry.Voxels + extra][];
        for (int j = 0; j < cols.Length; j++) cols[j] = new double[n];
        Span<double> layerE = stackalloc double[3];
        for (int i = 0; i < n; i++)
        {
            var s = showers.Shower(i);
            for (int l = 0; l < 3; l++) layerE[l] = showers.LayerEnergy(i, l);
            for (int v = 0; v < CaloGeometry.Voxels; v++)
            {
                double e = layerE[CaloGeometry.LayerOf(v)];
                cols[v][i] = normalised ? (e > 0 ? s[v] / e : 0) : s[v];
            }
            if (normalised)
            {
                for (int l = 0; l < 3; l++) cols[CaloGeometry.Voxels + l][i] = Math.Log10(layerE[l] + 1e-3);
                cols[CaloGeometry.Voxels + 3][i] = Math.Log10(showers.IncidentEnergies[i]);
            }
            else cols[CaloGeometry.Voxels][i] = showers.IncidentEnergies[i];
        }
        return cols;
    }

    /// <summary>Runs both classifier tests of every candidate against <paramref name="reference"/> (label 1).</summary>
    public static IReadOnlyList<CaloComparison> Compare(CaloShowers reference, IReadOnlyList<CaloCandidate> candidates, ClassifierOptions? classifier = null)
    {
        ArgumentNullException.ThrowIfNull(reference);
        ArgumentNullException.ThrowIfNull(candidates);
        classifier ??= DefaultClassifier;
        var refU = ClassifierColumns(reference, normalised: false);
        var refN = ClassifierColumns(reference, normalised: true);
        var list = new List<CaloComparison>();
        foreach (var c in candidates)
            list.Add(new CaloComparison(c.Name, c.SecondsPerShower,
                ClassifierTwoSampleTest.Run(refU, ClassifierColumns(c.Showers, false), classifier),
                ClassifierTwoSampleTest.Run(refN, ClassifierColumns(c.Showers, true), classifier)));
        return list;
    }

    /// <summary>The classifier of the reported figures: ReLU MLP 505 → 256 → 256 → 1, 2-fold cross-fitting, up to 40 epochs with early stopping.</summary>
    public static ClassifierOptions DefaultClassifier { get; } = new() { HiddenSizes = [256, 256], Folds = 2, Epochs = 40, Patience = 5, LearningRate = 1e-3 };

    /// <summary>One row per candidate: name, time per shower, AUCs ± errors (plain text, for the console).</summary>
    public static IEnumerable<string[]> TableRows(IEnumerable<CaloComparison> comparisons, double simulatorSecondsPerShower = double.NaN)
    {
        var inv = CultureInfo.InvariantCulture;
        if (double.IsFinite(simulatorSecondsPerShower))
            yield return ["simulator (reference)", FormatTime(simulatorSecondsPerShower), "0.5 (by definition)", "0.5 (by definition)"];
        foreach (var c in comparisons)
            yield return [c.Name, FormatTime(c.SecondsPerShower),
                string.Format(inv, "{0:F3} ± {1:F3}", c.Unnormalised.Auc, c.Unnormalised.AucError),
                string.Format(inv, "{0:F3} ± {1:F3}", c.Normalised.Auc, c.Normalised.AucError)];
    }

    /// <summary>Table header matching <see cref="TableRows"/>.</summary>
    public static readonly string[] TableHeader = ["sample", "time per shower", "AUC vs simulator (unnormalised)", "AUC vs simulator (normalised)"];

    /// <summary>Seconds formatted with a unit (µs, ms, s).</summary>
    public static string FormatTime(double seconds) => !double.IsFinite(seconds) ? "—"
        : seconds < 1e-3 ? (seconds * 1e6).ToString("F1", CultureInfo.InvariantCulture) + " µs"
        : seconds < 1 ? (seconds * 1e3).ToString("F2", CultureInfo.InvariantCulture) + " ms"
        : seconds.ToString("F2", CultureInfo.InvariantCulture) + " s";

    /// <summary>Decades of mean voxel energy the average-image colour scale spans below its brightest voxel.</summary>
    public const int AverageImageDecades = 6;

    /// <summary>
    /// The HTML report: the table, histograms of the observables (reference vs every candidate), average images per
    /// layer (log₁₀ of the mean energy) and the classifier score distributions.
    /// </summary>
    public static HtmlReport Report(string title, CaloShowers reference, IReadOnlyList<CaloCandidate> candidates, IReadOnlyList<CaloComparison> comparisons,
        double simulatorSecondsPerShower, IEnumerable<(string Key, string Value)>? notes = null, int bins = 40)
    {
        var report = new HtmlReport(title);
        if (notes is not null) report.Section("Setup").KeyValues(notes);
        report.Section("Classifier AUC and generation time")
            .Paragraph("A DNN is trained (cross-fitted) to separate reference showers (simulator) from generated ones; AUC 0.5 means it cannot. Unnormalised inputs: 504 voxel energies and E_inc; normalised: voxels divided by their layer energy, log₁₀ E_i and log₁₀ E_inc.")
            .Table(TableHeader, TableRows(comparisons, simulatorSecondsPerShower));

        var refObs = CaloObservables.Compute(reference);
        var candObs = candidates.Select(c => CaloObservables.Compute(c.Showers)).ToArray();
        var plots = new List<SvgPlot>();
        var refNamed = refObs.Named().ToArray();
        var candNamed = candObs.Select(o => o.Named().ToArray()).ToArray();
        for (int k = 0; k < refNamed.Length; k++)
        {
            var (name, values) = refNamed[k];
            var range = EvaluationPlots.Range(values, 0.001, 0.999); // never empty: ±0.5 around a constant
            var edges = Enumerable.Range(0, bins + 1).Select(b => range.Min + (range.Max - range.Min) * b / bins).ToArray();
            var plot = new SvgPlot(name, name, "density");
            var (d, e) = FlowPlots.Histogram(values, edges);
            plot.Add(new StepSeries("simulator", FlowPlots.DataColor, edges, d, e, Filled: true));
            for (int c = 0; c < candidates.Count; c++)
            {
                var (dc, ec) = FlowPlots.Histogram(candNamed[c][k].Values, edges);
                plot.Add(new StepSeries(candidates[c].Name, Colors[c % Colors.Length], edges, dc, ec));
            }
            plots.Add(plot);
        }
        report.Section("Shower observables").Figures(plots.ToArray());

        var images = new List<SvgPlot>();
        var sets = new List<(string, CaloShowers)> { ("simulator", reference) };
        sets.AddRange(candidates.Select(c => (c.Name, c.Showers)));
        // log₁₀ of the mean energy per voxel (a voxel no shower reached has none and stays blank); every set shares one
        // colour scale per layer, spanning AverageImageDecades below the layer's brightest voxel
        var logImages = sets.Select(set => Enumerable.Range(0, 3).Select(l =>
        {
            var g = CaloGeometry.Layers[l];
            var mean = CaloObservables.AverageImage(set.Item2, l);
            var img = new double[g.Columns, g.Rows]; // x bin i (column), y bin j (row)
            for (int r = 0; r < g.Rows; r++) for (int c = 0; c < g.Columns; c++) img[c, r] = mean[r, c] > 0 ? Math.Log10(mean[r, c]) : double.NaN;
            return img;
        }).ToArray()).ToArray();
        for (int k = 0; k < sets.Count; k++)
            for (int l = 0; l < 3; l++)
            {
                var g = CaloGeometry.Layers[l];
                double top = logImages.SelectMany(set => set[l].Cast<double>()).Where(double.IsFinite).DefaultIfEmpty(0).Max();
                double bottom = Math.Max(top - AverageImageDecades, logImages.SelectMany(set => set[l].Cast<double>()).Where(double.IsFinite).DefaultIfEmpty(top - 1).Min());
                if (!(top > bottom)) bottom = top - 1;
                double hx = g.Columns * g.CellWidth / 2, hy = g.Rows * g.CellHeight / 2;
                images.Add(new SvgPlot($"{sets[k].Item1}: layer {l}", "x (mm)", "y (mm)", 400, 340) { XRange = (-hx, hx), YRange = (-hy, hy) }
                    .Add(new HeatmapSeries("", -hx, hx, -hy, hy, logImages[k][l], bottom, top, "log₁₀ mean energy (GeV)")));
            }
        report.Section("Average shower images")
            .Paragraph(FormattableString.Invariant($"log₁₀ of the mean energy per voxel (GeV), one colour scale per layer for all samples, spanning {AverageImageDecades} decades below the brightest voxel; blank voxels received no energy in any shower."))
            .Figures(images.ToArray());
        report.Section("Classifier scores").Figures(comparisons.Select(c => EvaluationPlots.ClassifierScores(c.Normalised, "simulator", c.Name + " (normalised)")).ToArray());
        return report;
    }
}
