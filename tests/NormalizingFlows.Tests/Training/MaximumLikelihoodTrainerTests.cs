using NormalizingFlows.Flows;
using NormalizingFlows.Tensors;
using NormalizingFlows.Training;

namespace NormalizingFlows.Tests.Training;

public class MaximumLikelihoodTrainerTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("nflow-train-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void ReachesTheMaximumLikelihoodSolution()
    {
        var data = GaussianAffine.GaussianData(4000, 2.5, 0.7, 1);
        var flow = GaussianAffine.MakeFlow(1);
        var trainer = new MaximumLikelihoodTrainer<double>(flow, new TrainingOptions { Epochs = 60, BatchSize = 256, LearningRate = 0.05 });
        var history = trainer.Fit(new TrainingData<double>(data));
        var xs = data.ToArray();
        double m = xs.Average(), s = Math.Sqrt(xs.Select(v => (v - m) * (v - m)).Average());
        var affine = (GaussianAffine)flow.Transform;
        Assert.Equal(m, affine.Shift.Value[0], 2e-3);
        Assert.Equal(Math.Log(s), affine.LogScale.Value[0], 2e-3);
        double bestLl = -0.5 * Math.Log(2 * Math.PI * s * s) - 0.5;
        Assert.Equal(bestLl, MaximumLikelihoodTrainer<double>.Evaluate(flow, new TrainingData<double>(data)).Mean, 1e-4);
        Assert.Equal(TrainingOutcome.Completed, history.Outcome);
        Assert.Equal(60, history.Epochs.Count);
        Assert.True(history.Epochs[^1].TrainLoss < history.Epochs[0].TrainLoss);
    }

    [Fact]
    public void WeightedLikelihoodWithNegativeWeightsFindsTheWeightedSolution()
    {
        // as in NLO samples: positive events N(0, 1.2) with weight 1.2 and a subtraction sample N(0.5, 0.8) with weight −0.3
        // (the weighted variance stays positive, so the weighted likelihood has a maximum: mean and variance below)
        var a = GaussianAffine.GaussianData(3000, 0, 1.2, 2).ToArray();
        var b = GaussianAffine.GaussianData(1000, 0.5, 0.8, 3).ToArray();
        var x = Tensor<double>.From(a.Concat(b).ToArray(), 4000, 1);
        var w = Tensor<double>.From(a.Select(_ => 1.2).Concat(b.Select(_ => -0.3)).ToArray(), 4000);
        var xs = x.ToArray(); var ws = w.ToArray();
        double sw = ws.Sum(), m = xs.Zip(ws, (v, q) => v * q).Sum() / sw;
        double s2 = xs.Zip(ws, (v, q) => q * (v - m) * (v - m)).Sum() / sw;
        Assert.True(s2 > 0);
        var flow = GaussianAffine.MakeFlow(1);
        new MaximumLikelihoodTrainer<double>(flow, new TrainingOptions { Epochs = 100, BatchSize = 500, LearningRate = 0.05 })
            .Fit(new TrainingData<double>(x, Weights: w));
        var affine = (GaussianAffine)flow.Transform;
        Assert.Equal(m, affine.Shift.Value[0], 5e-3);
        Assert.Equal(0.5 * Math.Log(s2), affine.LogScale.Value[0], 5e-3);
    }

    [Fact]
    public void EarlyStoppingRestoresTheBestEpoch()
    {
        var train = GaussianAffine.GaussianData(200, 1, 1, 4);
        var val = GaussianAffine.GaussianData(200, -1, 1, 5); // a different distribution: validation worsens as training goes on
        var flow = GaussianAffine.MakeFlow(1);
        var trainer = new MaximumLikelihoodTrainer<double>(flow, new TrainingOptions { Epochs = 200, BatchSize = 50, LearningRate = 0.05, Patience = 3, Schedule = new NormalizingFlows.Optim.ConstantSchedule(0.05) });
        var h = trainer.Fit(new TrainingData<double>(train), new TrainingData<double>(val));
        Assert.Equal(TrainingOutcome.EarlyStopped, h.Outcome);
        Assert.NotNull(h.BestEpoch);
        double best = h.Epochs.Max(e => e.ValidationLogLikelihood!.Value);
        Assert.Equal(best, h.Epochs.First(e => e.Epoch == h.BestEpoch).ValidationLogLikelihood!.Value);
        Assert.Equal(best, MaximumLikelihoodTrainer<double>.Evaluate(flow, new TrainingData<double>(val)).Mean, 12);
        Assert.True(h.Epochs.Count < 200);
    }

    [Fact]
    public void DivergenceRaisesAClearErrorWithStepAndLayer()
    {
        var data = GaussianAffine.GaussianData(500, 0, 1, 6);
        var flow = GaussianAffine.MakeFlow(1);
        var trainer = new MaximumLikelihoodTrainer<double>(flow, new TrainingOptions { Epochs = 50, BatchSize = 100, LearningRate = 1e4, ClipNorm = null, Schedule = new NormalizingFlows.Optim.ConstantSchedule(1e4) });
        var ex = Assert.Throws<TrainingDivergedException>(() => trainer.Fit(new TrainingData<double>(data)));
        Assert.True(ex.Step > 0);
        Assert.NotNull(ex.Layer);
        Assert.Contains("step", ex.Message);
    }

    [Fact]
    public void CancellationKeepsACheckpointAndResumeContinues()
    {
        var data = GaussianAffine.GaussianData(1000, 1, 2, 7);
        string ckpt = Path.Combine(_dir, "run.ckpt");
        var cts = new CancellationTokenSource();
        var flow = GaussianAffine.MakeFlow(1);
        var options = new TrainingOptions { Epochs = 20, BatchSize = 100, LearningRate = 0.05, CheckpointPath = ckpt, ReportEverySteps = 1 };
        var trainer = new MaximumLikelihoodTrainer<double>(flow, options)
        {
            Progress = new SyncProgress<TrainingProgress>(p => { if (p.Step == 25) cts.Cancel(); }),
        };
        var h = trainer.Fit(new TrainingData<double>(data), cancellation: cts.Token);
        Assert.Equal(TrainingOutcome.Cancelled, h.Outcome);
        Assert.Equal(25, h.Steps);
        Assert.True(File.Exists(ckpt));

        var resumed = GaussianAffine.MakeFlow(1);
        var t2 = new MaximumLikelihoodTrainer<double>(resumed, options);
        var h2 = t2.Fit(new TrainingData<double>(data), resumeFrom: ckpt);
        Assert.Equal(TrainingOutcome.Completed, h2.Outcome);
        Assert.Equal(200, h2.Steps);
        Assert.Equal(1.0, ((GaussianAffine)resumed.Transform).Shift.Value[0], 0.1);

        File.WriteAllBytes(Path.Combine(_dir, "junk.ckpt"), [1, 2, 3]);
        Assert.ThrowsAny<IOException>(() => new MaximumLikelihoodTrainer<double>(GaussianAffine.MakeFlow(1), options).Fit(new TrainingData<double>(data), resumeFrom: Path.Combine(_dir, "junk.ckpt")));
    }

    /// <summary>Trains with a validation set for 6 epochs of 10 steps; cancels at <paramref name="cancelAt"/> (0: never) and resumes.</summary>
    private (Flow<double> Flow, TrainingHistory History) RunWithResume(string ckpt, int cancelAt)
    {
        var data = new TrainingData<double>(GaussianAffine.GaussianData(1000, 1, 2, 7));
        var val = new TrainingData<double>(GaussianAffine.GaussianData(300, 1.2, 2, 8));
        var options = new TrainingOptions { Epochs = 6, BatchSize = 100, LearningRate = 0.05, CheckpointPath = ckpt, ReportEverySteps = 1, Seed = 3 };
        var cts = new CancellationTokenSource();
        var flow = GaussianAffine.MakeFlow(1);
        var trainer = new MaximumLikelihoodTrainer<double>(flow, options)
        {
            Progress = new SyncProgress<TrainingProgress>(p => { if (p.Step == cancelAt) cts.Cancel(); }),
        };
        var h = trainer.Fit(data, val, cts.Token);
        if (cancelAt == 0) return (flow, h);
        Assert.Equal(TrainingOutcome.Cancelled, h.Outcome);
        var resumed = GaussianAffine.MakeFlow(1);
        return (resumed, new MaximumLikelihoodTrainer<double>(resumed, options).Fit(data, val, resumeFrom: ckpt));
    }

    [Theory]
    [InlineData(25)] // inside epoch 3
    [InlineData(40)] // on an epoch boundary
    public void AResumedRunEqualsAnUninterruptedOneAndKeepsTheEarlierEpochs(int cancelAt)
    {
        var (straight, h1) = RunWithResume(Path.Combine(_dir, "a.ckpt"), 0);
        var (resumed, h2) = RunWithResume(Path.Combine(_dir, $"b{cancelAt}.ckpt"), cancelAt);
        Assert.Equal(60, h2.Steps);
        Assert.Equal(h1.Epochs.Select(e => (e.Epoch, e.Step, e.TrainLoss, e.ValidationLogLikelihood)), h2.Epochs.Select(e => (e.Epoch, e.Step, e.TrainLoss, e.ValidationLogLikelihood)));
        Assert.Equal(h1.BestEpoch, h2.BestEpoch);
        var a = (GaussianAffine)straight.Transform;
        var b = (GaussianAffine)resumed.Transform;
        Assert.Equal(a.Shift.Value[0], b.Shift.Value[0]);
        Assert.Equal(a.LogScale.Value[0], b.LogScale.Value[0]);
    }

    [Fact]
    public void ResumeRestoresTheBestEpochsParametersWhenTheBestCameBeforeTheInterruption()
    {
        // validation from another distribution: the best epoch is an early one, so the end restores it
        var train = new TrainingData<double>(GaussianAffine.GaussianData(200, 1, 1, 4));
        var val = new TrainingData<double>(GaussianAffine.GaussianData(200, -1, 1, 5));
        string ckpt = Path.Combine(_dir, "best.ckpt");
        var options = new TrainingOptions { Epochs = 12, BatchSize = 50, LearningRate = 0.05, CheckpointPath = ckpt, ReportEverySteps = 1, Schedule = new NormalizingFlows.Optim.ConstantSchedule(0.05) };
        var straight = GaussianAffine.MakeFlow(1);
        var h1 = new MaximumLikelihoodTrainer<double>(straight, options).Fit(train, val);
        Assert.True(h1.BestEpoch < 6, $"best epoch {h1.BestEpoch}");
        var cts = new CancellationTokenSource();
        var first = new MaximumLikelihoodTrainer<double>(GaussianAffine.MakeFlow(1), options) { Progress = new SyncProgress<TrainingProgress>(p => { if (p.Step == 30) cts.Cancel(); }) };
        Assert.Equal(TrainingOutcome.Cancelled, first.Fit(train, val, cts.Token).Outcome);
        var resumed = GaussianAffine.MakeFlow(1);
        var h2 = new MaximumLikelihoodTrainer<double>(resumed, options).Fit(train, val, resumeFrom: ckpt);
        Assert.Equal(h1.BestEpoch, h2.BestEpoch);
        Assert.Equal(((GaussianAffine)straight.Transform).Shift.Value[0], ((GaussianAffine)resumed.Transform).Shift.Value[0]);
    }

    public static TheoryData<string, Func<TrainingOptions, TrainingOptions>> ChangedOptions => new()
    {
        { "Epochs", o => o with { Epochs = 7 } },
        { "LearningRate", o => o with { LearningRate = 0.01 } },
        { "BatchSize", o => o with { BatchSize = 50 } },
        { "Seed", o => o with { Seed = 4 } },
        { "Patience", o => o with { Patience = 2 } },
        { "--layers", o => o with { RunSettings = new Dictionary<string, string> { ["--layers"] = "3" } } },
    };

    [Theory]
    [MemberData(nameof(ChangedOptions))]
    public void ResumeRefusesOtherOptionsNamingTheFirstDifference(string setting, Func<TrainingOptions, TrainingOptions> change)
    {
        var data = new TrainingData<double>(GaussianAffine.GaussianData(500, 1, 2, 7));
        string ckpt = Path.Combine(_dir, "opt.ckpt");
        var options = new TrainingOptions { Epochs = 6, BatchSize = 100, LearningRate = 0.05, CheckpointPath = ckpt, ReportEverySteps = 1, Seed = 3, RunSettings = new Dictionary<string, string> { ["--layers"] = "2" } };
        var cts = new CancellationTokenSource();
        new MaximumLikelihoodTrainer<double>(GaussianAffine.MakeFlow(1), options) { Progress = new SyncProgress<TrainingProgress>(p => { if (p.Step == 7) cts.Cancel(); }) }.Fit(data, cancellation: cts.Token);
        var ex = Assert.Throws<CheckpointMismatchException>(() => new MaximumLikelihoodTrainer<double>(GaussianAffine.MakeFlow(1), change(options)).Fit(data, resumeFrom: ckpt));
        Assert.Equal(setting, ex.Setting);
        Assert.Contains(setting, ex.Message);
        Assert.Contains(ckpt, ex.Message);
        // the unchanged options still resume
        Assert.Equal(TrainingOutcome.Completed, new MaximumLikelihoodTrainer<double>(GaussianAffine.MakeFlow(1), options).Fit(data, resumeFrom: ckpt).Outcome);
    }

    [Fact]
    public void ResumeRefusesOtherDataNamingTheirSource()
    {
        string ckpt = Path.Combine(_dir, "data.ckpt");
        var options = new TrainingOptions { Epochs = 6, BatchSize = 100, CheckpointPath = ckpt, ReportEverySteps = 1, DataDescription = "train.csv" };
        var cts = new CancellationTokenSource();
        new MaximumLikelihoodTrainer<double>(GaussianAffine.MakeFlow(1), options) { Progress = new SyncProgress<TrainingProgress>(p => { if (p.Step == 3) cts.Cancel(); }) }
            .Fit(new TrainingData<double>(GaussianAffine.GaussianData(500, 1, 2, 7)), cancellation: cts.Token);
        var other = new TrainingData<double>(GaussianAffine.GaussianData(500, 1, 2, 8));
        var ex = Assert.Throws<CheckpointMismatchException>(() => new MaximumLikelihoodTrainer<double>(GaussianAffine.MakeFlow(1), options with { DataDescription = "other.csv" }).Fit(other, resumeFrom: ckpt));
        Assert.Equal("data", ex.Setting);
        Assert.Contains("train.csv", ex.Message);
        Assert.Contains("other.csv", ex.Message);
    }

    [Fact]
    public void BadDataIsExplained()
    {
        var flow = GaussianAffine.MakeFlow(2);
        var trainer = new MaximumLikelihoodTrainer<double>(flow);
        Assert.Contains("3 columns", Assert.Throws<ArgumentException>(() => trainer.Fit(new TrainingData<double>(Tensor<double>.Zeros(10, 3)))).Message);
        var x = Tensor<double>.Zeros(10, 2);
        Assert.Contains("weights", Assert.Throws<ArgumentException>(() => trainer.Fit(new TrainingData<double>(x, Weights: Tensor<double>.Zeros(9)))).Message);
        Assert.Contains("sum to zero", Assert.Throws<ArgumentException>(() => trainer.Fit(new TrainingData<double>(x, Weights: Tensor<double>.Zeros(10)))).Message);
        x[3, 1] = double.NaN;
        var ex = Assert.Throws<ArgumentException>(() => trainer.Fit(new TrainingData<double>(x)));
        Assert.Contains("column 1", ex.Message);
        Assert.Throws<ArgumentException>(() => new TrainingOptions { BatchSize = 0 }.Validate());
    }

    [Fact]
    public void WeightedMeanStandardErrorMatchesTheUnweightedFormula()
    {
        double[] v = [1, 2, 3, 4, 10];
        var (m, se) = MaximumLikelihoodTrainer<double>.WeightedMean(v, null);
        Assert.Equal(4, m, 12);
        double sd = Math.Sqrt(v.Select(x => (x - 4) * (x - 4)).Sum() / 4);
        Assert.Equal(sd / Math.Sqrt(5), se, 12);
        var (mw, _) = MaximumLikelihoodTrainer<double>.WeightedMean(v, [1, 1, 1, 1, 1]);
        Assert.Equal(m, mw, 12);
    }
}
