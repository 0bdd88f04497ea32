namespace NormalizingFlows.Tensors;

/// <summary>
/// Objects of type <typeparamref name="TObj"/> given back by recycling scopes (<see cref="TensorScope.BeginRecycling"/>)
/// for reuse. Each thread takes from a stack of its own; an object goes back to the stripe of the thread that took
/// it (directly onto that thread's stack when it is the one giving it back), so that the threads of row-sharded
/// steps, whose scopes are released by the calling thread, reuse their own objects. Threads get stripes of their
/// own (up to 256 threads; beyond, they share and some objects go to a thread that does not reuse them).
/// </summary>
internal static class ObjectRecycler<TObj> where TObj : class
{
    private const int MaxKept = 1 << 14, StripeCount = 256; // objects beyond MaxKept per stack are left to the GC
    private static readonly Stack<TObj>[] Shared = CreateShared();
    [ThreadStatic] private static Stack<TObj>? t_local;

    private static Stack<TObj>[] CreateShared()
    {
        var s = new Stack<TObj>[StripeCount];
        for (int i = 0; i < s.Length; i++) s[i] = new();
        return s;
    }

    /// <summary>The calling thread's stripe (the value to pass to <see cref="Give"/> for objects it takes or creates).</summary>
    public static int CurrentStripe => ThreadStripes<Stack<TObj>>.Number % StripeCount;

    /// <summary>An object given back earlier, or null.</summary>
    public static TObj? Take()
    {
        var local = t_local;
        if (local is { Count: > 0 }) return local.Pop();
        var shared = Shared[CurrentStripe];
        if (shared.Count == 0) return null; // a racy look first: the lock is taken only when there may be something
        lock (shared)
        {
            if (shared.Count == 0) return null;
            local ??= t_local = new();
            while (shared.Count > 0 && local.Count < MaxKept) local.Push(shared.Pop());
        }
        return local.Pop();
    }

    /// <summary>Gives back <paramref name="obj"/>, which no one may use any more, to stripe <paramref name="stripe"/>.</summary>
    public static void Give(TObj obj, int stripe)
    {
        if (stripe == CurrentStripe)
        {
            var local = t_local ??= new();
            if (local.Count < MaxKept) local.Push(obj);
            return;
        }
        var shared = Shared[stripe];
        lock (shared)
            if (shared.Count < MaxKept) shared.Push(obj);
    }
}
