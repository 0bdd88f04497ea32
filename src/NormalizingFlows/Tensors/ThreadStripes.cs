namespace NormalizingFlows.Tensors;

/// <summary>
/// Numbers the threads that use <typeparamref name="TOwner"/> (a pool or a recycler) 0, 1, 2 … in the order they
/// first ask; owners spread threads over their stripes by this number.
/// </summary>
internal static class ThreadStripes<TOwner>
{
    private static int _next = -1;
    [ThreadStatic] private static int t_number; // number + 1 (0: not assigned yet)

    /// <summary>The calling thread's number.</summary>
    public static int Number
    {
        get
        {
            int s = t_number;
            if (s == 0) t_number = s = Interlocked.Increment(ref _next) + 1;
            return s - 1;
        }
    }
}
