namespace NormalizingFlows.Tensors;

/// <summary>
/// Assigns each thread one of <see cref="Count"/> stripes, round robin in the order threads first ask, separately
/// for each <typeparamref name="TOwner"/> (the pool or recycler whose contention the stripes spread).
/// </summary>
internal static class ThreadStripes<TOwner>
{
    private static int _next = -1;
    [ThreadStatic] private static int t_stripe; // stripe + 1 (0: not assigned yet)

    /// <summary>Number of stripes: the processor count, 1 to 16.</summary>
    public static readonly int Count = Math.Clamp(Environment.ProcessorCount, 1, 16);

    /// <summary>The calling thread's stripe.</summary>
    public static int Current
    {
        get
        {
            int s = t_stripe;
            if (s == 0) t_stripe = s = (int)((uint)Interlocked.Increment(ref _next) % (uint)Count) + 1;
            return s - 1;
        }
    }
}
