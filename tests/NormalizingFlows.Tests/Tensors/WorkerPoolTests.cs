using NormalizingFlows.Tensors.Kernels;

namespace NormalizingFlows.Tests.Tensors;

[Collection("Kernels")]
public unsafe class WorkerPoolTests
{
    private struct Counts
    {
        public int* Hits;
        public int ThrowAt;
        public int NestedParts;
        public int* NestedHits;
    }

    private static void CountBody(void* state, int p)
    {
        var s = (Counts*)state;
        Interlocked.Increment(ref s->Hits[p]);
        if (p == s->ThrowAt) throw new InvalidOperationException($"part {p} failed");
        if (s->NestedParts > 0)
        {
            var inner = new Counts { Hits = s->NestedHits + p * s->NestedParts, ThrowAt = -1 };
            WorkerPool.For(s->NestedParts, &CountBody, &inner);
        }
    }

    private static void RunAndCheck(int parts, int nested = 0)
    {
        int* hits = stackalloc int[parts];
        int* nestedHits = stackalloc int[Math.Max(1, parts * nested)];
        for (int i = 0; i < parts; i++) hits[i] = 0;
        for (int i = 0; i < parts * nested; i++) nestedHits[i] = 0;
        var s = new Counts { Hits = hits, ThrowAt = -1, NestedParts = nested, NestedHits = nestedHits };
        WorkerPool.For(parts, &CountBody, &s);
        for (int i = 0; i < parts; i++) Assert.Equal(1, hits[i]);
        for (int i = 0; i < parts * nested; i++) Assert.Equal(1, nestedHits[i]);
    }

    [Fact]
    public void EveryPartRunsExactlyOnce()
    {
        int saved = WorkerPool.MaxThreads;
        try
        {
            foreach (int threads in new[] { 1, 2, Environment.ProcessorCount })
            {
                WorkerPool.MaxThreads = threads;
                foreach (int parts in new[] { 0, 1, 2, 3, 7, 64, 65, 100, 1000 }) RunAndCheck(parts);
            }
        }
        finally { WorkerPool.MaxThreads = saved; }
    }

    [Fact]
    public void ManyRapidCalls()
    {
        for (int r = 0; r < 20_000; r++) RunAndCheck(1 + r % 5);
    }

    [Fact]
    public void NestedCallsRunWithoutDeadlock()
    {
        RunAndCheck(4, nested: 3);
        RunAndCheck(2, nested: 5);
    }

    [Fact]
    public void ExceptionIsRethrownOnCaller()
    {
        int* hits = stackalloc int[8];
        for (int rep = 0; rep < 50; rep++)
        {
            for (int i = 0; i < 8; i++) hits[i] = 0;
            var s = new Counts { Hits = hits, ThrowAt = rep % 8 };
            Counts* ps = &s;
            var ex = Assert.Throws<InvalidOperationException>(() => WorkerPool.For(8, &CountBody, ps));
            Assert.Equal($"part {rep % 8} failed", ex.Message);
        }
        int* many = stackalloc int[200];
        var sm = new Counts { Hits = many, ThrowAt = 150 };
        Counts* psm = &sm;
        Assert.Throws<InvalidOperationException>(() => WorkerPool.For(200, &CountBody, psm)); // counter path (> 64 parts)
        RunAndCheck(8); // the pool still works afterwards
    }

    [Fact]
    public void ConcurrentCallersAreSafe()
    {
        var threads = new Thread[3];
        Exception? error = null;
        for (int t = 0; t < threads.Length; t++)
        {
            threads[t] = new Thread(() =>
            {
                try { for (int r = 0; r < 3000; r++) RunAndCheck(1 + r % 6); }
                catch (Exception e) { error = e; }
            });
            threads[t].Start();
        }
        foreach (var t in threads) t.Join();
        Assert.Null(error);
    }

    [Fact]
    public void MaxThreadsIsClamped()
    {
        int saved = WorkerPool.MaxThreads;
        try
        {
            WorkerPool.MaxThreads = 0;
            Assert.Equal(1, WorkerPool.MaxThreads);
            WorkerPool.MaxThreads = 1000;
            Assert.Equal(Environment.ProcessorCount, WorkerPool.MaxThreads);
        }
        finally { WorkerPool.MaxThreads = saved; }
    }
}
