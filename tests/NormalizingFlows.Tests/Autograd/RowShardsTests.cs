using NormalizingFlows.Autograd;
using NormalizingFlows.Distributions;
using NormalizingFlows.Flows;
using NormalizingFlows.Tensors;
using NormalizingFlows.Tensors.Kernels;
using NormalizingFlows.Transforms;

namespace NormalizingFlows.Tests.Autograd;

/// <summary>
/// Row blocks on several threads (data parallelism): the same values as one block, gradients summed correctly into
/// shared parameters, into inputs that require gradients and through inputs computed upstream; no splitting where
/// rows are coupled (batch statistics, data-dependent initialisation); errors surface and leave nothing behind.
/// </summary>
[Collection("Kernels")]
public class RowShardsTests
{
    private sealed record Case(Var<double> X, Var<double> C, Var<double> CLeaf, Parameter<double> W, Parameter<double> B);

    private static Case MakeCase(int rows)
    {
        var rng = new Rng(11);
        var x = new Var<double>(rng.Normal<double>(rows, 4), requiresGrad: true);
        var cLeaf = new Var<double>(rng.Normal<double>(rows, 2), requiresGrad: true);
        var w = new Parameter<double>(rng.Normal<double>(3, 6), "w");
        var b = new Parameter<double>(rng.Normal<double>(3), "b");
        return new Case(x, Ops.Tanh(cLeaf), cLeaf, w, b); // C is computed upstream (not a leaf)
    }

    // Two outputs per row: h = tanh([x, c]·Wᵀ + b) ([N, 3]) and Σ_j h_j² ([N]).
    private static Var<double>[] Body(Case k, Var<double>?[] block)
    {
        var joined = Ops.ConcatColumns([block[0]!, block[1]!]);
        var h = Ops.Tanh(Ops.Linear(joined, k.W, k.B));
        return [h, Ops.SumRows(Ops.Mul(h, h))];
    }

    private static (double[] h, double[] s, double[][] grads) Evaluate(int rows, int shards)
    {
        var k = MakeCase(rows);
        var outs = RowShards.Map(rows, shards, [k.X, k.C], block => Body(k, block));
        var loss = Ops.Add(Ops.Sum(Ops.Mul(outs[0], outs[0])), Ops.Mean(outs[1]));
        loss.Backward();
        return (outs[0].Value.ToArray(), outs[1].Value.ToArray(),
            [k.X.Grad!.ToArray(), k.CLeaf.Grad!.ToArray(), k.W.Grad!.ToArray(), k.B.Grad!.ToArray()]);
    }

    [Theory]
    [InlineData(1001, 2)]
    [InlineData(1001, 3)]
    [InlineData(7, 4)]
    public void BlocksGiveTheSameValuesAndGradientsAsOneBlock(int rows, int shards)
    {
        var whole = Evaluate(rows, 1);
        var split = Evaluate(rows, shards);
        Assert.Equal(whole.h, split.h);
        Assert.Equal(whole.s, split.s);
        string[] names = ["x", "context leaf", "W", "b"];
        for (int g = 0; g < names.Length; g++)
        {
            Assert.Equal(whole.grads[g].Length, split.grads[g].Length);
            for (int i = 0; i < whole.grads[g].Length; i++)
                Assert.True(Math.Abs(whole.grads[g][i] - split.grads[g][i]) <= 1e-11 * (1 + Math.Abs(whole.grads[g][i])),
                    $"d/d{names[g]}[{i}]: {whole.grads[g][i]} vs {split.grads[g][i]}");
        }
    }

    [Fact]
    public void GradientsAccumulateOverSteps()
    {
        var k = MakeCase(400);
        for (int step = 0; step < 2; step++)
        {
            var outs = RowShards.Map(400, 3, [k.X, k.C], block => Body(k, block));
            Ops.Mean(outs[1]).Backward();
        }
        var once = MakeCase(400);
        Ops.Mean(Body(once, [once.X, once.C])[1]).Backward();
        var twice = k.W.Grad!.ToArray();
        var single = once.W.Grad!.ToArray();
        for (int i = 0; i < single.Length; i++) Assert.Equal(2 * single[i], twice[i], 10);
    }

    [Fact]
    public void WithoutGradientsNoGraphIsRecorded()
    {
        var k = MakeCase(300);
        Var<double>[] outs;
        using (GradMode.Disable()) outs = RowShards.Map(300, 2, [k.X, k.C], block => Body(k, block));
        Assert.All(outs, o => Assert.False(o.RequiresGrad));
        Assert.Equal(Body(k, [k.X, k.C])[1].Value.ToArray(), outs[1].Value.ToArray());
    }

    [Fact]
    public void BlockTensorsAreReleasedWithTheCallersScope()
    {
        var k = MakeCase(300);
        var seen = new System.Collections.Concurrent.ConcurrentBag<Tensor<double>>();
        using (TensorScope.Begin())
        {
            var outs = RowShards.Map(300, 2, [k.X, k.C], block =>
            {
                var r = Body(k, block);
                seen.Add(r[0].Value);
                return r;
            });
            Ops.Mean(outs[1]).Backward();
            Assert.All(seen, t => Assert.False(t.IsDisposed));
        }
        Assert.Equal(2, seen.Count);
        Assert.All(seen, t => Assert.True(t.IsDisposed));
        Assert.False(k.W.Grad!.IsDisposed); // parameter gradients outlive the scope
    }

    [Fact]
    public void AnErrorInOneBlockSurfacesAndLeavesTheGradientsClean()
    {
        var k = MakeCase(300);
        int calls = 0;
        var ex = Assert.Throws<InvalidOperationException>(() => RowShards.Map(300, 2, [k.X, k.C], block =>
        {
            if (Interlocked.Increment(ref calls) == 2) throw new InvalidOperationException("block failed");
            return Body(k, block);
        }));
        Assert.Equal("block failed", ex.Message);
        var split = Evaluate(300, 2);
        var whole = Evaluate(300, 1);
        for (int i = 0; i < whole.grads[2].Length; i++) Assert.Equal(whole.grads[2][i], split.grads[2][i], 10);
    }

    [Fact]
    public void RowsMustMatch()
    {
        var k = MakeCase(10);
        var ex = Assert.Throws<ArgumentException>(() => RowShards.Map(12, 2, [k.X, k.C], block => Body(k, block)));
        Assert.Contains("12 rows", ex.Message);
    }

    private static T WithSharding<T>(bool enabled, Func<T> f)
    {
        bool saved = RowShards.Enabled;
        int savedThreads = WorkerPool.MaxThreads;
        RowShards.Enabled = enabled;
        WorkerPool.MaxThreads = Environment.ProcessorCount;
        try { return f(); }
        finally
        {
            RowShards.Enabled = saved;
            WorkerPool.MaxThreads = savedThreads;
        }
    }

    [Theory]
    [InlineData("realnvp")]
    [InlineData("maf_rqs")]
    [InlineData("iaf")]
    public void ConditionalFlowDensityGradientsAndSamplesMatchUnsplit(string name)
    {
        (double[] lp, double[] grads, double[] ctxGrad, double[] sample, double[] sampleLp) Run(bool shard) => WithSharding(shard, () =>
        {
            var flow = Flows.FlowTests.Build<double>(name, 3, context: 2, seed: 5);
            Flows.FlowTests.Randomize(flow, 0.1);
            var rng = new Rng(8);
            var x = new Var<double>(rng.Normal<double>(600, 3));
            var cLeaf = new Var<double>(rng.Normal<double>(600, 2), requiresGrad: true);
            var c = Ops.Tanh(cLeaf);
            var lp = flow.LogProb(x, c);
            var (xs, lps) = flow.SampleWithLogProb(600, new Rng(9), c);
            Ops.Add(Ops.Mean(lp), Ops.Mean(lps)).Backward();
            return (lp.Value.ToArray(), flow.Parameters().SelectMany(p => p.Grad!.ToArray()).ToArray(), cLeaf.Grad!.ToArray(),
                flow.Sample(600, new Rng(10), c).Value.ToArray(), lps.Value.ToArray());
        });
        var whole = Run(false);
        var split = Run(true);
        Assert.Equal(whole.lp, split.lp);
        Assert.Equal(whole.sample, split.sample);
        Assert.Equal(whole.sampleLp, split.sampleLp);
        for (int i = 0; i < whole.grads.Length; i++) Assert.Equal(whole.grads[i], split.grads[i], 9);
        for (int i = 0; i < whole.ctxGrad.Length; i++) Assert.Equal(whole.ctxGrad[i], split.ctxGrad[i], 9);
    }

    [Fact]
    public void BatchStatisticsAndFirstBatchInitialisationAreNotSplit()
    {
        // Batch norm in training mode and ActNorm's first batch see the whole batch, split or not.
        double[] Run(bool shard) => WithSharding(shard, () =>
        {
            var rng = new Rng(3);
            var transform = new CompositeTransform<double>(new ActNorm<double>(3), new BatchNormTransform<double>(3));
            var flow = new Flow<double>(transform, new StandardNormal<double>(3));
            var x = new Var<double>(rng.Normal<double>(800, 3));
            for (int i = 0; i < 800; i++) x.Value[i * 3] += i / 100.0; // rows differ across the batch
            return flow.LogProb(x).Value.ToArray();
        });
        Assert.Equal(Run(false), Run(true));
        Assert.False(new BatchNormTransform<double>(2).IsRowWise());
        Assert.True(new BatchNormTransform<double>(2).Eval().IsRowWise());
    }
}
