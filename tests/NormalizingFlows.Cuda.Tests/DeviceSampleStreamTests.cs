using NormalizingFlows.Autograd;
using NormalizingFlows.Tensors;

namespace NormalizingFlows.Cuda.Tests;

/// <summary>
/// Streamed device sampling on ILGPU's CPU accelerator: the counter-based normal stream drawn in blocks (and a
/// shard's rows of it) equals the stream drawn at once; its values are those of the generator's formula (the rows
/// earlier versions drew); a flow's samples drawn block by block into one reused buffer are the rows of one
/// <see cref="DeviceFlow.Sample(int, long, DeviceTensor?)"/> call, unconditional and conditional, and score on the
/// device as the library scores them.
/// </summary>
public sealed class DeviceSampleStreamTests(CpuAcceleratorFixture fixture) : IClassFixture<CpuAcceleratorFixture>
{
    private readonly ComputeDevice _dev = fixture.Device;
    private const int D = 4;

    private static ulong Mix(ulong z)
    {
        z += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>Element <paramref name="i"/> of the stream of <paramref name="seed"/>: the generator's hash and Box–Muller, in double.</summary>
    private static double Expected(long seed, long i)
    {
        ulong h1 = Mix((ulong)seed ^ Mix((ulong)(2 * i + 1)));
        ulong h2 = Mix(h1 ^ 0x9E3779B97F4A7C15UL);
        double u1 = ((h1 >> 40) + 1) / 16777216.0, u2 = (h2 >> 40) / 16777216.0;
        return Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
    }

    [Fact]
    public void TheNormalStreamIsTheGeneratorsFormula()
    {
        using var t = DeviceTensor.Zeros(_dev, 300, 3);
        DeviceOps.NormalNoise(t, 17);
        var v = t.Download().ToArray();
        for (int i = 0; i < v.Length; i++) Assert.True(Math.Abs(v[i] - Expected(17, i)) <= 2e-5 * (1 + Math.Abs(Expected(17, i))), $"element {i}: {v[i]}, formula {Expected(17, i)}");
    }

    [Fact]
    public void BlocksAndShardsOfTheNormalStreamAreItsRows()
    {
        const int contexts = 3, perContext = 7, cols = 2;
        using var whole = DeviceTensor.Zeros(_dev, contexts * perContext, cols);
        DeviceOps.NormalNoise(whole, 5);
        var all = whole.Download().ToArray();
        // rows 9 … 20 as a block of their own
        using var block = DeviceTensor.Zeros(_dev, 12, cols);
        DeviceOps.NormalNoise(block, NoiseArgs.Rows(5, 9, cols));
        Assert.Equal(all.AsSpan(9 * cols, 12 * cols).ToArray(), block.Download().ToArray());
        // shard k of 2 holds samples offset … offset + share − 1 of every context row (shares 4 and 3), drawn in two blocks
        foreach (var (share, offset) in new[] { (4, 0), (3, 4) })
        {
            var got = new List<float>();
            foreach (var (first, rows) in new[] { (0, 5), (5, contexts * share - 5) })
            {
                using var b = DeviceTensor.Zeros(_dev, rows, cols);
                DeviceOps.NormalNoise(b, new NoiseArgs(5, first, share, perContext, offset, cols));
                got.AddRange(b.Download().ToArray());
            }
            for (int q = 0; q < contexts * share; q++)
            {
                int row = q / share * perContext + offset + q % share;
                Assert.Equal(all.AsSpan(row * cols, cols).ToArray(), got.GetRange(q * cols, cols).ToArray());
            }
        }
        Assert.Throws<ArgumentException>(() => DeviceOps.NormalNoise(block, NoiseArgs.Rows(5, 0, cols + 1)));
    }

    [Theory]
    [InlineData("maf_rqs", 0)]
    [InlineData("realnvp", 2)]
    public void SamplesDrawnBlockByBlockAreTheRowsOfOneCall(string kind, int contextFeatures)
    {
        const int n = 37, blockRows = 16;
        var flow = DeviceFlowTests.Build(kind, context: contextFeatures);
        var context = contextFeatures == 0 ? null : new Rng(3).Normal<float>(n, contextFeatures);
        using var dflow = DeviceFlow.Compile(flow, _dev);
        using var dc = context is null ? null : DeviceTensor.Upload(_dev, context);
        using var all = dflow.Sample(n, seed: 9, dc);
        var expected = all.Download().ToArray();
        using var buffer = DeviceTensor.Zeros(_dev, blockRows, D); // one buffer for every block, the last one partial
        var got = new List<float>();
        for (int start = 0; start < n; start += blockRows)
        {
            int rows = Math.Min(blockRows, n - start);
            using var x = rows == blockRows ? null : buffer.FirstRows(rows);
            using var c = context is null ? null : DeviceTensor.Upload(_dev, context.CopyRows(start, rows));
            dflow.Sample(x ?? buffer, seed: 9, firstRow: start, context: c);
            got.AddRange((x ?? buffer).Download().ToArray());
        }
        Assert.Equal(expected, got.ToArray());
        // and they score on the device as the library scores them
        var samples = Tensor<float>.From(expected, n, D);
        float[] cpu;
        using (GradMode.Disable()) cpu = flow.LogProb(new Var<float>(samples), context is null ? null : new Var<float>(context)).Value.ToArray();
        Assert2.Close(cpu, dflow.LogProb(samples, context), 1e-4, 2e-4, $"{kind}: log p of the streamed samples");
        Assert.Throws<ArgumentOutOfRangeException>(() => dflow.Sample(buffer, 9, firstRow: -1, context: null));
    }
}
