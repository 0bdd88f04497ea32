using NormalizingFlows.Hep.Evaluation;
using NormalizingFlows.Tensors;

namespace NormalizingFlows.Hep.AnomalyDetection;

/// <summary>
/// A k-fold ensemble of <see cref="MlpClassifier"/>s: events are dealt (stratified by label, seeded) into k folds;
/// for each fold, <see cref="EnsembleOptions.Members"/> classifiers train (and early-stop) on the other folds and
/// their averaged probability scores the fold's events — so no event is scored by a model that saw it. Events
/// outside the training set are scored by the average of all k × members models (<see cref="Score"/>).
/// Data are columns: <c>columns[j][i]</c> is feature j of event i.
/// </summary>
public sealed class CrossFittedEnsemble
{
    private readonly MlpClassifier[][] _models;

    private CrossFittedEnsemble(MlpClassifier[][] models, double[] outOfFold, int[] fold)
    {
        _models = models; OutOfFold = outOfFold; Fold = fold;
    }

    /// <summary>Out-of-fold probability D(x) of the positive class for every training event.</summary>
    public double[] OutOfFold { get; }

    /// <summary>The fold of each training event.</summary>
    public int[] Fold { get; }

    /// <summary>Number of folds.</summary>
    public int Folds => _models.Length;

    /// <summary>
    /// Trains the ensemble on all events of <paramref name="columns"/> with <paramref name="labels"/> (optional event
    /// <paramref name="weights"/>). With class balancing (default) the prior odds are 1 whatever the class sizes.
    /// Events from index <paramref name="trainOnlyFrom"/> on (when given) join every fold's training set and are never
    /// scored (their <see cref="OutOfFold"/> entry is NaN and their <see cref="Fold"/> −1): extra simulated events
    /// for a supervised classifier.
    /// </summary>
    public static CrossFittedEnsemble Fit(double[][] columns, bool[] labels, EnsembleOptions? options = null, double[]? weights = null, int? trainOnlyFrom = null)
    {
        options ??= new EnsembleOptions();
        options.Validate();
        ArgumentNullException.ThrowIfNull(columns);
        ArgumentNullException.ThrowIfNull(labels);
        int n = labels.Length;
        if (columns.Length == 0 || columns.Any(c => c is null || c.Length != n)) throw new ArgumentException($"every feature column needs {n} events (one per label)");
        int scored = trainOnlyFrom ?? n;
        if (scored < 0 || scored > n) throw new ArgumentOutOfRangeException(nameof(trainOnlyFrom), trainOnlyFrom, $"must lie in [0, {n}]");
        int np = labels.AsSpan(0, scored).Count(true), k = options.Folds;
        if (np < k || scored - np < k) throw new ArgumentException($"each class needs at least {k} events (one per fold): got {np} positive and {scored - np} negative");
        long seed = options.Classifier.Seed;
        var rng = new Rng(unchecked(seed ^ 0x5EED_F01DL));
        var fold = new int[n];
        var pos = Enumerable.Range(0, scored).Where(i => labels[i]).ToArray();
        var neg = Enumerable.Range(0, scored).Where(i => !labels[i]).ToArray();
        for (int i = scored; i < n; i++) fold[i] = -1;
        rng.Shuffle(pos.AsSpan()); rng.Shuffle(neg.AsSpan());
        for (int r = 0; r < pos.Length; r++) fold[pos[r]] = r % k;
        for (int r = 0; r < neg.Length; r++) fold[neg[r]] = r % k;
        var models = new MlpClassifier[k][];
        var oof = new double[n];
        oof.AsSpan(scored).Fill(double.NaN);
        for (int f = 0; f < k; f++)
        {
            var train = new List<int>(n);
            var test = new List<int>(n / k + 1);
            for (int i = 0; i < n; i++) (fold[i] == f ? test : train).Add(i);
            models[f] = new MlpClassifier[options.Members];
            var sum = new double[test.Count];
            for (int m = 0; m < options.Members; m++)
            {
                var o = options.Classifier with { Seed = unchecked(seed * 1_000_003 + 7919 * f + 104_729 * m + 1) };
                var clf = MlpClassifier.Fit(columns, labels, weights, o, train);
                models[f][m] = clf;
                var p = clf.PredictProbabilities(columns, test);
                for (int r = 0; r < p.Length; r++) sum[r] += p[r];
            }
            for (int r = 0; r < test.Count; r++) oof[test[r]] = sum[r] / options.Members;
        }
        return new CrossFittedEnsemble(models, oof, fold);
    }

    /// <summary>The probability D(x) averaged over all models, for events none of them trained on.</summary>
    public double[] Score(double[][] columns)
    {
        ArgumentNullException.ThrowIfNull(columns);
        double[]? sum = null;
        int count = 0;
        foreach (var clf in _models.SelectMany(m => m))
        {
            var p = clf.PredictProbabilities(columns);
            sum ??= new double[p.Length];
            for (int i = 0; i < p.Length; i++) sum[i] += p[i];
            count++;
        }
        for (int i = 0; i < sum!.Length; i++) sum[i] /= count;
        return sum;
    }
}
