using NormalizingFlows.Tensors;
using NormalizingFlows.Tensors.Kernels;

namespace NormalizingFlows.Tests.Tensors;

/// <summary>Long normal fills evaluated on several threads give exactly the values drawn one by one.</summary>
[Collection("Kernels")] // sets WorkerPool.MaxThreads, a process-wide setting: never beside another test that sets it
public class RngParallelNormalTests
{
    [Theory]
    [InlineData(Rng.ParallelNormalMin, false)]
    [InlineData(Rng.ParallelNormalMin + 1, false)]
    [InlineData(40_001, true)]
    [InlineData(40_002, true)]
    public void ParallelFillEqualsTheSequentialDraws(int length, bool spareFirst)
    {
        int saved = WorkerPool.MaxThreads;
        try
        {
            foreach (int threads in new[] { 1, 2, 3, 4 })
            {
                WorkerPool.MaxThreads = threads;
                var fill = new Rng(42); var oneByOne = new Rng(42);
                if (spareFirst) { fill.NextNormal(); oneByOne.NextNormal(); } // a cached second value is used first
                var f = new float[length]; var d = new double[length];
                fill.Normal<float>(f, 0.5, 2.0);
                for (int i = 0; i < length; i++) Assert.Equal((float)(0.5 + 2.0 * oneByOne.NextNormal()), f[i]);
                // the generators are in the same state afterwards (including a cached value)
                Assert.Equal(oneByOne.NextNormal(), fill.NextNormal());
                fill.Normal<double>(d);
                for (int i = 0; i < length; i++) Assert.Equal(oneByOne.NextNormal(), d[i]);
                Assert.Equal(oneByOne.NextUInt64(), fill.NextUInt64());
            }
        }
        finally { WorkerPool.MaxThreads = saved; }
    }

    [Fact]
    public void FillsInSeveralPiecesContinueTheSequence()
    {
        int saved = WorkerPool.MaxThreads, piece = Rng.ParallelNormalPiece;
        try
        {
            WorkerPool.MaxThreads = 2;
            Rng.ParallelNormalPiece = 20_001; // odd: each piece leaves a cached value for the next
            var fill = new Rng(11); var oneByOne = new Rng(11);
            var f = new float[70_000];
            fill.Normal<float>(f);
            for (int i = 0; i < f.Length; i++) Assert.Equal((float)oneByOne.NextNormal(), f[i]);
            Assert.Equal(oneByOne.NextNormal(), fill.NextNormal());
            // pieces of 20 000 after a cached value: the last piece is that one cached value alone (no pair to draw)
            Rng.ParallelNormalPiece = 20_000;
            fill = new Rng(13); oneByOne = new Rng(13);
            fill.NextNormal(); oneByOne.NextNormal();
            var g = new double[40_001];
            fill.Normal<double>(g);
            for (int i = 0; i < g.Length; i++) Assert.Equal(oneByOne.NextNormal(), g[i]);
            Assert.Equal(oneByOne.NextUInt64(), fill.NextUInt64());
        }
        finally { WorkerPool.MaxThreads = saved; Rng.ParallelNormalPiece = piece; }
    }

    [Fact]
    public void ABudgetThatFallsShortStillGivesTheSequentialDraws()
    {
        int saved = WorkerPool.MaxThreads;
        double sigmas = Rng.BudgetSigmas;
        try
        {
            WorkerPool.MaxThreads = 2;
            Rng.BudgetSigmas = -30; // the budgeted tries give fewer pairs than asked: the rest are drawn in order
            var fill = new Rng(7); var oneByOne = new Rng(7);
            var f = new double[50_001];
            fill.Normal<double>(f);
            for (int i = 0; i < f.Length; i++) Assert.Equal(oneByOne.NextNormal(), f[i]);
            Assert.Equal(oneByOne.NextNormal(), fill.NextNormal());
            Assert.Equal(oneByOne.NextUInt64(), fill.NextUInt64());
        }
        finally { WorkerPool.MaxThreads = saved; Rng.BudgetSigmas = sigmas; }
    }
}
