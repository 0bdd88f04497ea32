using System.Diagnostics;
using NormalizingFlows.Data;

namespace NormalizingFlows.Hep.Evaluation;

/// <summary>The outcome of a classifier two-sample test of sample A (label 1, e.g. data) against sample B (label 0, e.g. generated).</summary>
/// <param name="Auc">Cross-fitted AUC of the out-of-fold scores (0.5: the classifier cannot tell the samples apart).</param>
/// <param name="AucError">Standard error of the AUC (DeLong, weighted when event weights are given).</param>
/// <param name="LogitsA">Out-of-fold logits z of the events of A: z ≈ log[p_A(x)/p_B(x)] with class balancing.</param>
/// <param name="LogitsB">Out-of-fold logits z of the events of B.</param>
/// <param name="FoldA">Fold of each event of A (the model of that fold, trained on the other folds, scored it).</param>
/// <param name="FoldB">Fold of each event of B.</param>
/// <param name="FoldAuc">AUC of each fold's events alone.</param>
/// <param name="Roc">ROC curve of the pooled out-of-fold scores (A positive).</param>
/// <param name="EpochsPerFold">Epochs each fold's MLP ran before early stopping (GBDT: trees each fold's model holds).</param>
/// <param name="Seconds">Wall time of the whole test.</param>
public sealed record TwoSampleTestResult(double Auc, double AucError, double[] LogitsA, double[] LogitsB, int[] FoldA, int[] FoldB,
    double[] FoldAuc, RocCurve Roc, int[] EpochsPerFold, double Seconds)
{
    /// <summary>Out-of-fold classifier outputs D(x) = σ(z) for the events of A.</summary>
    public double[] ScoresA => LogitsA.Select(MlpClassifier.Sigmoid).ToArray();

    /// <summary>Out-of-fold classifier outputs D(x) = σ(z) for the events of B.</summary>
    public double[] ScoresB => LogitsB.Select(MlpClassifier.Sigmoid).ToArray();

    /// <summary>(AUC − 0.5)/σ: how many standard errors the samples are apart by this test.</summary>
    public double Significance => (Auc - 0.5) / AucError;

    /// <summary>The classifier that judged: "MLP" (<see cref="MlpClassifier"/>) or "GBDT" (<see cref="GradientBoostedTrees"/>).</summary>
    public string Judge { get; init; } = "MLP";

    /// <summary>For each fold, the indices (A first, then B offset by |A|) of the events its classifier trained or early-stopped on.</summary>
    internal int[][] TrainedOn { get; init; } = [];
}

/// <summary>
/// A two-sample test by two judges on the same samples and the same stratified folds: the MLP and gradient-boosted
/// trees. Neither judge finds every difference (trees catch discrete atoms and sharp edges in single features, the
/// MLP smooth correlations), so the headline is the larger AUC. Under identical distributions the larger of two
/// AUCs sits on average about half a standard error above 0.5 (the two are correlated, so less than for
/// independent tests); quote both when that matters.
/// </summary>
/// <param name="Mlp">The test with the <see cref="MlpClassifier"/>.</param>
/// <param name="Trees">The test with <see cref="GradientBoostedTrees"/>.</param>
public sealed record TwoSampleVerdict(TwoSampleTestResult Mlp, TwoSampleTestResult Trees)
{
    /// <summary>The judge with the larger AUC (the MLP on a tie).</summary>
    public TwoSampleTestResult Headline => Trees.Auc > Mlp.Auc ? Trees : Mlp;

    /// <summary>The headline AUC (the larger of the two).</summary>
    public double Auc => Headline.Auc;

    /// <summary>The headline AUC's standard error.</summary>
    public double AucError => Headline.AucError;

    /// <summary>Both tests, MLP first.</summary>
    public IReadOnlyList<TwoSampleTestResult> Judges => [Mlp, Trees];

    /// <summary>
    /// One line: "AUC 0.6123 ± 0.0041 (GBDT, the larger; MLP 0.5512 ± 0.0043)" with the given number format.
    /// </summary>
    public string Describe(string format = "F4")
    {
        var other = ReferenceEquals(Headline, Mlp) ? Trees : Mlp;
        var inv = System.Globalization.CultureInfo.InvariantCulture;
        return $"AUC {Headline.Auc.ToString(format, inv)} ± {Headline.AucError.ToString(format, inv)} ({Headline.Judge}, the larger; " +
            $"{other.Judge} {other.Auc.ToString(format, inv)} ± {other.AucError.ToString(format, inv)})";
    }
}

/// <summary>
/// The classifier two-sample test (the "ultimate metric" of the seeds: if a powerful classifier cannot distinguish
/// generated from true events, p_gen = p_true): an <see cref="MlpClassifier"/> is trained to separate A (data, label 1)
/// from B (generated, label 0) with k-fold cross-fitting — folds stratified by sample, each fold scored by the model
/// trained (and early-stopped) on the other k − 1 folds, so no event is scored by a model that saw it — and the
/// pooled out-of-fold scores give the AUC with its DeLong error. With <see cref="ClassifierOptions.BalanceClasses"/>
/// unequal sample sizes are balanced by loss weights. Data are columns: <c>columns[j][i]</c> is feature j of event i.
/// </summary>
public static class ClassifierTwoSampleTest
{
    /// <summary>Runs the test with the MLP judge on two samples given as feature columns, with optional per-event weights.</summary>
    public static TwoSampleTestResult Run(double[][] sampleA, double[][] sampleB, ClassifierOptions? options = null,
        double[]? weightsA = null, double[]? weightsB = null)
    {
        options ??= new ClassifierOptions();
        options.Validate();
        return CrossFit(sampleA, sampleB, options.Folds, options.Seed, weightsA, weightsB, "MLP", (columns, labels, weights, train, test, f) =>
        {
            var clf = MlpClassifier.Fit(columns, labels, weights, options with { Seed = FoldSeed(options.Seed, f) }, train);
            return (clf.PredictLogits(columns, test), clf.EpochsRun);
        });
    }

    /// <summary>
    /// Runs the test with the gradient-boosted-trees judge, cross-fitted over <paramref name="folds"/> stratified
    /// folds drawn from <paramref name="seed"/> (the same folds as the MLP test
    /// with <see cref="ClassifierOptions.Folds"/> = folds and <see cref="ClassifierOptions.Seed"/> = seed).
    /// </summary>
    public static TwoSampleTestResult RunTrees(double[][] sampleA, double[][] sampleB, GradientBoostedTreesOptions? trees = null,
        int folds = 5, long seed = 0, double[]? weightsA = null, double[]? weightsB = null)
    {
        trees ??= new GradientBoostedTreesOptions();
        trees.Validate();
        if (folds < 2) throw new ArgumentOutOfRangeException(nameof(folds), folds, "cross-fitting needs at least 2 folds");
        return CrossFit(sampleA, sampleB, folds, seed, weightsA, weightsB, "GBDT", (columns, labels, weights, train, test, f) =>
        {
            var clf = GradientBoostedTrees.Fit(columns, labels, weights, trees with { Seed = FoldSeed(trees.Seed, f) }, train);
            return (clf.PredictLogits(columns, test), clf.TreeCount);
        });
    }

    /// <summary>
    /// Runs both judges on the same samples and the same stratified folds (<see cref="ClassifierOptions.Folds"/> and
    /// <see cref="ClassifierOptions.Seed"/> of <paramref name="mlp"/>); the verdict's headline is the larger AUC.
    /// </summary>
    public static TwoSampleVerdict RunBoth(double[][] sampleA, double[][] sampleB, ClassifierOptions? mlp = null,
        GradientBoostedTreesOptions? trees = null, double[]? weightsA = null, double[]? weightsB = null)
    {
        mlp ??= new ClassifierOptions();
        mlp.Validate();
        var m = Run(sampleA, sampleB, mlp, weightsA, weightsB);
        var t = RunTrees(sampleA, sampleB, trees, mlp.Folds, mlp.Seed, weightsA, weightsB);
        return new TwoSampleVerdict(m, t);
    }

    /// <summary>Both judges on two tables with the same columns (see the column overload).</summary>
    public static TwoSampleVerdict RunBoth(Table sampleA, Table sampleB, ClassifierOptions? mlp = null, GradientBoostedTreesOptions? trees = null) =>
        RunBoth(ToColumns(sampleA), ToColumns(sampleB), mlp, trees);

    private static long FoldSeed(long seed, int fold) => unchecked(seed * 31 + 17 + fold);

    private delegate (double[] Logits, int Iterations) FoldFit(double[][] columns, bool[] labels, double[]? weights, List<int> train, List<int> test, int fold);

    private static TwoSampleTestResult CrossFit(double[][] sampleA, double[][] sampleB, int k, long seed, double[]? weightsA, double[]? weightsB,
        string judge, FoldFit fit)
    {
        var clock = Stopwatch.StartNew();
        int na = MlpClassifier.CheckColumns(sampleA, null), nb = MlpClassifier.CheckColumns(sampleB, null);
        if (sampleA.Length != sampleB.Length) throw new ArgumentException($"sample A has {sampleA.Length} features, sample B {sampleB.Length}");
        if (na < k || nb < k)
            throw new ArgumentException($"each sample needs at least {k} events (one per fold): got {na} and {nb}");
        if (weightsA is not null && weightsA.Length != na) throw new ArgumentException($"{weightsA.Length} weights for {na} events of A");
        if (weightsB is not null && weightsB.Length != nb) throw new ArgumentException($"{weightsB.Length} weights for {nb} events of B");
        int n = na + nb;
        var columns = new double[sampleA.Length][];
        for (int j = 0; j < columns.Length; j++) columns[j] = [.. sampleA[j], .. sampleB[j]];
        var labels = new bool[n];
        labels.AsSpan(0, na).Fill(true);
        double[]? weights = null;
        if (weightsA is not null || weightsB is not null)
        {
            weights = new double[n];
            for (int i = 0; i < na; i++) weights[i] = weightsA?[i] ?? 1;
            for (int i = 0; i < nb; i++) weights[na + i] = weightsB?[i] ?? 1;
        }
        var fold = AssignFolds(na, nb, k, seed);
        var logits = new double[n];
        var epochs = new int[k];
        var trainedOn = new int[k][];
        var foldAuc = new double[k];
        for (int f = 0; f < k; f++)
        {
            var trainRows = new List<int>(n);
            var testRows = new List<int>(n / k + 1);
            for (int i = 0; i < n; i++) (fold[i] == f ? testRows : trainRows).Add(i);
            var (z, iterations) = fit(columns, labels, weights, trainRows, testRows, f);
            for (int r = 0; r < testRows.Count; r++) logits[testRows[r]] = z[r];
            epochs[f] = iterations;
            trainedOn[f] = trainRows.ToArray();
            var lab = testRows.Select(i => labels[i]).ToArray();
            var w = weights is null ? default : testRows.Select(i => weights[i]).ToArray().AsSpan();
            foldAuc[f] = Roc.Auc(z, lab, w);
        }
        var roc = Roc.Compute(logits, labels, weights);
        return new TwoSampleTestResult(roc.Auc, roc.AucError, logits[..na], logits[na..], fold[..na], fold[na..], foldAuc, roc, epochs,
            clock.Elapsed.TotalSeconds) { TrainedOn = trainedOn, Judge = judge };
    }

    /// <summary>Runs the test with the MLP judge on two tables with the same columns.</summary>
    public static TwoSampleTestResult Run(Table sampleA, Table sampleB, ClassifierOptions? options = null) =>
        Run(ToColumns(sampleA), ToColumns(sampleB), options);

    /// <summary>The columns of a table (<c>result[j][i]</c> = column j of row i).</summary>
    public static double[][] ToColumns(Table table)
    {
        ArgumentNullException.ThrowIfNull(table);
        return table.ToColumns();
    }

    /// <summary>Stratified fold labels: each sample's events shuffled (seeded) and dealt round-robin into k folds.</summary>
    internal static int[] AssignFolds(int na, int nb, int k, long seed)
    {
        var rng = new Tensors.Rng(unchecked(seed ^ 0x7F0_1D5L));
        var fold = new int[na + nb];
        var pa = rng.Permutation(na);
        for (int r = 0; r < na; r++) fold[pa[r]] = r % k;
        var pb = rng.Permutation(nb);
        for (int r = 0; r < nb; r++) fold[na + pb[r]] = r % k;
        return fold;
    }
}
