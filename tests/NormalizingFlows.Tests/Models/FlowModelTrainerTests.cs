using NormalizingFlows.Autograd;
using NormalizingFlows.Data;
using NormalizingFlows.Data.Preprocessing;
using NormalizingFlows.Models;
using NormalizingFlows.Tensors;
using NormalizingFlows.Training;

namespace NormalizingFlows.Tests.Models;

/// <summary>Issue #15 item 5: a FlowModel fitted from tables by one library call (split, preprocessing, weights, training).</summary>
public class FlowModelTrainerTests
{
    // correlated 2-D Gaussian (a, b) with an offset, and a weight column w (some weights negative)
    private static Table Events(int n, int seed, bool weights = false)
    {
        var r = new Rng(seed);
        int d = weights ? 3 : 2;
        var v = new double[n * d];
        for (int i = 0; i < n; i++)
        {
            double z0 = r.NextNormal(), z1 = r.NextNormal();
            v[i * d] = 5 + 2 * z0;
            v[i * d + 1] = -1 + 0.5 * z0 + 0.3 * z1;
            if (weights) v[i * d + 2] = r.NextDouble() < 0.1 ? -0.5 : 1 + r.NextDouble();
        }
        return new Table(weights ? ["a", "b", "w"] : ["a", "b"], v, n);
    }

    private static FlowSpec Spec(int seed = 1) => new() { Builder = "maf", Features = 2, Layers = 2, Hidden = 8, Seed = seed, DType = "float64" };

    private static FlowFitOptions Options(double fraction = 0, int epochs = 1, string? weights = null, FlowPreprocessing pre = FlowPreprocessing.Standardize) => new()
    {
        Training = new TrainingOptions { Epochs = epochs, BatchSize = 64, LearningRate = 3e-3, Seed = 7, ValidationFraction = fraction, ReportEverySteps = int.MaxValue },
        Preprocessing = pre,
        WeightColumn = weights,
    };

    [Fact]
    public void SplitsBySeededPermutationAndFitsThePreprocessingOnTheTrainingRowsOnly()
    {
        var table = Events(400, 2);
        var fit = new FlowModelTrainer<double>(Spec(), table, Options(fraction: 0.25));
        Assert.Equal((300, 100), (fit.TrainingData.Rows, fit.ValidationData!.Rows));
        // the validation rows are the first quarter of the permutation seeded by seed ^ 0x5EED, the training rows the rest
        var perm = new Rng(7 ^ 0x5EED).Permutation(400);
        for (int j = 0; j < 2; j++)
        {
            Assert.Equal(table[perm[0], j], fit.ValidationData.X[0, j]);
            Assert.Equal(table[perm[100], j], fit.TrainingData.X[0, j]);
        }
        // standardized on the training rows: their mean is 0 after preprocessing, the validation rows' is not exactly
        using var _ = GradMode.Disable();
        var zTrain = fit.Model.Preprocessing!.Forward(new Var<double>(fit.TrainingData.X)).Y.Value.ToDoubleArray();
        var zVal = fit.Model.Preprocessing.Forward(new Var<double>(fit.ValidationData.X)).Y.Value.ToDoubleArray();
        Assert.True(Math.Abs(zTrain.Where((_, i) => i % 2 == 0).Average()) < 1e-12);
        Assert.True(Math.Abs(zVal.Where((_, i) => i % 2 == 0).Average()) > 1e-6);
    }

    [Fact]
    public void FitTrainsTheModelRecordsItsHistoryAndIsReproducible()
    {
        var table = Events(600, 3);
        var fit = new FlowModelTrainer<double>(Spec(), table, Options(fraction: 0.2, epochs: 4));
        double before = fit.EvaluateValidation()!.Value.Mean;
        var history = fit.Fit();
        Assert.Same(history, fit.Model.History);
        Assert.Equal(4, history.Epochs.Count);
        Assert.True(fit.EvaluateValidation()!.Value.Mean > before + 0.1, $"{before} → {fit.EvaluateValidation()!.Value.Mean}");

        var again = new FlowModelTrainer<double>(Spec(), table, Options(fraction: 0.2, epochs: 4));
        again.Fit();
        var x = table.ToTensor<double>();
        Assert.Equal(fit.Model.LogProb(x), again.Model.LogProb(x));
    }

    [Fact]
    public void FitGivesTheSameModelAsTheFlowAndTrainerAssembledByHand()
    {
        // what the demo did before this call existed: standardize on the training rows, build the spline flow, train
        var table = Events(500, 8);
        var train = table.Head(400);
        var validation = table.SelectRows(Enumerable.Range(400, 100).ToArray());
        var options = new TrainingOptions { Epochs = 2, BatchSize = 64, LearningRate = 2e-3, Seed = 3, ReportEverySteps = int.MaxValue };
        var standardize = PreprocessingPipeline.Fit<float>(train, PreprocessingSpec.Uniform(train.Columns, PreprocessingKind.Standardize));
        var nsf = NormalizingFlows.Flows.FlowBuilders.NeuralSplineFlow<float>(2, layers: 2, hidden: 8, bins: 4, bound: 4, rng: new Rng(3));
        var byHand = new NormalizingFlows.Flows.Flow<float>(new NormalizingFlows.Transforms.CompositeTransform<float>(standardize, nsf.Transform), new NormalizingFlows.Distributions.StandardNormal<float>(2));
        new MaximumLikelihoodTrainer<float>(byHand, options).Fit(new TrainingData<float>(train.ToTensor<float>()), new TrainingData<float>(validation.ToTensor<float>()));

        var spec = new FlowSpec { Builder = "nsf", Features = 2, Layers = 2, Hidden = 8, Bins = 4, Bound = 4, Seed = 3 };
        var fit = new FlowModelTrainer<float>(spec, train, new FlowFitOptions { Training = options, Preprocessing = FlowPreprocessing.Standardize }, validation);
        fit.Fit();
        using var _ = GradMode.Disable();
        byHand.Eval();
        var x = table.ToTensor<float>();
        Assert.Equal(byHand.LogProb(new Var<float>(x)).Value.ToDoubleArray(), fit.Model.LogProb(x));
    }

    [Fact]
    public void AWeightColumnIsNotModelledAndWeightsTheEvents()
    {
        var table = Events(300, 4, weights: true);
        var fit = new FlowModelTrainer<double>(Spec(), table, Options(weights: "w"));
        Assert.Equal(["a", "b"], fit.Model.Columns);
        var w = fit.TrainingData.Weights!.ToDoubleArray();
        Assert.Equal(Enumerable.Range(0, 300).Select(i => table[i, 2]), w);
        Assert.Contains(w, x => x < 0);
        Assert.Equal(table[5, 1], fit.TrainingData.X[5, 1]);
        fit.Fit();

        // the weighted fit differs from the unweighted one (same seed, same events)
        var plain = new FlowModelTrainer<double>(Spec(), table.SelectColumns("a,b"), Options());
        plain.Fit();
        var x = table.SelectColumns("a,b").ToTensor<double>();
        Assert.NotEqual(fit.Model.LogProb(x), plain.Model.LogProb(x));

        var ex = Assert.Throws<ArgumentException>(() => new FlowModelTrainer<double>(Spec(), table.SelectColumns("a,b"), Options(weights: "w")));
        Assert.Contains("no weight column 'w'", ex.Message);
    }

    [Fact]
    public void ValidationEventsOutsideTheFittedDomainAreLeftOutAndCounted()
    {
        var train = Events(300, 5);
        var v = (double[])Events(50, 6).Values.Clone();
        v[0] = -100; v[2 * 7] = -50;   // below the given lower bound of a (a log column bounded below at −10)
        var options = Options(pre: FlowPreprocessing.Auto) with { Bounds = ColumnBounds.Parse(["a=-10:"]) };
        var fit = new FlowModelTrainer<double>(Spec(), train, options, new Table(["a", "b"], v, 50));
        Assert.Equal(2, fit.ValidationOutsideDomain);
        Assert.Equal(48, fit.ValidationData!.Rows);
    }

    [Fact]
    public void MismatchedSpecsAndOptionsAreRefusedByName()
    {
        var table = Events(100, 7);
        Assert.Contains("dtype is float32", Assert.Throws<ArgumentException>(() => new FlowModelTrainer<double>(Spec() with { DType = "float32" }, table)).Message);
        Assert.Contains("3 features", Assert.Throws<ArgumentException>(() => new FlowModelTrainer<double>(Spec() with { Features = 3 }, table)).Message);
        var bounded = Options() with { Bounds = ColumnBounds.Parse(["a=0:"]) };
        Assert.Contains("Bounds need Preprocessing = Auto", Assert.Throws<ArgumentException>(() => new FlowModelTrainer<double>(Spec(), table, bounded)).Message);
        var validation = new Table(["b", "a"], new double[4], 2);
        Assert.Contains("the validation data have columns (b, a)", Assert.Throws<ArgumentException>(() => new FlowModelTrainer<double>(Spec(), table, Options(), validation)).Message);
    }
}
