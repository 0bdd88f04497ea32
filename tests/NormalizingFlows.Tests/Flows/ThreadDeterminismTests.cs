using NormalizingFlows.Autograd;
using NormalizingFlows.Flows;
using NormalizingFlows.Tensors;
using NormalizingFlows.Tensors.Kernels;

namespace NormalizingFlows.Tests.Flows;

/// <summary>The same seed and inputs give the same bits with 1 and with 2 threads (threaded GEMM, row-split ops).</summary>
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
        Assert.Equal(one.lp, two.lp);
        Assert.Equal(one.grads, two.grads);
    }
}
