using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.ExceptionServices;

namespace NormalizingFlows.Tensors.Kernels;

/// <summary>
/// Persistent worker threads for the kernels: fork/join without allocation. The calling thread takes part in the
/// work; background workers spin for a millisecond after each job (so back-to-back kernels fork in well under a microsecond)
/// and then block on an event. Calls made from inside a part, or while another thread holds the pool, run
/// sequentially on the calling thread, so nesting and concurrent use cannot deadlock.
/// </summary>
public static unsafe class WorkerPool
{
    private const int Idle = 0, Assigned = 1, Running = 2;

    private sealed class Worker
    {
        public int State;      // Idle / Assigned / Running
        public int Index;      // 1-based; the caller is thread 0
        public int Sleeping;   // 1 while (about to be) blocked on Event
        public readonly AutoResetEvent Event = new(false);
    }

    private static int _maxThreads = Environment.ProcessorCount;
    private static readonly object Gate = new();
    private static Worker[]? _workers;
    // How long an idle worker spins before it blocks: 1 ms, so that the serial stretches between parallel regions of
    // one batch (a sampler's in-order random draws, ~0.5 ms for 10 000 × 18) do not put it to sleep; waking a blocked
    // thread costs tens of µs in a VM. realnvp sampling at 2 threads: 647–657k → 679–710k samples/s against 50 µs.
    private static readonly long SpinTicks = Math.Max(1, Stopwatch.Frequency / 1_000);

    // The job being run (only read by workers in the Running state, which the caller waits out).
    private static delegate*<void*, int, void> _body;
    private static void* _state;
    private static int _parts;
    private static int _next;
    private static int _threads;
    private static long _claimed; // bit p set once part p (< 64) is taken
    private static Exception? _error;

    [ThreadStatic] private static bool t_inside;

    /// <summary>Largest number of threads (the caller included) a kernel may use; 1 disables threading.</summary>
    public static int MaxThreads
    {
        get => _maxThreads;
        set => _maxThreads = Math.Clamp(value, 1, Environment.ProcessorCount);
    }

    /// <summary>True on a thread that is running a part (where further calls run sequentially).</summary>
    public static bool IsInsidePart => t_inside;

    /// <summary>Runs <c>body(state, p)</c> for every p in [0, parts) on up to <see cref="MaxThreads"/> threads and returns when all are done.</summary>
    public static void For(int parts, delegate*<void*, int, void> body, void* state)
    {
        if (parts <= 0) return;
        if (body == null) throw new ArgumentNullException(nameof(body));
        int threads = Math.Min(_maxThreads, parts);
        if (threads <= 1 || t_inside || !Monitor.TryEnter(Gate))
        {
            RunSequential(parts, body, state);
            return;
        }
        try
        {
            t_inside = true;
            Worker[] workers = _workers ?? CreateWorkers();
            int nw = Math.Min(threads - 1, workers.Length);
            _body = body;
            _state = state;
            _parts = parts;
            _error = null;
            _threads = nw + 1;
            _claimed = 0;
            Volatile.Write(ref _next, 0);
            for (int w = 0; w < nw; w++)
            {
                Worker wk = workers[w];
                Interlocked.Exchange(ref wk.State, Assigned); // full fence: job fields are visible first
                if (Volatile.Read(ref wk.Sleeping) != 0) wk.Event.Set();
            }
            RunParts(0);
            for (int w = 0; w < nw; w++)
            {
                Worker wk = workers[w];
                // Revoke a worker that has not started; otherwise wait until it has left the job.
                if (Interlocked.CompareExchange(ref wk.State, Idle, Assigned) == Assigned) continue;
                long spins = 0;
                while (Volatile.Read(ref wk.State) != Idle)
                {
                    // Pure spinning first (the worker is running a part); yield only if it seems descheduled.
                    if (++spins < 200_000) Thread.SpinWait(1);
                    else Thread.Yield();
                }
            }
            Exception? err = _error;
            _error = null;
            _body = null;
            _state = null;
            if (err != null) ExceptionDispatchInfo.Throw(err);
        }
        finally
        {
            t_inside = false;
            Monitor.Exit(Gate);
        }
    }

    private static void RunSequential(int parts, delegate*<void*, int, void> body, void* state)
    {
        bool was = t_inside;
        t_inside = true;
        try
        {
            for (int p = 0; p < parts; p++) body(state, p);
        }
        finally { t_inside = was; }
    }

    /// <summary>
    /// Runs parts until none is left. With at most 64 parts, thread t first takes parts t, t + T, t + 2T, … (so the
    /// same thread tends to touch the same memory call after call), then steals whatever is still unclaimed; with
    /// more parts, they are handed out from a shared counter.
    /// </summary>
    private static void RunParts(int thread)
    {
        int parts = _parts;
        delegate*<void*, int, void> body = _body;
        void* state = _state;
        if (parts <= 64)
        {
            int threads = _threads;
            for (int p = thread; p < parts; p += threads) TryRun(p, body, state);
            for (int p = 0; p < parts; p++) TryRun(p, body, state);
            return;
        }
        while (true)
        {
            int p = Interlocked.Increment(ref _next) - 1;
            if (p >= parts) return;
            Run(p, body, state);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void TryRun(int p, delegate*<void*, int, void> body, void* state)
    {
        long bit = 1L << p;
        if ((Volatile.Read(ref _claimed) & bit) != 0) return;
        if ((Interlocked.Or(ref _claimed, bit) & bit) != 0) return;
        Run(p, body, state);
    }

    private static void Run(int p, delegate*<void*, int, void> body, void* state)
    {
        if (Volatile.Read(ref _error) != null) return; // a part failed: skip the rest
        try { body(state, p); }
        catch (Exception ex)
        {
            Interlocked.CompareExchange(ref _error, ex, null);
        }
    }

    private static Worker[] CreateWorkers()
    {
        int n = Math.Max(0, Environment.ProcessorCount - 1);
        var workers = new Worker[n];
        for (int i = 0; i < n; i++)
        {
            var wk = new Worker { Index = i + 1 };
            workers[i] = wk;
            var t = new Thread(() => WorkerLoop(wk), 4 << 20) { IsBackground = true, Name = $"NormalizingFlows worker {i + 1}" };
            t.Start();
        }
        _workers = workers;
        return workers;
    }

    private static void WorkerLoop(Worker wk)
    {
        t_inside = true; // nested calls from a part run sequentially
        while (true)
        {
            long deadline = Stopwatch.GetTimestamp() + SpinTicks;
            int spins = 0;
            while (Volatile.Read(ref wk.State) != Assigned)
            {
                if ((++spins & 63) == 0 && Stopwatch.GetTimestamp() > deadline)
                {
                    Interlocked.Exchange(ref wk.Sleeping, 1); // full fence before re-reading the state
                    if (Volatile.Read(ref wk.State) != Assigned) wk.Event.WaitOne();
                    Volatile.Write(ref wk.Sleeping, 0);
                    deadline = Stopwatch.GetTimestamp() + SpinTicks;
                }
                else Thread.SpinWait(1);
            }
            if (Interlocked.CompareExchange(ref wk.State, Running, Assigned) != Assigned) continue; // revoked
            RunParts(wk.Index);
            Volatile.Write(ref wk.State, Idle);
        }
    }
}
