using ILGPU;
using ILGPU.Runtime;
using NormalizingFlows.Data;
using NormalizingFlows.Flows;
using NormalizingFlows.Tensors;
using NormalizingFlows.Training;

namespace NormalizingFlows.Cuda.Tests;

/// <summary>
/// Host↔device copies through the device's page-locked staging buffer (exact round trips at every size, views with
/// offsets, growth, chunks, the pageable fallback) and training with the data streamed from the host
/// (<see cref="ComputeDevice.ResidentDataLimit"/>) against the same run with the data on the device and on the CPU.
/// The CPU accelerator's copies complete when queued, so these tests check the copies' bookkeeping (sizes, offsets,
/// the slots' alternation, which rows each step reads), not the overlap; the GPU check measures that.
/// </summary>
public sealed class DeviceTransferTests(CpuAcceleratorFixture fixture) : IClassFixture<CpuAcceleratorFixture>
{
    private readonly ComputeDevice _dev = fixture.Device;
    private const int D = 4;

    /// <summary>Values whose bits a lossy or misplaced copy would change: signed zeros, NaN, infinities, subnormals, randoms.</summary>
    private static float[] Values(int n, long seed)
    {
        var rng = new Rng(seed);
        float[] special = [-0f, float.NaN, float.PositiveInfinity, float.NegativeInfinity, float.Epsilon, -1e-40f, float.MaxValue];
        var v = new float[n];
        for (int i = 0; i < n; i++) v[i] = i % 5 == 3 ? special[i / 5 % special.Length] : (float)(rng.NextNormal() * 100);
        return v;
    }

    private static void SameBits(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            if (BitConverter.SingleToInt32Bits(expected[i]) != BitConverter.SingleToInt32Bits(actual[i]))
                Assert.Fail($"{what}[{i}]: expected {expected[i]}, got {actual[i]}");
    }

    [Fact]
    public void PinnedCopiesRoundTripExactly()
    {
        Assert.True(_dev.PinnedTransfers, "the CPU accelerator page-locks its staging buffer (ILGPU's CPU page-lock scope)");
        int grows = _dev.Staging.Grows;
        int past = HostStaging.InitialBytes / sizeof(float) * 3 + 1; // over the initial staging size, odd
        foreach (int n in new[] { 0, 1, 7, past })
        {
            var host = Tensor<float>.From(Values(n, n), n);
            using var t = DeviceTensor.Upload(_dev, host);
            SameBits(host.ReadOnlySpan, t.Download().ReadOnlySpan, $"upload/download of {n}");
            var again = Values(n, n + 100);
            t.CopyFrom(Tensor<float>.From(again, n));
            SameBits(again, t.Download().ReadOnlySpan, $"copy into an existing buffer of {n}");
        }
        Assert.True(_dev.Staging.Grows > grows, "a copy larger than the staging buffer grows it");

        // a view with an offset: rows 3 … 7 of [11, 3]; the rows around it keep their values
        var whole = Values(33, 5);
        using var m = DeviceTensor.Upload(_dev, Tensor<float>.From(whole, 11, 3));
        using var view = m.RowRange(3, 5);
        var rows = Values(15, 6);
        view.CopyFrom(Tensor<float>.From(rows, 5, 3));
        SameBits(rows, view.Download().ReadOnlySpan, "the view");
        Array.Copy(rows, 0, whole, 9, 15);
        SameBits(whole, m.Download().ReadOnlySpan, "the tensor around the view");
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)] // the pageable fallback: ILGPU's synchronous copies from the caller's memory
    public void StagingChunksAndIntegersRoundTripExactly(bool pinned)
    {
        // a staging buffer of at most 12 bytes: every copy longer than 3 floats goes in chunks
        using var staging = new HostStaging(_dev.Accelerator, pinned, maxBytes: 12);
        Assert.Equal(pinned, staging.Pinned);
        using var buffer = _dev.Accelerator.Allocate1D<float>(40);
        foreach (int n in new[] { 1, 3, 4, 37 })
        {
            var v = Values(n, 40 + n);
            var view = buffer.View.SubView(40 - n, n); // at an offset
            staging.Upload(view, v);
            var back = new float[n];
            staging.Download(view, back);
            SameBits(v, back, $"{n} floats in chunks of 3");
        }
        using var ints = _dev.Accelerator.Allocate1D<int>(9);
        int[] index = [5, -1, int.MaxValue, 0, 7, int.MinValue, 2, 3, 11];
        staging.Upload(ints.View, index);
        var indexBack = new int[9];
        staging.Download(ints.View, indexBack);
        Assert.Equal(index, indexBack);
    }

    private static (Tensor<float> X, Tensor<float> Context, Tensor<float> Weights) Data(int n, long seed)
    {
        var rng = new Rng(seed);
        var x = rng.Normal<float>(n, D);
        var s = x.Span;
        for (int i = 0; i < s.Length; i++) s[i] = 0.7f * s[i] + 0.4f * (i % D);
        return (x, rng.Normal<float>(n, 2), rng.Uniform<float>([n], -0.2, 2.0));
    }

    /// <summary>Runs <paramref name="body"/> with <see cref="ComputeDevice.ResidentDataLimit"/> = <paramref name="limit"/>, restored after.</summary>
    private T WithLimit<T>(long limit, Func<T> body)
    {
        long saved = _dev.ResidentDataLimit;
        _dev.ResidentDataLimit = limit;
        try { return body(); }
        finally { _dev.ResidentDataLimit = saved; }
    }

    /// <summary>
    /// Steps of batches (sizes changing, rows repeated and out of order) on the accelerated flow; returns each step's
    /// loss (read after every step) and the final weights.
    /// </summary>
    private (double[] Losses, float[] Weights, bool Streaming) Steps(long limit, bool conditional, bool weighted, Tensor<float> x, Tensor<float> c, Tensor<float> w, Tensor<float>? then = null)
        => WithLimit(limit, () =>
        {
            var flow = DeviceFlowTests.Build("realnvp", context: conditional ? 2 : 0);
            using var acc = (AcceleratedDeviceFlow)_dev.Compile(flow);
            int n = x.Dim(0);
            acc.SetTrainingData(x, conditional ? c : null, weighted ? w : null);
            var losses = new List<double>();
            var order = new Rng(9);
            void Run(int steps)
            {
                for (int s = 0; s < steps; s++)
                {
                    int[] rows = new int[s % 3 == 2 ? 5 : 16];
                    for (int i = 0; i < rows.Length; i++) rows[i] = order.NextInt(n);
                    acc.TrainStep(rows, 3e-3, clipNorm: null);
                    losses.Add(acc.TakeLossSum());
                }
            }
            Run(5);
            bool streaming = acc.Streaming;
            if (then is not null)
            {
                // new values in the same shape: a staging slot that kept the old rows would hand them to a step
                acc.SetTrainingData(then, conditional ? c : null, weighted ? w : null);
                Run(4);
            }
            acc.CopyTo(flow);
            return (losses.ToArray(), flow.Parameters().SelectMany(p => p.Value.ReadOnlySpan.ToArray()).ToArray(), streaming);
        });

    [Theory]
    [InlineData(false, false)]
    [InlineData(true, true)] // the context and the weights streamed beside the events, from one buffer
    public void StreamedStepsAreBitIdenticalToResidentOnes(bool conditional, bool weighted)
    {
        // the same rows reach the same batch buffers by a host gather and a copy instead of the device's gather: the
        // kernels then see the same bits, so losses and weights are equal, not merely close
        var (x, c, w) = Data(40, 3);
        var resident = Steps(long.MaxValue, conditional, weighted, x, c, w);
        var streamed = Steps(0, conditional, weighted, x, c, w);
        Assert.False(resident.Streaming);
        Assert.True(streamed.Streaming);
        Assert.Equal(resident.Losses, streamed.Losses);
        SameBits(resident.Weights, streamed.Weights, "weights");
    }

    [Fact]
    public void StreamedStepsReadTheirOwnRowsAfterTheDataChanges()
    {
        // both staging slots are reused several times, batch sizes change, and the data is replaced midway: every
        // step's loss must be the resident run's (a stale row would change it)
        var (x, c, w) = Data(40, 3);
        var (y, _, _) = Data(40, 4);
        var resident = Steps(long.MaxValue, true, true, x, c, w, then: y);
        var streamed = Steps(0, true, true, x, c, w, then: y);
        Assert.Equal(9, resident.Losses.Length);
        Assert.Equal(resident.Losses, streamed.Losses);
        SameBits(resident.Weights, streamed.Weights, "weights");
        Assert.NotEqual(streamed.Losses[..5], Steps(0, true, true, y, c, w).Losses); // the data matters to the losses
    }

    [Fact]
    public void TheLimitDecidesWhatStreams()
    {
        var (x, c, w) = Data(40, 3);
        long bytes = sizeof(float) * (x.Length + c.Length + w.Length);
        Assert.False(Steps(bytes, true, true, x, c, w).Streaming);     // exactly at the limit: on the device
        Assert.True(Steps(bytes - 1, true, true, x, c, w).Streaming);  // one byte over: streamed
        Assert.True(_dev.ResidentDataLimit > 0, "the default keeps a small set on the device");
        Assert.Throws<ArgumentOutOfRangeException>(() => _dev.ResidentDataLimit = -1);
        var flow = DeviceFlowTests.Build("realnvp");
        WithLimit(0, () =>
        {
            using var acc = _dev.Compile(flow);
            acc.SetTrainingData(x);
            var e = Assert.Throws<ArgumentOutOfRangeException>(() => acc.TrainStep([1, 40], 1e-3, null));
            Assert.Contains("0 … 39", e.Message);
            return 0;
        });
    }

    [Theory]
    [InlineData(9, 4)]       // on the calling thread (under BlockFloats)
    [InlineData(140_000, 1)] // on the calling thread
    [InlineData(140_000, 3)] // 560 000 floats: 2 row blocks (BlockFloats each at least) on the thread pool
    [InlineData(200_000, 3)] // 800 000 floats: 3 row blocks
    public void HostGatherCopiesTheRowsInOrder(int n, int threads)
    {
        var source = Tensor<float>.From(Values(50 * D, 8), 50, D);
        var rng = new Rng(n);
        int[] rows = new int[n];
        for (int i = 0; i < n; i++) rows[i] = rng.NextInt(50);
        var gathered = new float[n * D];
        StreamedBatches.Gather(rows, source, gathered, threads);
        var expected = new float[n * D];
        for (int i = 0; i < n; i++) source.ReadOnlySpan.Slice(rows[i] * D, D).CopyTo(expected.AsSpan(i * D, D));
        SameBits(expected, gathered, $"gathered rows (element i·{D} + j is row i's column j)");
    }

    [Fact]
    public void StreamedTrainerRunMatchesTheCpuRun()
    {
        // TrainingOptions.Device with every set streamed: the epoch losses and validation of the CPU run, conditional and weighted
        var (x, c, w) = Data(96, 21);
        var data = new TrainingData<float>(x) { Context = c, Weights = w };
        var options = new TrainingOptions { Epochs = 2, BatchSize = 32, LearningRate = 3e-3, Seed = 5, ValidationFraction = 0.25 };
        TrainingHistory Run(IFlowAccelerator? device) => new MaximumLikelihoodTrainer<float>(DeviceFlowTests.Build("realnvp", context: 2), options with { Device = device }).Fit(data);
        var cpu = Run(null);
        var streamed = WithLimit(0, () => Run(_dev));
        var resident = Run(_dev);
        for (int i = 0; i < cpu.Epochs.Count; i++)
        {
            var (e, a) = (cpu.Epochs[i], streamed.Epochs[i]);
            Assert.True(Math.Abs(e.TrainLoss - a.TrainLoss) <= 2e-4 * Math.Abs(e.TrainLoss) + 1e-5, $"epoch {e.Epoch}: streamed {a.TrainLoss}, CPU {e.TrainLoss}");
            Assert.True(Math.Abs(e.ValidationLogLikelihood!.Value - a.ValidationLogLikelihood!.Value) <= 2e-4 * Math.Abs(e.ValidationLogLikelihood.Value) + 1e-5,
                $"epoch {e.Epoch}: validation streamed {a.ValidationLogLikelihood}, CPU {e.ValidationLogLikelihood}");
            Assert.Equal(resident.Epochs[i].TrainLoss, a.TrainLoss);
            Assert.Equal(resident.Epochs[i].ValidationLogLikelihood, a.ValidationLogLikelihood);
        }
    }
}
