using System.Runtime.InteropServices;

namespace NormalizingFlows.Tensors.Kernels;

/// <summary>
/// Splits a row range over the <see cref="WorkerPool"/> for ops whose work is independent per row (spline and affine
/// updates, per-row gathers). Parts are contiguous and fixed by the row count and the thread count only, and each
/// row is computed by exactly one part, so results do not depend on scheduling.
/// </summary>
public static unsafe class ParallelRows
{
    private struct State
    {
        public IntPtr Body;
        public IntPtr Target;
        public int Rows;
        public int Parts;
    }

    /// <summary>
    /// Runs <paramref name="body"/>(start, end) over [0, <paramref name="rows"/>) in up to <see cref="WorkerPool.MaxThreads"/>
    /// contiguous parts of at least <paramref name="minRowsPerPart"/> rows (one part, on the calling thread, for small inputs).
    /// </summary>
    public static void For(int rows, int minRowsPerPart, Action<int, int> body)
        => For(rows, minRowsPerPart, body, static (b, start, end) => b(start, end));

    /// <summary>
    /// <see cref="For(int, int, Action{int, int})"/> with the body's data passed as <paramref name="target"/>:
    /// <paramref name="body"/>(target, start, end). With a static lambda nothing is allocated per call.
    /// </summary>
    public static void For<TTarget>(int rows, int minRowsPerPart, TTarget target, Action<TTarget, int, int> body) where TTarget : class
    {
        ArgumentNullException.ThrowIfNull(body);
        if (rows <= 0) return;
        int parts = Math.Min(WorkerPool.MaxThreads, rows / Math.Max(1, minRowsPerPart));
        if (parts <= 1)
        {
            body(target, 0, rows);
            return;
        }
        var handle = GCHandle.Alloc(body);
        var targetHandle = GCHandle.Alloc(target);
        try
        {
            var st = new State { Body = GCHandle.ToIntPtr(handle), Target = GCHandle.ToIntPtr(targetHandle), Rows = rows, Parts = parts };
            WorkerPool.For(parts, &Part<TTarget>, &st);
        }
        finally
        {
            targetHandle.Free();
            handle.Free();
        }
    }

    /// <summary>Runs <paramref name="body"/>(p) for p in [0, <paramref name="parts"/>) on the worker threads (p = 0 on the calling thread when it is free first).</summary>
    public static void ForParts(int parts, Action<int> body)
    {
        ArgumentNullException.ThrowIfNull(body);
        ForParts(parts, body, static (b, p) => b(p));
    }

    /// <summary>
    /// <see cref="ForParts(int, Action{int})"/> with the body's data passed as <paramref name="target"/>:
    /// <paramref name="body"/>(target, p). With a static lambda nothing is allocated per call.
    /// </summary>
    public static void ForParts<TTarget>(int parts, TTarget target, Action<TTarget, int> body) where TTarget : class
    {
        ArgumentNullException.ThrowIfNull(body);
        if (parts <= 0) return;
        if (parts == 1)
        {
            body(target, 0);
            return;
        }
        var handle = GCHandle.Alloc(body);
        var targetHandle = GCHandle.Alloc(target);
        try
        {
            var st = new State { Body = GCHandle.ToIntPtr(handle), Target = GCHandle.ToIntPtr(targetHandle), Parts = parts };
            WorkerPool.For(parts, &TargetPart<TTarget>, &st);
        }
        finally
        {
            targetHandle.Free();
            handle.Free();
        }
    }

    private static void TargetPart<TTarget>(void* state, int p) where TTarget : class
    {
        ref var st = ref *(State*)state;
        ((Action<TTarget, int>)GCHandle.FromIntPtr(st.Body).Target!)((TTarget)GCHandle.FromIntPtr(st.Target).Target!, p);
    }

    private static void Part<TTarget>(void* state, int p) where TTarget : class
    {
        ref var st = ref *(State*)state;
        var body = (Action<TTarget, int, int>)GCHandle.FromIntPtr(st.Body).Target!;
        long start = (long)st.Rows * p / st.Parts, end = (long)st.Rows * (p + 1) / st.Parts;
        if (end > start) body((TTarget)GCHandle.FromIntPtr(st.Target).Target!, (int)start, (int)end);
    }
}
