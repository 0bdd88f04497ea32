namespace NormalizingFlows.Tensors.Kernels;

/// <summary>
/// Persistent worker threads for the kernels: fork/join without allocation. (Skeleton: runs the parts on the
/// calling thread; the threaded implementation replaces this file.)
/// </summary>
public static unsafe class WorkerPool
{
    private static int _maxThreads = Environment.ProcessorCount;

    /// <summary>Largest number of threads (the caller included) a kernel may use; 1 disables threading.</summary>
    public static int MaxThreads
    {
        get => _maxThreads;
        set => _maxThreads = Math.Clamp(value, 1, Environment.ProcessorCount);
    }

    /// <summary>Runs <c>body(state, p)</c> for every p in [0, parts) on up to <see cref="MaxThreads"/> threads and returns when all are done.</summary>
    public static void For(int parts, delegate*<void*, int, void> body, void* state)
    {
        for (int p = 0; p < parts; p++) body(state, p);
    }
}
