using NormalizingFlows.Flows;
using NormalizingFlows.Tensors;
using NormalizingFlows.Training;

namespace NormalizingFlows.Tests.Training;

/// <summary>
/// Data-parallel training without MPI: R threads, each with its own copy of the model and a <see cref="ThreadGroup"/>
/// member as <see cref="TrainingOptions.DataParallel"/>, must take the steps of one process on the whole batches.
/// </summary>
public class DataParallelTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("nflow-dp-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>The processes as threads: the sum is taken in rank order by every thread, so all hold the same bits.</summary>
    internal sealed class ThreadGroup
    {
        private readonly Barrier _barrier;
        private readonly double[][] _slots;

        public ThreadGroup(int size)
        {
            _barrier = new Barrier(size);
            _slots = new double[size][];
        }

        public Member this[int rank] => new(this, rank);

        internal sealed class Member(ThreadGroup g, int rank) : IDataParallel
        {
            public int Rank => rank;
            public int Size => g._slots.Length;

            public void AllReduceSum(Span<double> values)
            {
                g._slots[rank] = values.ToArray();
                Wait();
                for (int i = 0; i < values.Length; i++)
                {
                    double s = 0;
                    foreach (var slot in g._slots) s += slot[i];
                    values[i] = s;
                }
                Wait();
            }

            /// <summary>Waits for the other threads; a thread that failed never arrives, and the test must fail, not hang.</summary>
            private void Wait()
            {
                if (!g._barrier.SignalAndWait(TimeSpan.FromSeconds(60))) throw new TimeoutException($"rank {rank}: the other ranks did not reach the sum");
            }

            public void AllReduceSum(Span<float> values) => throw new NotSupportedException("the tests train in double");
        }
    }

    private static Tensor<double> Data(int n)
    {
        var rng = new Rng(3L);
        var x = Tensor<double>.Empty(n, 3);
        var s = x.Span;
        for (int i = 0; i < n; i++)
        {
            double a = rng.NextNormal();
            s[3 * i] = a; s[3 * i + 1] = 0.5 * a * a + 0.3 * rng.NextNormal(); s[3 * i + 2] = rng.NextDouble();
        }
        return x;
    }

    private static Flow<double> Model() => FlowBuilders.MafRqs<double>(3, layers: 2, hidden: 8, bins: 4, rng: new Rng(11L));

    private static (double[] Parameters, TrainingHistory History) Train(TrainingOptions options, IDataParallel? group, int n, string? resume = null, long cancelAt = 0)
    {
        var flow = Model();
        var cts = new CancellationTokenSource();
        var trainer = new MaximumLikelihoodTrainer<double>(flow, options with { DataParallel = group })
        {
            Progress = cancelAt > 0 ? new SyncProgress<TrainingProgress>(p => { if (p.Step == cancelAt) cts.Cancel(); }) : null,
        };
        var history = trainer.Fit(new TrainingData<double>(Data(n)), cancellation: cts.Token, resumeFrom: resume);
        return ([.. flow.Parameters().SelectMany(p => p.Value.ToArray())], history);
    }

    /// <summary>Trains on <paramref name="size"/> threads; rank <paramref name="cancelRank"/> alone is cancelled after step <paramref name="cancelAt"/> (0: never).</summary>
    private static List<(double[] Parameters, TrainingHistory History)> TrainParallel(TrainingOptions options, int size, int n, string? resume = null, int cancelRank = 0, long cancelAt = 0)
    {
        var group = new ThreadGroup(size);
        var tasks = Enumerable.Range(0, size)
            .Select(r => Task.Factory.StartNew(() => Train(options, group[r], n, resume, r == cancelRank ? cancelAt : 0), TaskCreationOptions.LongRunning)).ToArray();
        Task.WaitAll(tasks);
        return [.. tasks.Select(t => t.Result)];
    }

    private static void AssertClose(double[] expected, double[] actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        // the gradient sums are ordered differently: equal to rounding, amplified by Adam over ~20 steps
        for (int i = 0; i < expected.Length; i++) Assert.True(Math.Abs(expected[i] - actual[i]) <= 1e-9 * (1 + Math.Abs(expected[i])), $"parameter {i}: {expected[i]} vs {actual[i]}");
    }

    [Theory]
    [InlineData(2, 400)]
    [InlineData(3, 202)]   // 202 = 4 · 50 + 2: the last batch leaves one of the three processes no rows
    public void RanksTakeTheStepsOfOneProcessOnTheUnionOfTheirBatches(int size, int n)
    {
        var options = new TrainingOptions { Epochs = 2, BatchSize = 50, LearningRate = 5e-3, Seed = 4, ValidationFraction = 0.1 };
        var (single, h1) = Train(options, null, n);
        var runs = TrainParallel(options, size, n);
        foreach (var (p, h) in runs)
        {
            AssertClose(single, p);
            Assert.Equal(runs[0].Parameters, p);   // the processes agree bit for bit
            Assert.Equal(h1.Steps, h.Steps);
            Assert.Equal(h1.Epochs.Count, h.Epochs.Count);
            for (int e = 0; e < h1.Epochs.Count; e++)
            {
                Assert.Equal(h1.Epochs[e].TrainLoss, h.Epochs[e].TrainLoss, 1e-9);
                Assert.Equal(h1.Epochs[e].ValidationLogLikelihood!.Value, h.Epochs[e].ValidationLogLikelihood!.Value, 1e-9);
            }
        }
        Assert.NotEqual(Train(options with { Epochs = 1 }, null, n).Parameters, single);   // training moved the parameters
    }

    [Fact]
    public void ACancelledRankStopsAllOnlyRankZeroCheckpointsAndAnyNumberOfRanksResumes()
    {
        string ckpt = Path.Combine(_dir, "dp.ckpt");
        var options = new TrainingOptions { Epochs = 3, BatchSize = 40, LearningRate = 5e-3, Seed = 6, CheckpointPath = ckpt, ReportEverySteps = 1 };
        var (straight, _) = Train(options with { CheckpointPath = null }, null, 240);
        // rank 1 of 2 is cancelled after step 7: both stop after step 8 (the request travels with that step's sum)
        var first = TrainParallel(options, 2, 240, cancelRank: 1, cancelAt: 7);
        Assert.All(first, r => Assert.Equal(TrainingOutcome.Cancelled, r.History.Outcome));
        Assert.All(first, r => Assert.Equal(8, r.History.Steps));
        Assert.Equal(first[0].Parameters, first[1].Parameters);
        Assert.Equal([ckpt], Directory.GetFiles(_dir));   // rank 0's checkpoint, no second writer's temporary files
        // three processes resume it to the end of the single-process run
        var resumed = TrainParallel(options, 3, 240, ckpt);
        foreach (var (p, h) in resumed)
        {
            AssertClose(straight, p);
            Assert.Equal(18, h.Steps);
        }
    }

    [Fact]
    public void GradientsCrossingBucketBoundariesSumAsInOneBucket()
    {
        int parameters = Model().Parameters().Sum(p => p.Value.Length);
        var options = new TrainingOptions { Epochs = 1, BatchSize = 50, LearningRate = 5e-3, Seed = 4 };
        var (single, _) = Train(options, null, 200);
        int saved = TrainingLoop<double>.BucketElements;
        try
        {
            // P + 2: the last bucket holds one value; 7: many small buckets, boundaries inside every tensor
            foreach (int size in new[] { parameters + 2, parameters + 1, 7 })
            {
                TrainingLoop<double>.BucketElements = size;
                foreach (var (p, _) in TrainParallel(options, 2, 200)) AssertClose(single, p);
            }
        }
        finally
        {
            TrainingLoop<double>.BucketElements = saved;
        }
    }

    [Fact]
    public void AModelThatCouplesRowsRefusesDataParallelism()
    {
        // ActNorm initialises itself from the first batch: each process would see only its share of it
        var flow = FlowBuilders.Glow<double>(3, layers: 1, hidden: 8, rng: new Rng(1L));
        var e = Assert.Throws<NotSupportedException>(() => new MaximumLikelihoodTrainer<double>(flow, new TrainingOptions { Epochs = 1, BatchSize = 50, DataParallel = new ThreadGroup(1)[0] })
            .Fit(new TrainingData<double>(Data(100))));
        Assert.Contains("couples the rows", e.Message);
    }

    [Fact]
    public void ALossDrivenRunRefusesDataParallelism()
    {
        var flow = Model();
        var loss = new ReverseKullbackLeiblerLoss<double>(flow, x => NormalizingFlows.Autograd.Ops.SumRows(x), samples: 4);
        var e = Assert.Throws<NotSupportedException>(() => new TrainingLoop<double>(flow, new TrainingOptions { DataParallel = new ThreadGroup(1)[0] }).Fit(loss, 4));
        Assert.Contains("DataParallel", e.Message);
    }
}
