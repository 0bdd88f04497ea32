using System.Globalization;
using NormalizingFlows.Hep.Evaluation;
using NormalizingFlows.Hep.Reports;

namespace NormalizingFlows.Hep.Calorimeter;

/// <summary>
/// The CaloFlow evaluation: classifier two-sample tests (the seeds' "ultimate metric": classifiers trained to tell
/// reference showers from generated ones; AUC 0.5 ideal) by two judges — an MLP and gradient-boosted trees, on the
/// same folds, the larger AUC the headline — on four inputs (<see cref="CaloClassifierInput"/>: raw voxels,
/// layer-normalised voxels, CaloChallenge-style log of E_inc-normalised voxels, the 22 shower observables), the CaloChallenge
/// metrics with their own high-level and low-level classifier tests (<see cref="HighLevelTest"/>), the histograms
/// of <see cref="CaloObservables"/>, average shower images per layer, generation times, and an HTML report of it all.
/// </summary>
public static class CaloEvaluation
{
    private static readonly string[] Colors = ["#d62728", "#1f77b4", "#2ca02c", "#9467bd"];

    /// <summary>Every input, in table order.</summary>
    public static IReadOnlyList<CaloClassifierInput> AllInputs { get; } =
        [CaloClassifierInput.Raw, CaloClassifierInput.LayerNormalised, CaloClassifierInput.LogNormalised, CaloClassifierInput.HighLevel];

    /// <summary>The classifier inputs as columns (<c>result[j][i]</c>): raw (false) or layer-normalised (true) voxels.</summary>
    public static double[][] ClassifierColumns(CaloShowers showers, bool normalised) =>
        ClassifierColumns(showers, normalised ? CaloClassifierInput.LayerNormalised : CaloClassifierInput.Raw);

    /// <summary>The columns (<c>result[j][i]</c>) of one classifier input (see <see cref="CaloClassifierInput"/>).</summary>
    public static double[][] ClassifierColumns(CaloShowers showers, CaloClassifierInput input)
    {
        ArgumentNullException.ThrowIfNull(showers);
        if (input == CaloClassifierInput.HighLevel) return HighLevelColumns(showers);
        if (input == CaloClassifierInput.LogNormalised) return LowLevelColumns(showers.Voxels, showers.IncidentEnergies, CaloGeometry.Voxels);
        if (!Enum.IsDefined(input)) throw new ArgumentOutOfRangeException(nameof(input), input, "unknown classifier input");
        int n = showers.Count, extra = input == CaloClassifierInput.LayerNormalised ? 4 : 1;
        var cols = new double[CaloGeometry.Voxels + extra][];
        for (int j = 0; j < cols.Length; j++) cols[j] = new double[n];
        Span<double> layerE = stackalloc double[3];
        for (int i = 0; i < n; i++)
        {
            var s = showers.Shower(i);
            double einc = showers.IncidentEnergies[i];
            for (int l = 0; l < 3; l++) layerE[l] = showers.LayerEnergy(i, l);
            for (int v = 0; v < CaloGeometry.Voxels; v++)
            {
                double e = layerE[CaloGeometry.LayerOf(v)];
                cols[v][i] = input switch
                {
                    CaloClassifierInput.LayerNormalised => e > 0 ? s[v] / e : 0,
                    _ => s[v],
                };
            }
            switch (input)
            {
                case CaloClassifierInput.LayerNormalised:
                    for (int l = 0; l < 3; l++) cols[CaloGeometry.Voxels + l][i] = Math.Log10(layerE[l] + 1e-3);
                    cols[CaloGeometry.Voxels + 3][i] = Math.Log10(einc);
                    break;
                default:
                    cols[CaloGeometry.Voxels][i] = einc;
                    break;
            }
        }
        return cols;
    }

    /// <summary>
    /// The CaloChallenge-style low-level classifier input of showers of any geometry (<paramref name="voxelsPerShower"/>
    /// voxels each, row-major in <paramref name="voxels"/>) as columns: log₁₀(E_voxel/E_inc + 10⁻⁸) of every voxel, then log₁₀ E_inc.
    /// </summary>
    public static double[][] LowLevelColumns(double[] voxels, double[] incidentEnergies, int voxelsPerShower)
    {
        ArgumentNullException.ThrowIfNull(voxels);
        ArgumentNullException.ThrowIfNull(incidentEnergies);
        int n = incidentEnergies.Length;
        if (voxelsPerShower < 1 || voxels.Length != (long)n * voxelsPerShower)
            throw new ArgumentException($"{voxels.Length} voxel values for {n} showers of {voxelsPerShower} voxels", nameof(voxels));
        var cols = new double[voxelsPerShower + 1][];
        for (int j = 0; j < cols.Length; j++) cols[j] = new double[n];
        for (int i = 0; i < n; i++)
        {
            double einc = incidentEnergies[i];
            if (!(einc > 0)) throw new ArgumentException($"shower {i}: E_inc = {einc} GeV; the log-normalised input needs E_inc > 0");
            var s = voxels.AsSpan(i * voxelsPerShower, voxelsPerShower);
            for (int v = 0; v < voxelsPerShower; v++)
                cols[v][i] = s[v] >= 0 ? Math.Log10(s[v] / einc + 1e-8)
                    : throw new ArgumentException($"shower {i}, voxel {v}: energy {s[v]} GeV < 0; the log-normalised input needs non-negative voxels");
            cols[voxelsPerShower][i] = Math.Log10(einc);
        }
        return cols;
    }

    private static double[][] HighLevelColumns(CaloShowers showers)
    {
        var o = CaloObservables.Compute(showers);
        int n = o.Count;
        for (int i = 0; i < n; i++)
            if (!(o.IncidentEnergy[i] > 0)) throw new ArgumentException($"shower {i}: E_inc = {o.IncidentEnergy[i]} GeV; the high-level input needs E_inc > 0");
        var cols = new List<double[]>
        {
            o.IncidentEnergy.Select(Math.Log10).ToArray(),
            Enumerable.Range(0, n).Select(i => o.TotalEnergy[i] / o.IncidentEnergy[i]).ToArray(),
        };
        for (int l = 0; l < 3; l++) cols.Add(o.LayerEnergy[l].Select(e => Math.Log10(e + 1e-3)).ToArray());
        cols.AddRange(o.LayerFraction);
        cols.AddRange(o.Sparsity);
        cols.AddRange(o.CentroidX);
        cols.AddRange(o.CentroidY);
        cols.AddRange(o.LateralWidth);
        cols.Add(o.Depth);
        cols.Add(o.DepthWidth);
        return cols.ToArray();
    }

    /// <summary>
    /// Runs the two-judge tests of every candidate against <paramref name="reference"/> (label 1) on each of
    /// <paramref name="inputs"/> (default: <see cref="AllInputs"/>): the MLP with <paramref name="classifier"/>
    /// (default <see cref="DefaultClassifier"/>; its folds and seed are shared by both judges) and gradient-boosted
    /// trees with <paramref name="trees"/> (default settings).
    /// </summary>
    public static IReadOnlyList<CaloComparison> Compare(CaloShowers reference, IReadOnlyList<CaloCandidate> candidates, ClassifierOptions? classifier = null,
        GradientBoostedTreesOptions? trees = null, IReadOnlyList<CaloClassifierInput>? inputs = null)
    {
        ArgumentNullException.ThrowIfNull(reference);
        ArgumentNullException.ThrowIfNull(candidates);
        classifier ??= DefaultClassifier;
        inputs ??= AllInputs;
        if (inputs.Count == 0) throw new ArgumentException("no classifier inputs to test", nameof(inputs));
        var refColumns = inputs.Distinct().ToDictionary(i => i, i => ClassifierColumns(reference, i));
        var list = new List<CaloComparison>();
        foreach (var c in candidates)
        {
            var tests = new Dictionary<CaloClassifierInput, TwoSampleVerdict>();
            foreach (var input in refColumns.Keys)
                tests[input] = ClassifierTwoSampleTest.RunBoth(refColumns[input], ClassifierColumns(c.Showers, input), classifier, trees);
            list.Add(new CaloComparison(c.Name, c.SecondsPerShower, tests));
        }
        return list;
    }

    /// <summary>
    /// The CaloChallenge metrics of <paramref name="generated"/> against <paramref name="reference"/> (the same
    /// geometry): the separation power of every high-level feature with <paramref name="bins"/> bins of the
    /// reference's binning (<see cref="CaloHighLevelFeatures.Edges"/>), and FPD and KPD of the high-level features
    /// (<see cref="PhysicsDistance"/> with <paramref name="distances"/>). The classifier AUCs are added by the caller
    /// (<see cref="CaloMetrics.HighLevel"/>, <see cref="CaloMetrics.LowLevel"/>), which usually has them already.
    /// </summary>
    public static CaloMetrics Metrics(string name, CaloHighLevelFeatures reference, CaloHighLevelFeatures generated, PhysicsDistanceOptions? distances = null, int bins = 100)
    {
        ArgumentNullException.ThrowIfNull(reference);
        ArgumentNullException.ThrowIfNull(generated);
        var separation = reference.SeparationPowers(generated, bins);
        var a = reference.Columns.ToArray();
        var b = generated.Columns.ToArray();
        return new CaloMetrics(name, separation, PhysicsDistance.Fpd(a, b, distances), PhysicsDistance.Kpd(a, b, distances));
    }

    /// <summary>
    /// The CaloChallenge metrics with both classifier tests, of showers read from two files: <see cref="Metrics(string, CaloHighLevelFeatures, CaloHighLevelFeatures, PhysicsDistanceOptions?, int)"/>,
    /// the high-level test <see cref="HighLevelTest"/> and the low-level test on <paramref name="referenceLowLevel"/>
    /// and <paramref name="generatedLowLevel"/> (<see cref="LowLevelColumns"/> of each geometry).
    /// </summary>
    public static CaloMetrics Metrics(string name, CaloHighLevelFeatures reference, CaloHighLevelFeatures generated, double[][] referenceLowLevel, double[][] generatedLowLevel,
        ClassifierOptions? classifier = null, PhysicsDistanceOptions? distances = null)
    {
        classifier ??= DefaultClassifier;
        return WithTests(name, reference, generated, ClassifierTwoSampleTest.RunBoth(referenceLowLevel, generatedLowLevel, classifier), classifier, distances);
    }

    /// <summary>
    /// The CaloChallenge metrics of every candidate of <paramref name="comparisons"/> (from <see cref="Compare"/>, in
    /// the order of <paramref name="candidates"/>) against <paramref name="reference"/>, with both classifier tests
    /// defined as for two shower files: the high-level one by <see cref="HighLevelTest"/> (the challenge's inputs, not
    /// the <see cref="CaloClassifierInput.HighLevel"/> observables of the comparison), the low-level one the
    /// comparison's <see cref="CaloClassifierInput.LogNormalised"/> test (the columns of <see cref="LowLevelColumns"/>),
    /// run here where the comparison lacks it.
    /// </summary>
    public static IReadOnlyList<CaloMetrics> Metrics(CaloShowers reference, IReadOnlyList<CaloCandidate> candidates, IReadOnlyList<CaloComparison> comparisons,
        ClassifierOptions? classifier = null, PhysicsDistanceOptions? distances = null)
    {
        ArgumentNullException.ThrowIfNull(reference);
        ArgumentNullException.ThrowIfNull(candidates);
        ArgumentNullException.ThrowIfNull(comparisons);
        if (comparisons.Count != candidates.Count) throw new ArgumentException($"{comparisons.Count} comparisons for {candidates.Count} candidates", nameof(comparisons));
        classifier ??= DefaultClassifier;
        var features = CaloHighLevelFeatures.Compute(reference);
        return candidates.Select((c, i) =>
        {
            var low = comparisons[i].Tests.TryGetValue(CaloClassifierInput.LogNormalised, out var v) ? v
                : ClassifierTwoSampleTest.RunBoth(ClassifierColumns(reference, CaloClassifierInput.LogNormalised), ClassifierColumns(c.Showers, CaloClassifierInput.LogNormalised), classifier);
            return WithTests(c.Name, features, CaloHighLevelFeatures.Compute(c.Showers), low, classifier, distances);
        }).ToArray();
    }

    /// <summary>
    /// The high-level classifier test of the CaloChallenge metrics (<see cref="CaloMetrics.HighLevel"/>): both judges on
    /// <see cref="CaloHighLevelFeatures.ClassifierColumns"/> of <paramref name="reference"/> (label 1) and <paramref name="generated"/>.
    /// </summary>
    public static TwoSampleVerdict HighLevelTest(CaloHighLevelFeatures reference, CaloHighLevelFeatures generated, ClassifierOptions? classifier = null, GradientBoostedTreesOptions? trees = null)
    {
        ArgumentNullException.ThrowIfNull(reference);
        ArgumentNullException.ThrowIfNull(generated);
        return ClassifierTwoSampleTest.RunBoth(reference.ClassifierColumns(), generated.ClassifierColumns(), classifier ?? DefaultClassifier, trees);
    }

    private static CaloMetrics WithTests(string name, CaloHighLevelFeatures reference, CaloHighLevelFeatures generated, TwoSampleVerdict lowLevel, ClassifierOptions classifier, PhysicsDistanceOptions? distances) =>
        Metrics(name, reference, generated, distances) with { HighLevel = HighLevelTest(reference, generated, classifier), LowLevel = lowLevel };

    /// <summary>Header of <see cref="MetricsRows"/>: "metric" and one column per sample.</summary>
    public static string[] MetricsHeader(IEnumerable<CaloMetrics> metrics) => ["metric", .. metrics.Select(m => m.Name)];

    /// <summary>
    /// The metrics as table rows, one column per sample: FPD and KPD with errors, the high- and low-level classifier
    /// AUCs (headline judge) where run, then the separation power of every feature.
    /// </summary>
    public static IEnumerable<string[]> MetricsRows(IReadOnlyList<CaloMetrics> metrics)
    {
        ArgumentNullException.ThrowIfNull(metrics);
        var inv = CultureInfo.InvariantCulture;
        yield return ["FPD (high-level features)", .. metrics.Select(m => m.Fpd.Describe("G3"))];
        yield return ["KPD (high-level features)", .. metrics.Select(m => m.Kpd.Describe("G3"))];
        static string Auc(TwoSampleVerdict? v) => v is null ? "—" : string.Format(CultureInfo.InvariantCulture, "{0:F3} ± {1:F3} ({2})", v.Auc, v.AucError, v.Headline.Judge);
        if (metrics.Any(m => m.HighLevel is not null)) yield return ["classifier AUC, high-level", .. metrics.Select(m => Auc(m.HighLevel))];
        if (metrics.Any(m => m.LowLevel is not null)) yield return ["classifier AUC, low-level", .. metrics.Select(m => Auc(m.LowLevel))];
        if (metrics.Count == 0) yield break;
        for (int k = 0; k < metrics[0].SeparationPowers.Count; k++)
            yield return ["separation power: " + metrics[0].SeparationPowers[k].Feature, .. metrics.Select(m => m.SeparationPowers[k].SeparationPower.ToString("G3", inv))];
    }

    /// <summary>The MLP of the reported figures: ReLU MLP 505 → 256 → 256 → 1, 2-fold cross-fitting, up to 40 epochs with early stopping.</summary>
    public static ClassifierOptions DefaultClassifier { get; } = new() { HiddenSizes = [256, 256], Folds = 2, Epochs = 40, Patience = 5, LearningRate = 1e-3 };

    /// <summary>Short names of the inputs, for tables.</summary>
    public static string InputName(CaloClassifierInput input) => input switch
    {
        CaloClassifierInput.Raw => "raw voxels (GeV)",
        CaloClassifierInput.LayerNormalised => "voxels / layer energy",
        CaloClassifierInput.LogNormalised => "log10(voxel/E_inc + 1e-8)",
        CaloClassifierInput.HighLevel => "shower observables (22)",
        _ => input.ToString(),
    };

    /// <summary>
    /// One row per candidate and input: name, time per shower, input, MLP AUC ± error, GBDT AUC ± error, the larger
    /// (plain text, for the console and the report).
    /// </summary>
    public static IEnumerable<string[]> TableRows(IEnumerable<CaloComparison> comparisons, double simulatorSecondsPerShower = double.NaN)
    {
        var inv = CultureInfo.InvariantCulture;
        if (double.IsFinite(simulatorSecondsPerShower))
            yield return ["simulator (reference)", FormatTime(simulatorSecondsPerShower), "all", "0.5 (by definition)", "0.5 (by definition)", "0.5"];
        foreach (var c in comparisons)
            foreach (var input in AllInputs)
            {
                if (!c.Tests.TryGetValue(input, out var v)) continue;
                yield return [c.Name, FormatTime(c.SecondsPerShower), InputName(input),
                    string.Format(inv, "{0:F3} ± {1:F3}", v.Mlp.Auc, v.Mlp.AucError),
                    string.Format(inv, "{0:F3} ± {1:F3}", v.Trees.Auc, v.Trees.AucError),
                    string.Format(inv, "{0:F3} ({1})", v.Auc, v.Headline.Judge)];
            }
    }

    /// <summary>Table header matching <see cref="TableRows"/>.</summary>
    public static readonly string[] TableHeader = ["sample", "time per shower", "classifier input", "MLP AUC", "GBDT AUC", "headline (larger)"];

    /// <summary>Seconds formatted with a unit (µs, ms, s).</summary>
    public static string FormatTime(double seconds) => !double.IsFinite(seconds) ? "—"
        : seconds < 1e-3 ? (seconds * 1e6).ToString("F1", CultureInfo.InvariantCulture) + " µs"
        : seconds < 1 ? (seconds * 1e3).ToString("F2", CultureInfo.InvariantCulture) + " ms"
        : seconds.ToString("F2", CultureInfo.InvariantCulture) + " s";

    /// <summary>Adds the section "CaloChallenge metrics" with the table of <see cref="MetricsRows"/> to <paramref name="report"/>.</summary>
    public static HtmlReport MetricsSection(HtmlReport report, IReadOnlyList<CaloMetrics> metrics)
    {
        ArgumentNullException.ThrowIfNull(report);
        report.Section("CaloChallenge metrics")
            .Paragraph("High-level features per shower: E_dep/E_inc, the energy per layer, and per layer with lateral resolution the centre of energy " +
                "and its width in x and y (mm). Separation power ½ Σ (h₁ − h₂)²/(h₁ + h₂) of normalised histograms in the reference's binning " +
                "(0: identical, 1: disjoint). FPD: Fréchet distance of the features' Gaussians, extrapolated to infinite samples (error: the fit's); " +
                "KPD: unbiased MMD² with a cubic polynomial kernel, median over batches (error: half the 16–84 % range); both on features " +
                "divided by the reference's largest absolute value.")
            .Table(MetricsHeader(metrics), MetricsRows(metrics));
        return report;
    }

    /// <summary>Decades of mean voxel energy the average-image colour scale spans below its brightest voxel.</summary>
    public const int AverageImageDecades = 6;

    /// <summary>
    /// The HTML report: the table, histograms of the observables (reference vs every candidate), average images per
    /// layer (log₁₀ of the mean energy) and the classifier score distributions.
    /// </summary>
    public static HtmlReport Report(string title, CaloShowers reference, IReadOnlyList<CaloCandidate> candidates, IReadOnlyList<CaloComparison> comparisons,
        double simulatorSecondsPerShower, IEnumerable<(string Key, string Value)>? notes = null, int bins = 40, IReadOnlyList<CaloMetrics>? metrics = null)
    {
        var report = new HtmlReport(title);
        if (notes is not null) report.Section("Setup").KeyValues(notes);
        if (metrics is { Count: > 0 }) MetricsSection(report, metrics);
        report.Section("Classifier AUC and generation time")
            .Paragraph("Two classifiers — an MLP and gradient-boosted trees (up to 300 trees, early stopping on a held-out tenth) — are trained " +
                "on the same folds (cross-fitted) to separate reference showers (simulator) from generated ones; AUC 0.5 means they cannot, and " +
                "the headline is the larger AUC. Inputs, each a separate test: raw voxels (504 energies in GeV and E_inc); voxels divided by " +
                "their layer energy with log₁₀ E_i and log₁₀ E_inc (CaloFlow's normalised inputs); log₁₀(E_voxel/E_inc + 10⁻⁸) with log₁₀ " +
                "E_inc (CaloChallenge style); the 22 shower observables (log₁₀ E_inc, E_dep/E_inc, per-layer log energies, energy " +
                "fractions, hit fractions, centroids, widths, shower depth and width).")
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
        report.Section("Classifier scores").Figures(comparisons
            .SelectMany(c => c.Tests.OrderBy(kv => kv.Key).Select(kv => EvaluationPlots.ClassifierScores(kv.Value.Headline, "simulator",
                $"{c.Name} ({InputName(kv.Key)}, {kv.Value.Headline.Judge})")))
            .ToArray());
        return report;
    }
}
