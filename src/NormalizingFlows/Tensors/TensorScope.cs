namespace NormalizingFlows.Tensors;

/// <summary>
/// Collects every tensor created on this thread while it is open and returns their buffers to the pool when it is
/// disposed, so that a training step reuses memory instead of allocating. Tensors that must outlive the scope call
/// <see cref="Tensor{T}.Untrack"/> (parameters, optimizer state and results kept by the caller).
/// Scopes nest; a tensor belongs to the innermost scope open when it was created. A recycling scope
/// (<see cref="BeginRecycling"/>) also hands its tensor objects and graph nodes to later steps.
/// </summary>
public sealed class TensorScope : IDisposable, ITrackedTensor
{
    [ThreadStatic] private static TensorScope? _current;
    private static readonly Stack<List<ITrackedTensor>> s_lists = new(); // emptied lists of ended scopes, reused
    private List<ITrackedTensor> _tensors;
    private readonly TensorScope? _parent;
    private bool _disposed, _detached, _recycles;

    private TensorScope(TensorScope? parent)
    {
        _parent = parent;
        lock (s_lists) _tensors = s_lists.Count > 0 ? s_lists.Pop() : new(256);
    }

    /// <summary>Opens a scope on this thread.</summary>
    public static TensorScope Begin()
    {
        var s = new TensorScope(_current);
        _current = s;
        return s;
    }

    /// <summary>
    /// Opens a scope on this thread whose tensor objects and graph nodes (not only their buffers) are reused by
    /// later scopes when it ends, so that a training step allocates next to nothing: nothing created inside it
    /// may be used after it ends, unless untracked (a tensor or node kept past it may then show another one's
    /// values instead of throwing <see cref="ObjectDisposedException"/>).
    /// </summary>
    public static TensorScope BeginRecycling()
    {
        var s = new TensorScope(_current) { _recycles = true };
        _current = s;
        return s;
    }

    /// <summary>True for a scope opened by <see cref="BeginRecycling"/> (and the detached scopes of its row blocks).</summary>
    internal bool Recycles => _recycles;

    internal static void Register(ITrackedTensor t) => _current?._tensors.Add(t);

    /// <summary>The innermost scope open on this thread, or null.</summary>
    internal static TensorScope? Current => _current;

    /// <summary>
    /// A scope not attached to any thread: <see cref="Enter"/> makes it current on the calling thread for a while
    /// (work that runs on another thread keeps its tensors here); disposing it releases them from any thread.
    /// </summary>
    internal static TensorScope CreateDetached(bool recycles) => new(null) { _detached = true, _recycles = recycles };

    /// <summary>Makes this detached scope the current one on this thread; returns the scope to restore with <see cref="Exit"/>.</summary>
    internal TensorScope? Enter()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var previous = _current;
        _current = this;
        return previous;
    }

    /// <summary>Restores the scope that was current before <see cref="Enter"/>.</summary>
    internal static void Exit(TensorScope? previous) => _current = previous;

    /// <summary>Ties this scope's lifetime to the scope current on this thread (released with it), if any.</summary>
    internal void ReleaseWithCurrent() => _current?._tensors.Add(this);

    void ITrackedTensor.ReleaseIfTracked() => Dispose();

    void ITrackedTensor.Recycle() => Dispose();

    /// <summary>Number of tensors this scope currently tracks.</summary>
    public int Count => _tensors.Count;

    /// <summary>Releases the buffers of every tensor still tracked by this scope.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        if (!_detached)
        {
            if (_current != this)
                throw new InvalidOperationException("TensorScope disposed out of order: an inner scope is still open.");
            _current = _parent;
        }
        _disposed = true;
        var tensors = _tensors;
        if (_recycles) for (int i = tensors.Count - 1; i >= 0; i--) tensors[i].Recycle();
        else for (int i = tensors.Count - 1; i >= 0; i--) tensors[i].ReleaseIfTracked();
        tensors.Clear();
        _tensors = Empty;
        if (tensors.Capacity <= MaxPooledCapacity)
            lock (s_lists) if (s_lists.Count < MaxPooledLists) s_lists.Push(tensors);
    }

    private const int MaxPooledLists = 64, MaxPooledCapacity = 1 << 16;

    // What a disposed scope holds instead of its list (given back for reuse); Count reads 0.
    private static readonly List<ITrackedTensor> Empty = [];
}

internal interface ITrackedTensor
{
    /// <summary>Releases the buffer unless untracked (the end of a scope).</summary>
    void ReleaseIfTracked();

    /// <summary>As <see cref="ReleaseIfTracked"/>, then gives the object itself back for reuse when it is dead (the end of a recycling scope).</summary>
    void Recycle();
}
