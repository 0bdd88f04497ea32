using System.Diagnostics;
using Microsoft.ML;
using Microsoft.ML.Data;
using NormalizingFlows.Hep.Evaluation;
using NormalizingFlows.Tensors;
using Xunit.Abstractions;

namespace NormalizingFlows.Hep.Tests.Evaluation;

public class GradientBoostedTreesTests(ITestOutputHelper output)
{
    private const int Dim = 4;

    /// <summary>A: correlated, shifted and widened Gaussian; B: standard normal (a difference both GBDTs must find).</summary>
    private static (double[][] A, double[][] B) Detectable(int na, int nb, long seed)
    {
        var (a, b) = TestData.Pair(seed, na, nb, Dim);
        for (int i = 0; i < na; i++)
        {
            a[0][i] += 0.3;
            a[1][i] = 0.6 * a[0][i] + 0.8 * a[1][i];
            a[2][i] *= 1.25;
        }
        return (a, b);
    }

    [Fact]
    public void AgreesWithMlNetFastTreeOnTheSameSamplesAndFolds()
    {
        var (a, b) = Detectable(2000, 2000, 11);
        const int folds = 3;
        const long seed = 5;
        var opts = new GradientBoostedTreesOptions { Trees = 300, LearningRate = 0.1, MaxLeaves = 20, MinLeafSize = 20, ValidationFraction = 0 };
        var clock = Stopwatch.StartNew();
        var ours = ClassifierTwoSampleTest.RunTrees(a, b, opts, folds, seed);
        double oursSeconds = clock.Elapsed.TotalSeconds;

        // the same folds, each scored by ML.NET's FastTree trained on the other folds with the same settings
        int na = a[0].Length, nb = b[0].Length, n = na + nb;
        var fold = ClassifierTwoSampleTest.AssignFolds(na, nb, folds, seed);
        var rows = new Row[n];
        for (int i = 0; i < n; i++)
        {
            var src = i < na ? a : b;
            int r = i < na ? i : i - na;
            rows[i] = new Row { Label = i < na, Features = Enumerable.Range(0, Dim).Select(j => (float)src[j][r]).ToArray() };
        }
        var ml = new MLContext(seed: 1);
        var scores = new double[n];
        clock.Restart();
        for (int f = 0; f < folds; f++)
        {
            var train = ml.Data.LoadFromEnumerable(rows.Where((_, i) => fold[i] != f));
            var model = ml.BinaryClassification.Trainers.FastTree(numberOfLeaves: 20, numberOfTrees: 300, minimumExampleCountPerLeaf: 20, learningRate: 0.1)
                .Fit(train);
            var testIdx = Enumerable.Range(0, n).Where(i => fold[i] == f).ToArray();
            var pred = model.Transform(ml.Data.LoadFromEnumerable(testIdx.Select(i => rows[i])));
            var s = pred.GetColumn<float>("Score").ToArray();
            for (int k = 0; k < testIdx.Length; k++) scores[testIdx[k]] = s[k];
        }
        var labels = Enumerable.Range(0, n).Select(i => i < na).ToArray();
        double fastTree = Roc.Auc(scores, labels);
        output.WriteLine($"ours: AUC {ours.Auc:F4} ± {ours.AucError:F4} ({oursSeconds:F2} s); ML.NET FastTree: {fastTree:F4} ({clock.Elapsed.TotalSeconds:F2} s)");
        Assert.True(ours.Auc > 0.6, $"the difference is detectable: AUC {ours.Auc}");
        Assert.InRange(ours.Auc - fastTree, -0.03, 0.03);
    }

    private sealed class Row
    {
        public bool Label { get; set; }

        [VectorType(Dim)]
        public float[] Features { get; set; } = [];
    }

    [Fact]
    public void IdenticalDistributionsGiveOneHalfWithinItsError()
    {
        var (a, b) = TestData.Pair(12, 4000, 5000, 3);
        var r = ClassifierTwoSampleTest.RunTrees(a, b, seed: 3);
        output.WriteLine($"identical: GBDT AUC {r.Auc:F4} ± {r.AucError:F4}, fold AUCs {string.Join(", ", r.FoldAuc.Select(x => x.ToString("F3")))}, {r.Seconds:F2} s");
        Assert.Equal("GBDT", r.Judge);
        Assert.InRange(r.Auc, 0.5 - 3 * r.AucError, 0.5 + 3 * r.AucError);
        Assert.All(r.EpochsPerFold, t => Assert.InRange(t, 1, 300));
    }

    /// <summary>
    /// Column 0 of A sits on a lattice (a Gaussian rounded to steps of 0.05), B's is the same Gaussian unrounded: the
    /// marginal densities agree to a smooth eye, so the MLP sees nothing, while the trees give every lattice value its
    /// own bin and catch it (the toy-calorimeter failure of issue 22 in one column).
    /// </summary>
    [Fact]
    public void TreesCatchALatticeTheMlpMisses()
    {
        var (a, b) = TestData.Pair(13, 3000, 3000, 2);
        for (int i = 0; i < a[0].Length; i++) a[0][i] = Math.Round(a[0][i] / 0.05) * 0.05;
        var v = ClassifierTwoSampleTest.RunBoth(a, b, new ClassifierOptions { Seed = 4, Folds = 3 });
        output.WriteLine($"lattice: {v.Describe()}; {v.Mlp.Seconds:F2} s + {v.Trees.Seconds:F2} s");
        Assert.InRange(v.Mlp.Auc, 0.45, 0.56);
        Assert.True(v.Trees.Auc > 0.75, $"GBDT AUC {v.Trees.Auc}");
        Assert.Same(v.Trees, v.Headline);
        Assert.Equal(v.Trees.Auc, v.Auc);
        // same folds for both judges
        Assert.Equal(v.Mlp.FoldA, v.Trees.FoldA);
        Assert.Equal(v.Mlp.FoldB, v.Trees.FoldB);
        Assert.StartsWith("AUC ", v.Describe());
        Assert.Contains("GBDT, the larger; MLP", v.Describe());
    }

    [Fact]
    public void ShiftedGaussiansReachNearlyTheOptimalAuc()
    {
        const double delta = 0.5;
        var (a, b) = TestData.Pair(14, 5000, 5000, 2, delta);
        var r = ClassifierTwoSampleTest.RunTrees(a, b, seed: 1);
        double expected = TestData.NormalCdf(delta / Math.Sqrt(2));
        output.WriteLine($"shift {delta}: GBDT AUC {r.Auc:F4} ± {r.AucError:F4}, optimal {expected:F4}, {r.Seconds:F2} s");
        Assert.InRange(r.Auc, expected - 0.03, expected + 3 * r.AucError);
    }

    [Fact]
    public void FitIsDeterministicAndNegativeWeightsDoNotCrash()
    {
        var rng = new Rng(15);
        var x = TestData.Gaussian(2000, 3, 0, rng);
        var labels = new bool[2000];
        var w = new double[2000];
        for (int i = 0; i < 2000; i++)
        {
            labels[i] = i % 2 == 0;
            if (labels[i]) x[0][i] += 0.7;
            w[i] = i % 7 == 0 ? -0.5 : 1.0; // NLO-like negative weights
        }
        var o = new GradientBoostedTreesOptions { Trees = 50, Seed = 9, ValidationFraction = 0 };
        var m1 = GradientBoostedTrees.Fit(x, labels, w, o);
        var m2 = GradientBoostedTrees.Fit(x, labels, w, o);
        var z1 = m1.PredictLogits(x);
        Assert.Equal(z1, m2.PredictLogits(x));
        Assert.All(z1, z => Assert.True(double.IsFinite(z)));
        Assert.Equal(50, m1.TreeCount);
        Assert.True(Roc.Auc(z1, labels) > 0.6);
        // the negative-weight two-sample test runs and reports a finite AUC and error
        var r = ClassifierTwoSampleTest.RunTrees([x[0][..1000], x[1][..1000], x[2][..1000]], [x[0][1000..], x[1][1000..], x[2][1000..]],
            o, 2, 0, w[..1000], w[1000..]);
        Assert.True(double.IsFinite(r.Auc) && double.IsFinite(r.AucError));
    }

    [Fact]
    public void BinEdgesGiveEveryAtomItsOwnBin()
    {
        // 10 distinct values: one bin each, edges at the midpoints
        var col = Enumerable.Range(0, 1000).Select(i => (double)(i % 10)).ToArray();
        var rows = Enumerable.Range(0, 1000).ToArray();
        var e = GradientBoostedTrees.BinEdges(col, rows, 255, 1_000_000, new Rng(1));
        Assert.Equal(Enumerable.Range(0, 9).Select(k => k + 0.5), e);
        // a continuous column with a heavy atom at 0 (40 %): the atom is a bin alone, at most 16 bins in all
        var rng = new Rng(2);
        var mixed = Enumerable.Range(0, 5000).Select(i => i % 5 < 2 ? 0.0 : rng.NextNormal()).ToArray();
        rows = Enumerable.Range(0, 5000).ToArray();
        e = GradientBoostedTrees.BinEdges(mixed, rows, 16, 1_000_000, new Rng(1));
        Assert.True(e.Length <= 15);
        int b0 = GradientBoostedTrees.BinOf(e, 0.0);
        Assert.True(b0 > 0 && b0 < e.Length, "the atom is an inner bin");
        Assert.True(e[b0] > 0 && e[b0 - 1] < 0);
        int inAtomBin = mixed.Count(v => GradientBoostedTrees.BinOf(e, v) == b0);
        Assert.Equal(2000, inAtomBin); // nothing but the atom shares its bin
        for (int k = 1; k < e.Length; k++) Assert.True(e[k] > e[k - 1]);
    }

    [Fact]
    public void BadInputsAreRejectedWithTheirPlace()
    {
        var x = new[] { new double[] { 0, 1, 2, 3 }, new double[] { 0, double.NaN, 2, 3 } };
        var labels = new[] { true, false, true, false };
        var ex = Assert.Throws<ArgumentException>(() => GradientBoostedTrees.Fit(x, labels, null));
        Assert.Contains("feature 1 of event 1", ex.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => GradientBoostedTrees.Fit(x, labels, null, new GradientBoostedTreesOptions { MaxBins = 300 }));
        Assert.Throws<ArgumentException>(() => GradientBoostedTrees.Fit([[0, 1]], [true, true], null));
    }
}
