namespace NormalizingFlows.Tests.Training;

/// <summary>
/// Tests that count the managed bytes a computation allocates on all threads: they run alone, after the parallel
/// collections (another test's allocations would count too), and may set <c>WorkerPool.MaxThreads</c>.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class AllocationCollection
{
    /// <summary>The collection's name.</summary>
    public const string Name = "Allocation";
}
