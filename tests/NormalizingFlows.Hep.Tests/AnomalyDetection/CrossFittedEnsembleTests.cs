using NormalizingFlows.Hep.AnomalyDetection;
using NormalizingFlows.Hep.Evaluation;
using NormalizingFlows.Tensors;

namespace NormalizingFlows.Hep.Tests.AnomalyDetection;

public class CrossFittedEnsembleTests
{
    [Fact]
    public void EveryEventIsScoredOutOfFoldAndTrainOnlyEventsAreNever()
    {
        var rng = new Rng(7);
        int n = 3000, extra = 500;
        var x = new double[2][];
        var labels = new bool[n + extra];
        for (int j = 0; j < 2; j++) x[j] = new double[n + extra];
        for (int i = 0; i < n + extra; i++)
        {
            labels[i] = i >= n || i % 3 == 0;
            for (int j = 0; j < 2; j++) x[j][i] = rng.NextNormal() + (labels[i] ? 1.0 : 0.0);
        }
        var e = CrossFittedEnsemble.Fit(x, labels, new EnsembleOptions
        {
            Classifier = new ClassifierOptions { HiddenSizes = [16], Epochs = 15, Patience = 3, Seed = 1 }, Folds = 3, Members = 2,
        }, trainOnlyFrom: n);
        Assert.Equal(3, e.Folds);
        Assert.All(Enumerable.Range(0, n), i => Assert.InRange(e.Fold[i], 0, 2));
        Assert.All(Enumerable.Range(n, extra), i => { Assert.Equal(-1, e.Fold[i]); Assert.True(double.IsNaN(e.OutOfFold[i])); });
        // folds are stratified: each holds a third of each class (±1)
        for (int f = 0; f < 3; f++)
        {
            int pos = Enumerable.Range(0, n).Count(i => e.Fold[i] == f && labels[i]);
            Assert.InRange(pos, 1000 / 3, 1000 / 3 + 1);
        }
        // out-of-fold scores separate the classes as well as the Bayes classifier allows (AUC Φ(Δ/√2·√2) = Φ(1) ≈ 0.84)
        double auc = Roc.Auc(e.OutOfFold[..n], labels[..n]);
        Assert.InRange(auc, 0.80, 0.88);
        // unseen events are scored by the average of all models
        var fresh = new[] { new[] { 2.0, -2.0 }, new[] { 2.0, -2.0 } };
        var p = e.Score(fresh);
        Assert.True(p[0] > 0.5 && p[1] < 0.5, $"{p[0]}, {p[1]}");
        Assert.Throws<ArgumentException>(() => CrossFittedEnsemble.Fit(x, labels, new EnsembleOptions { Folds = 1 }));
    }
}
