using NormalizingFlows.Autograd;
using NormalizingFlows.Flows;
using NormalizingFlows.Tensors;
using NormalizingFlows.Tensors.Kernels;

namespace NormalizingFlows.Tests.Flows;

/// <summary>
/// Thread counts and results: log-densities are the same bits with 1 and 2 threads (every row is computed the same
/// way whichever block or thread it falls in); parameter gradients, summed over row blocks when the batch is split
/// across threads, agree to rounding, and repeat bit for bit for a given thread count.
/// </summary>
[Collection("Kernels")] // sets WorkerPool.MaxThreads, a process-wide setting: never beside another test that sets it
public class ThreadDeterminismTests
{
    [Theory]
    [InlineData("nsf")]
    [InlineData("maf")]
    [InlineData("maf_rqs")]
    [InlineData("realnvp")]
    public void LogProbAndGradientsAreBitIdenticalAcrossThreadCounts(string name)
    {
        (float[] lp, float[] grads) Run(int threads)
        {
            int saved = WorkerPool.MaxThreads;
            WorkerPool.MaxThreads = threads;
            try
            {
                var rng = new Rng(3);
                var flow = name switch
                {
                    "nsf" => FlowBuilders.NeuralSplineFlow<float>(6, layers: 2, hidden: 32, rng: rng),
                    "maf" => FlowBuilders.Maf<float>(6, layers: 2, hidden: 32, rng: rng),
                    "maf_rqs" => FlowBuilders.MafRqs<float>(6, layers: 2, hidden: 32, rng: rng),
                    _ => FlowBuilders.RealNvp<float>(6, layers: 2, hidden: 32, rng: rng),
                };
                var x = new Rng(4).Normal<float>(3000, 6);
                var lp = flow.LogProb(new Var<float>(x));
                Ops.Mean(lp).Backward();
                return (lp.Value.ToArray(), flow.Parameters().SelectMany(p => p.Grad!.ToArray()).ToArray());
            }
            finally
            {
                WorkerPool.MaxThreads = saved;
            }
        }
        var one = Run(1);
        var two = Run(2);
        var again = Run(2);
        Assert.Equal(one.lp, two.lp);
        Assert.Equal(two.grads, again.grads);
        double scale = one.grads.Max(g => Math.Abs((double)g));
        for (int i = 0; i < one.grads.Length; i++)
            Assert.True(Math.Abs(one.grads[i] - two.grads[i]) <= 2e-6 * scale, $"gradient {i}: {one.grads[i]} (1 thread) vs {two.grads[i]} (2 threads)");
    }
}
