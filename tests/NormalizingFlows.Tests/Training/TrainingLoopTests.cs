using NormalizingFlows.Autograd;
using NormalizingFlows.Flows;
using NormalizingFlows.IO;
using NormalizingFlows.Tensors;
using NormalizingFlows.Training;

namespace NormalizingFlows.Tests.Training;

public class TrainingLoopTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("nflow-loop-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private const double TargetMean = 0.8, TargetStd = 0.6;

    /// <summary>log p̃(x) = −(x − m)²/(2s²) of the target N(m, s²), unnormalised, differentiable; x [N, 1].</summary>
    private static Var<double> TargetLogDensity(Var<double> x) =>
        Ops.SumRows(Ops.ScaleShift(Ops.Square(Ops.ScaleShift(x, 1, -TargetMean)), -0.5 / (TargetStd * TargetStd)));

    private static (double Shift, double LogScale) Parameters(Flow<double> flow)
    {
        var a = (GaussianAffine)flow.Transform;
        return (a.Shift.Value[0], a.LogScale.Value[0]);
    }

    [Theory]
    [InlineData(Divergence.KullbackLeibler)]
    [InlineData(Divergence.Variance)]
    [InlineData(Divergence.Exponential)]
    public void SampledDivergenceLearnsAKnownTargetWithoutData(Divergence divergence)
    {
        var flow = GaussianAffine.MakeFlow(1);
        var rng = new Rng(3);
        var rounds = new List<SampledRound>();
        var loss = new SampledDivergenceLoss<double>(
            x => flow.LogProb(x),
            () =>
            {
                var (x, logq) = flow.SampleWithLogProb(512, rng);
                return (x.Value, logq.Value);
            },
            x => x.ToArray().Select(v => Math.Exp(-0.5 * (v - TargetMean) * (v - TargetMean) / (TargetStd * TargetStd))).ToArray(),
            divergence, stepsPerRound: 4) { RoundDone = rounds.Add };
        var history = new TrainingLoop<double>(flow, new TrainingOptions { Steps = 400, LearningRate = 0.05 }).Fit(loss, stepsPerEpoch: 4);
        Assert.Equal(400, history.Steps);
        Assert.Equal(100, rounds.Count);
        var (shift, logScale) = Parameters(flow);
        Assert.Equal(TargetMean, shift, 0.03);
        Assert.Equal(Math.Log(TargetStd), logScale, 0.03);
        // the importance weights of the last round are nearly constant: q ≈ p
        var w = rounds[^1].Weights;
        double mean = w.Average(), sd = Math.Sqrt(w.Select(v => (v - mean) * (v - mean)).Average());
        Assert.True(sd / mean < 0.1, $"σ_w/⟨w⟩ = {sd / mean}");
    }

    [Fact]
    public void SampledDivergenceSkipsRoundsWhereTheTargetVanishes()
    {
        var flow = GaussianAffine.MakeFlow(1);
        var rng = new Rng(4);
        var rounds = new List<SampledRound>();
        var loss = new SampledDivergenceLoss<double>(x => flow.LogProb(x), () =>
            {
                var (x, logq) = flow.SampleWithLogProb(64, rng);
                return (x.Value, logq.Value);
            }, x => new double[x.Dim(0)], Divergence.Variance, stepsPerRound: 3) { RoundDone = rounds.Add };
        var history = new TrainingLoop<double>(flow, new TrainingOptions { Steps = 12, LearningRate = 0.1 }).Fit(loss, stepsPerEpoch: 3);
        Assert.Equal(12, history.Steps);
        Assert.Equal(4, rounds.Count);
        Assert.All(rounds, r => Assert.True(double.IsNaN(r.Loss)));
        Assert.Equal((0.0, 0.0), Parameters(flow)); // no optimizer step was taken
    }

    [Fact]
    public void ReverseKullbackLeiblerLearnsAKnownTarget()
    {
        var flow = GaussianAffine.MakeFlow(1);
        var history = new TrainingLoop<double>(flow, new TrainingOptions { Steps = 600, LearningRate = 0.05, Seed = 2 })
            .Fit(new ReverseKullbackLeiblerLoss<double>(flow, TargetLogDensity, samples: 256), stepsPerEpoch: 50);
        Assert.Equal(TrainingOutcome.Completed, history.Outcome);
        Assert.Equal(12, history.Epochs.Count);
        var (shift, logScale) = Parameters(flow);
        Assert.Equal(TargetMean, shift, 0.03);
        Assert.Equal(Math.Log(TargetStd), logScale, 0.03);
        // the loss E_q[log q − log p̃] reaches −log Z = −log(√(2π)·s) at q = p
        Assert.Equal(-Math.Log(Math.Sqrt(2 * Math.PI) * TargetStd), history.Epochs[^1].TrainLoss, 0.02);
    }

    /// <summary>A loss-driven reverse-KL run of 5 epochs of 8 steps, cancelled after <paramref name="cancelAt"/> steps (0: never) and resumed.</summary>
    private (Flow<double> Flow, TrainingHistory History) LossDrivenRun(string ckpt, int cancelAt)
    {
        var options = new TrainingOptions { Epochs = 5, LearningRate = 0.05, Seed = 9, CheckpointPath = ckpt, ReportEverySteps = 1 };
        var flow = GaussianAffine.MakeFlow(1);
        var cts = new CancellationTokenSource();
        var loop = new TrainingLoop<double>(flow, options) { Progress = new SyncProgress<TrainingProgress>(p => { if (p.Step == cancelAt) cts.Cancel(); }) };
        var h = loop.Fit(new ReverseKullbackLeiblerLoss<double>(flow, TargetLogDensity, samples: 32), 8, cts.Token);
        if (cancelAt == 0) return (flow, h);
        Assert.Equal(TrainingOutcome.Cancelled, h.Outcome);
        Assert.Equal(cancelAt, h.Steps);
        var resumed = GaussianAffine.MakeFlow(1);
        return (resumed, new TrainingLoop<double>(resumed, options).Fit(new ReverseKullbackLeiblerLoss<double>(resumed, TargetLogDensity, samples: 32), 8, resumeFrom: ckpt));
    }

    [Fact]
    public void ALossDrivenRunCancelledMidEpochResumesBitIdentically()
    {
        var (straight, h1) = LossDrivenRun(Path.Combine(_dir, "a.ckpt"), 0);
        var (resumed, h2) = LossDrivenRun(Path.Combine(_dir, "b.ckpt"), 19); // inside epoch 3
        Assert.Equal(40, h2.Steps);
        Assert.Equal(h1.Epochs.Select(e => (e.Epoch, e.Step, e.TrainLoss)), h2.Epochs.Select(e => (e.Epoch, e.Step, e.TrainLoss)));
        Assert.Equal(Parameters(straight), Parameters(resumed));
    }

    [Fact]
    public void ResumeNamesAMissingCheckpointEntry()
    {
        string ckpt = Path.Combine(_dir, "cut.ckpt");
        var data = new TrainingData<double>(GaussianAffine.GaussianData(400, 1, 2, 7));
        var options = new TrainingOptions { Epochs = 4, BatchSize = 100, CheckpointPath = ckpt, ReportEverySteps = 1 };
        var flow = GaussianAffine.MakeFlow(1);
        var cts = new CancellationTokenSource();
        var trainer = new MaximumLikelihoodTrainer<double>(flow, options) { Progress = new SyncProgress<TrainingProgress>(p => { if (p.Step == 6) cts.Cancel(); }) };
        Assert.Equal(TrainingOutcome.Cancelled, trainer.Fit(data, cancellation: cts.Token).Outcome);
        // the same checkpoint without its position inside the epoch
        var meta = ModuleSerialization.LoadCheckpoint(ckpt, flow, trainer.Optimizer).ToDictionary();
        Assert.True(meta.Remove("epoch.batches"));
        ModuleSerialization.SaveCheckpoint(ckpt, flow, trainer.Optimizer, meta);
        var ex = Assert.Throws<InvalidDataException>(() => new MaximumLikelihoodTrainer<double>(GaussianAffine.MakeFlow(1), options).Fit(data, resumeFrom: ckpt));
        Assert.Contains("'epoch.batches'", ex.Message);
        Assert.Contains(ckpt, ex.Message);
    }

    /// <summary>A loss that never steps.</summary>
    private sealed class Idle : TrainingLoss<double>
    {
        public int Calls { get; private set; }

        public override Var<double>? Compute(TrainingBatch<double> batch)
        {
            Calls++;
            return null;
        }
    }

    [Fact]
    public void ALossThatSkipsItsStepsLeavesTheModelAlone()
    {
        var flow = GaussianAffine.MakeFlow(1);
        var idle = new Idle();
        var h = new TrainingLoop<double>(flow, new TrainingOptions { Epochs = 3, BatchSize = 10 }).Fit(idle, new TrainingData<double>(GaussianAffine.GaussianData(50, 1, 1, 1)));
        Assert.Equal(15, h.Steps);
        Assert.Equal(15, idle.Calls);
        Assert.Equal((0.0, 0.0), Parameters(flow));
        Assert.Throws<NotSupportedException>(() => idle.Validate(new TrainingData<double>(GaussianAffine.GaussianData(5, 0, 1, 2))));
    }
}
