using System.Globalization;
using System.Numerics;
using NormalizingFlows.Flows;
using NormalizingFlows.Hep.Evaluation;
using NormalizingFlows.Tensors;
using NormalizingFlows.Training;

namespace NormalizingFlows.Hep.Reports;

/// <summary>
/// The <c>nflow eval</c> report: a summary (test log-likelihood ± standard error, classifier-test AUC ± σ, event
/// counts), per-feature marginals of data and model with ratio panels and a moments/χ² table, pairwise 2-D densities
/// (data and model heat maps side by side), the training curve and the classifier two-sample test (ROC with the
/// diagonal, out-of-fold score distributions). Data come as columns: <c>test[j][i]</c> is feature j of event i.
/// Self-contained HTML (inline SVG, no scripts).
/// </summary>
public static class EvaluationReport
{
    /// <summary>
    /// Builds the report for <paramref name="flow"/>: its test log-likelihood is evaluated on <paramref name="test"/>;
    /// <paramref name="samples"/> are the flow's samples (as columns) and the optional history and two-sample test
    /// (data = A, samples = B) add their sections.
    /// </summary>
    public static HtmlReport Build<T>(Flow<T> flow, string[] names, double[][] test, double[][] samples, TrainingHistory? history = null,
        TwoSampleTestResult? twoSample = null, EvaluationReportOptions? options = null) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var (ll, o) = LogLikelihood(flow, test, options);
        return Build(names, test, samples, ll, history, twoSample, o);
    }

    private static ((double Mean, double StandardError) Ll, EvaluationReportOptions Options) LogLikelihood<T>(Flow<T> flow, double[][] test, EvaluationReportOptions? options)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(flow);
        int n = MlpClassifier.CheckColumns(test, null);
        if (test.Length != flow.Features) throw new ArgumentException($"test data has {test.Length} features; the flow models {flow.Features}");
        var x = Tensor<T>.Empty(n, test.Length).Untrack();
        var s = x.Span;
        for (int i = 0; i < n; i++)
            for (int j = 0; j < test.Length; j++) s[i * test.Length + j] = T.CreateTruncating(test[j][i]);
        var ll = MaximumLikelihoodTrainer<T>.Evaluate(flow, new TrainingData<T>(x));
        options ??= new EvaluationReportOptions();
        if (options.ModelDescription is null)
            options = options with { ModelDescription = FormattableString.Invariant($"{flow.Transform.GetType().Name.Split('`')[0]} over {flow.Base.GetType().Name.Split('`')[0]}, {flow.ParameterCount():N0} parameters") };
        return (ll, options);
    }

    /// <summary>
    /// Builds the report for <paramref name="flow"/> with a two-judge classifier test (MLP and gradient-boosted trees
    /// on the same folds): both AUCs with their errors, the larger as the headline, a ROC curve and score
    /// distributions per judge.
    /// </summary>
    public static HtmlReport Build<T>(Flow<T> flow, string[] names, double[][] test, double[][] samples, TrainingHistory? history,
        TwoSampleVerdict verdict, EvaluationReportOptions? options = null) where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(verdict);
        var (ll, o) = LogLikelihood(flow, test, options);
        return Core(names, test, samples, ll, history, null, verdict, o);
    }

    /// <summary>Builds the report from precomputed pieces with a two-judge classifier test (see the flow overload).</summary>
    public static HtmlReport Build(string[] names, double[][] test, double[][] samples, (double Mean, double StandardError)? testLogLikelihood,
        TrainingHistory? history, TwoSampleVerdict verdict, EvaluationReportOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(verdict);
        return Core(names, test, samples, testLogLikelihood, history, null, verdict, options);
    }

    /// <summary>Builds the report from precomputed pieces (any of the log-likelihood, history and two-sample test may be missing).</summary>
    public static HtmlReport Build(string[] names, double[][] test, double[][] samples, (double Mean, double StandardError)? testLogLikelihood,
        TrainingHistory? history = null, TwoSampleTestResult? twoSample = null, EvaluationReportOptions? options = null) =>
        Core(names, test, samples, testLogLikelihood, history, twoSample, null, options);

    private static HtmlReport Core(string[] names, double[][] test, double[][] samples, (double Mean, double StandardError)? testLogLikelihood,
        TrainingHistory? history, TwoSampleTestResult? twoSample, TwoSampleVerdict? verdict, EvaluationReportOptions? options)
    {
        options ??= new EvaluationReportOptions();
        ArgumentNullException.ThrowIfNull(names);
        int nTest = MlpClassifier.CheckColumns(test, null), nModel = MlpClassifier.CheckColumns(samples, null);
        int d = test.Length;
        if (samples.Length != d) throw new ArgumentException($"test data has {d} features, the samples {samples.Length}");
        if (names.Length != d) throw new ArgumentException($"{names.Length} names for {d} features");

        var report = new HtmlReport(options.Title);
        var summary = new List<(string, string)>();
        if (options.ModelDescription is { } md) summary.Add(("model", md));
        summary.Add(("events", FormattableString.Invariant($"{nTest:N0} test events, {nModel:N0} model samples, {d} features")));
        if (testLogLikelihood is { } ll)
            summary.Add(("test log-likelihood", $"{F(ll.Mean, "F4")} ± {F(ll.StandardError, "F4")} per event (higher is better)" +
                (options.OutsideDomain > 0 ? FormattableString.Invariant($"; over the {nTest - options.OutsideDomain:N0} events inside the model's domain: {options.OutsideDomain:N0} lie outside (log p = −∞)") : "")));
        else if (options.OutsideDomain > 0)
            summary.Add(("test log-likelihood", FormattableString.Invariant($"none: all {options.OutsideDomain:N0} test events lie outside the model's domain (log p = −∞)")));
        if (twoSample is not null)
        {
            summary.Add(("classifier AUC", $"{F(twoSample.Auc, "F4")} ± {F(twoSample.AucError, "F4")} (0.5: indistinguishable; {F(twoSample.Significance, "F1")} σ from 0.5)"));
            summary.Add(("classifier", $"MLP, {twoSample.FoldAuc.Length}-fold cross-fitted, fold AUCs {string.Join(", ", twoSample.FoldAuc.Select(a => F(a, "F3")))}"));
        }
        if (verdict is not null)
        {
            summary.Add(("classifier AUC (the larger of two judges)", $"{F(verdict.Auc, "F4")} ± {F(verdict.AucError, "F4")} by {verdict.Headline.Judge} (0.5: indistinguishable; {F(verdict.Headline.Significance, "F1")} σ from 0.5)"));
            foreach (var j in verdict.Judges)
                summary.Add(($"{j.Judge} judge", $"AUC {F(j.Auc, "F4")} ± {F(j.AucError, "F4")}, {j.FoldAuc.Length}-fold cross-fitted, fold AUCs {string.Join(", ", j.FoldAuc.Select(a => F(a, "F3")))}"));
        }
        if (history is { Epochs.Count: > 0 })
            summary.Add(("training", FormattableString.Invariant($"{history.Epochs.Count} epochs, {history.Steps:N0} steps, {history.Outcome}") + (history.BestEpoch is { } be ? FormattableString.Invariant($", parameters of epoch {be}") : "")));
        report.Section("Summary").KeyValues(summary);

        // marginals
        var rows = new List<string[]>();
        var hists = new List<SvgPlot>();
        var ratios = new List<SvgPlot>();
        for (int j = 0; j < d; j++)
        {
            var (h, r) = FlowPlots.Marginal(names[j], test[j], samples[j], options.Bins);
            hists.Add(h); ratios.Add(r);
            rows.Add([names[j], F(Mean(test[j]), "G4"), F(Std(test[j]), "G4"), F(Mean(samples[j]), "G4"), F(Std(samples[j]), "G4"), Chi2(test[j], samples[j], options.Bins)]);
        }
        report.Section("Marginals: data vs model (model/data ratio below each)");
        for (int j = 0; j < d; j += 3)
        {
            int m = Math.Min(3, d - j);
            report.Figures(hists.GetRange(j, m).ToArray()).Figures(ratios.GetRange(j, m).ToArray());
        }
        report.Table(["feature", "data mean", "data std", "model mean", "model std", "χ²/ndf (histograms)"], rows);

        // pairwise densities
        var pairs = Pairs(d, options);
        if (pairs.Count > 0)
        {
            report.Section("Pairwise densities: data (left) and model (right)");
            if (pairs.Count < d * (d - 1) / 2) report.Paragraph(FormattableString.Invariant($"Showing {pairs.Count} of {d * (d - 1) / 2} pairs (neighbouring features)."));
            var ranges = Enumerable.Range(0, d).Select(j => EvaluationPlots.Range(test[j])).ToArray();
            for (int p = 0; p < pairs.Count; p += 2)
            {
                var figs = new List<SvgPlot>();
                foreach (var (a, b) in pairs.Skip(p).Take(2))
                {
                    figs.Add(EvaluationPlots.Histogram2D($"data: {names[a]} vs {names[b]}", test[a], test[b], ranges[a], ranges[b], names[a], names[b], options.PairBins));
                    figs.Add(EvaluationPlots.Histogram2D($"model: {names[a]} vs {names[b]}", samples[a], samples[b], ranges[a], ranges[b], names[a], names[b], options.PairBins));
                }
                report.Figures(figs.ToArray());
            }
        }

        if (history is { Epochs.Count: > 0 }) report.Section("Training").Figures(FlowPlots.TrainingCurve(history));

        if (twoSample is not null)
        {
            report.Section("Classifier two-sample test");
            report.Paragraph("An MLP is trained to tell test data (positive) from model samples; every event is scored by a model " +
                "trained on the other folds. AUC 0.5 means the classifier cannot distinguish them; the larger the AUC, the more " +
                "the model differs from the data somewhere in feature space.");
            report.Figures(EvaluationPlots.RocCurve(twoSample.Roc, "ROC: data vs model", "model samples passing", "data passing"),
                EvaluationPlots.ClassifierScores(twoSample));
        }
        if (verdict is not null)
        {
            report.Section("Classifier two-sample test");
            report.Paragraph("Two classifiers are trained to tell test data (positive) from model samples on the same folds: an MLP " +
                "and gradient-boosted decision trees (up to 300 trees, histogram bins that keep discrete values apart, early stopping on " +
                "a held-out tenth). Every event is scored by a model trained on the other folds. AUC 0.5 means a judge cannot " +
                "distinguish them; the headline is the larger AUC, since each judge misses differences the other finds.");
            foreach (var j in verdict.Judges)
                report.Figures(EvaluationPlots.RocCurve(j.Roc, $"ROC ({j.Judge}): data vs model", "model samples passing", "data passing"),
                    EvaluationPlots.ClassifierScores(j, "data", $"model ({j.Judge})"));
        }
        return report;
    }

    private static List<(int, int)> Pairs(int d, EvaluationReportOptions o)
    {
        var pairs = new List<(int, int)>();
        if (d <= o.AllPairsUpTo)
        {
            for (int a = 0; a < d; a++)
                for (int b = a + 1; b < d; b++) pairs.Add((a, b));
        }
        else for (int a = 0; a + 1 < d; a++) pairs.Add((a, a + 1));
        return pairs.Take(Math.Max(0, o.MaxPairs)).ToList();
    }

    private static string Chi2(double[] data, double[] model, int bins)
    {
        var (lo, hi) = EvaluationPlots.Range(data);
        var edges = Enumerable.Range(0, bins + 1).Select(i => lo + (hi - lo) * i / bins).ToArray();
        var (hd, ed) = FlowPlots.Histogram(data, edges);
        var (hm, em) = FlowPlots.Histogram(model, edges);
        double chi2 = 0;
        int ndf = 0;
        for (int i = 0; i < bins; i++)
        {
            double v = ed[i] * ed[i] + em[i] * em[i];
            if (!(v > 0)) continue;
            chi2 += (hd[i] - hm[i]) * (hd[i] - hm[i]) / v;
            ndf++;
        }
        return ndf == 0 ? "n/a" : F(chi2 / ndf, "F2");
    }

    private static double Mean(double[] v)
    {
        double s = 0; int n = 0;
        foreach (var x in v) if (double.IsFinite(x)) { s += x; n++; }
        return n == 0 ? double.NaN : s / n;
    }

    private static double Std(double[] v)
    {
        double m = Mean(v), s = 0; int n = 0;
        foreach (var x in v) if (double.IsFinite(x)) { s += (x - m) * (x - m); n++; }
        return n < 2 ? double.NaN : Math.Sqrt(s / (n - 1));
    }

    /// <summary>Invariant formatting; "n/a" for non-finite values (so the report never shows NaN).</summary>
    private static string F(double v, string format) => double.IsFinite(v) ? v.ToString(format, CultureInfo.InvariantCulture) : "n/a";
}
