using NormalizingFlows.Autograd;
using NormalizingFlows.Data;
using NormalizingFlows.IO;
using NormalizingFlows.Models;
using NormalizingFlows.Nn.Embeddings;
using NormalizingFlows.Tensors;
using NormalizingFlows.Training;

namespace NormalizingFlows.Tests.Models;

/// <summary>Issue #15 item 6: conditional flows fitted from tables (context columns, their preprocessing, an embedding) and sampled or scored with a context.</summary>
public class ConditionalFitTests
{
    private const double Slope = 2, Sigma = 0.5;

    // x | c ~ N(Slope·c, Sigma) with c ~ U(lo, hi), and a weight column w = 1
    private static Table Events(int n, int seed, double lo = -2, double hi = 2)
    {
        var r = new Rng(seed);
        var v = new double[n * 3];
        for (int i = 0; i < n; i++)
        {
            double c = lo + (hi - lo) * r.NextDouble();
            v[i * 3] = Slope * c + Sigma * r.NextNormal();
            v[i * 3 + 1] = c;
            v[i * 3 + 2] = 1;
        }
        return new Table(["x", "c", "w"], v, n);
    }

    private static FlowSpec Spec => new() { Builder = "maf", Features = 1, Layers = 2, Hidden = 16, Seed = 3, DType = "float64" };

    private static FlowFitOptions Options(int epochs = 1, double fraction = 0, EmbeddingSpec? embedding = null) => new()
    {
        Training = new TrainingOptions { Epochs = epochs, BatchSize = 128, LearningRate = 5e-3, Seed = 11, ValidationFraction = fraction, ReportEverySteps = int.MaxValue },
        ContextColumns = ["c"],
        WeightColumn = "w",
        Embedding = embedding,
    };

    private static Table Context(params double[] c) => new(["c"], c, c.Length);

    [Fact]
    public void TrainedConditionalMeanFollowsTheContext()
    {
        var fit = new FlowModelTrainer<double>(Spec, Events(3000, 1), Options(epochs: 25));
        Assert.Equal(1, fit.Model.Spec.ContextFeatures);
        Assert.Equal(["x"], fit.Model.Columns);
        Assert.Equal(["c"], fit.Model.ContextColumns);
        fit.Fit();
        const int n = 2000;
        double[] at = [-1.5, 0, 1.5];
        var samples = FlowModelTables.Sample(fit.Model, n, new Rng(5), context: Context(at));
        Assert.Equal(["x", "c"], samples.Columns);
        Assert.Equal(n * at.Length, samples.Rows);
        for (int k = 0; k < at.Length; k++)
        {
            // n events per context row, in context-row order, each carrying its context
            var x = Enumerable.Range(k * n, n).Select(r => samples[r, 0]).ToArray();
            Assert.All(Enumerable.Range(k * n, n), r => Assert.Equal(at[k], samples[r, 1]));
            double mean = x.Average(), sd = Math.Sqrt(x.Select(v => (v - mean) * (v - mean)).Sum() / (n - 1));
            Assert.True(Math.Abs(mean - Slope * at[k]) < 0.15, $"mean at c = {at[k]}: {mean}, expected {Slope * at[k]}");
            Assert.True(Math.Abs(sd - Sigma) < 0.15, $"sd at c = {at[k]}: {sd}, expected {Sigma}");
        }
    }

    [Fact]
    public void ContextPreprocessingIsStandardisationFittedOnTheTrainingRowsOnly()
    {
        // validation contexts lie in [10, 20]: they must not move the standardisation of the training contexts in [-1, 1]
        var fit = new FlowModelTrainer<double>(Spec, Events(400, 2, -1, 1), Options(), validation: Events(100, 3, 10, 20));
        var pre = fit.Model.ContextPreprocessing!;
        Assert.NotNull(pre);
        var train = fit.TrainingData.Context!;
        Assert.Equal(train.ReadOnlySpan.ToArray().Max(), pre.TrainingMax.ReadOnlySpan[0]);
        Assert.True(fit.ValidationData!.Context!.ReadOnlySpan.ToArray().Min() >= 10);
        using var _ = GradMode.Disable();
        var z = pre.Forward(new Var<double>(train)).Y.Value.ReadOnlySpan.ToArray();
        double mean = z.Average(), variance = z.Select(v => (v - mean) * (v - mean)).Average();
        Assert.Equal(0, mean, 1e-9);
        Assert.Equal(1, variance, 1e-9);

        // a random split: the same, on the rows the split kept for training
        var split = new FlowModelTrainer<double>(Spec, Events(400, 2), Options(fraction: 0.25));
        Assert.Equal(300, split.TrainingData.Rows);
        Assert.Equal(split.TrainingData.Context!.ReadOnlySpan.ToArray().Min(), split.Model.ContextPreprocessing!.TrainingMin.ReadOnlySpan[0]);
        Assert.Equal(split.TrainingData.Context!.ReadOnlySpan.ToArray().Max(), split.Model.ContextPreprocessing!.TrainingMax.ReadOnlySpan[0]);
    }

    [Fact]
    public void LogProbOfSampledEventsWithTheirContextEqualsTheSampledLogProb()
    {
        var fit = new FlowModelTrainer<double>(Spec, Events(400, 4), Options());
        fit.Fit();
        var m = fit.Model;
        var samples = FlowModelTables.Sample(m, 7, new Rng(9), withLogProb: true, context: Context(-1, 0.5, 3));
        Assert.Equal(["x", "c", SampleStream.LogProbColumn], samples.Columns);
        var lp = FlowModelTables.LogProb(m, samples.SelectColumns("x"), samples);
        Assert.Equal(samples.ToColumns()[2], lp);

        // the stream writes the same rows; one context row serves all events
        var csv = new StringWriter();
        SampleStream.WriteCsv(m, 7, new Rng(9), csv, withLogProb: true, context: Context(-1, 0.5, 3));
        Assert.Equal(samples.Values, Csv.Read(new StringReader(csv.ToString()), "samples").Values);
        var one = FlowModelTables.LogProb(m, samples.SelectColumns("x"), Context(0.5));
        var repeated = FlowModelTables.LogProb(m, samples.SelectColumns("x"), new Table(["c"], Enumerable.Repeat(0.5, samples.Rows).ToArray(), samples.Rows));
        Assert.Equal(repeated, one);
        Assert.NotEqual(lp, one);
    }

    [Fact]
    public void EmbeddingIsPassedThroughAndSavedWithTheModel()
    {
        var fit = new FlowModelTrainer<double>(Spec, Events(300, 5), Options(embedding: new EmbeddingSpec { Kind = EmbeddingSpec.Mlp, Features = 4, Hidden = 8, Layers = 1 }));
        Assert.Equal(4, fit.Model.Spec.ContextFeatures);
        Assert.Equal(1, fit.Model.ContextFeatures);
        fit.Fit();
        string path = Path.Combine(Path.GetTempPath(), $"nflow-ctx-{Guid.NewGuid():N}.nflow");
        try
        {
            ModelFile.Save(path, fit.Model);
            var back = ModelFile.Load<double>(path);
            var events = new Table(["x"], [0.3, -1, 2], 3);
            Assert.Equal(FlowModelTables.LogProb(fit.Model, events, Context(1, 0, -1)), FlowModelTables.LogProb(back, events, Context(1, 0, -1)));
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void BadContextsAreRefusedNamingTheColumn()
    {
        var data = Events(200, 6);
        var ex = Assert.Throws<ArgumentException>(() => new FlowModelTrainer<double>(Spec, data, Options() with { ContextColumns = ["z"] }));
        Assert.Contains("context column 'z'", ex.Message);
        ex = Assert.Throws<ArgumentException>(() => new FlowModelTrainer<double>(Spec, data, Options() with { ContextColumns = ["w"] }));
        Assert.Contains("'w' is the WeightColumn", ex.Message);
        ex = Assert.Throws<ArgumentException>(() => new FlowModelTrainer<double>(Spec, data, Options() with { ContextColumns = ["c", "c"] }));
        Assert.Contains("'c' twice", ex.Message);
        ex = Assert.Throws<ArgumentException>(() => new FlowModelTrainer<double>(Spec with { ContextFeatures = 3 }, data, Options()));
        Assert.Contains("3 context features", ex.Message);
        ex = Assert.Throws<ArgumentException>(() => new FlowModelTrainer<double>(Spec with { ContextFeatures = 1 }, data.SelectColumns("x,w"), Options() with { ContextColumns = null }));
        Assert.Contains("no ContextColumns", ex.Message);
        ex = Assert.Throws<ArgumentException>(() => (Options() with { ContextColumns = null, Embedding = new EmbeddingSpec { Kind = EmbeddingSpec.Mlp } }).Validate());
        Assert.Contains("Embedding needs ContextColumns", ex.Message);

        var m = new FlowModelTrainer<double>(Spec, data, Options()).Model;
        var events = new Table(["x"], [0.0], 1);
        Assert.Contains("conditional on (c)", Assert.Throws<ArgumentException>(() => FlowModelTables.LogProb(m, events)).Message);
        Assert.Contains("conditional on (c)", Assert.Throws<ArgumentException>(() => FlowModelTables.Sample(m, 3, new Rng(1))).Message);
        Assert.Contains("lacks the model's context column(s) c", Assert.Throws<ArgumentException>(() => FlowModelTables.LogProb(m, events, new Table(["d"], [1.0], 1))).Message);
        Assert.Contains("column 'c' is NaN", Assert.Throws<ArgumentException>(() => FlowModelTables.LogProb(m, events, Context(double.NaN))).Message);
        Assert.Contains("2 rows for 1 events", Assert.Throws<ArgumentException>(() => FlowModelTables.LogProb(m, events, Context(1, 2))).Message);
        var plain = new FlowModel<double>(Spec);
        Assert.Contains("unconditional", Assert.Throws<ArgumentException>(() => FlowModelTables.Sample(plain, 3, new Rng(1), context: Context(1))).Message);
    }
}
