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
    private TensorScope? _parent;
    private bool _disposed, _detached, _recycles;
    private int _generation; // counts the uses of a recycled scope object (a stale RecyclingScope handle then does nothing)
    private byte _home;      // recycler stripe of the thread that took or made a recycled one

    private TensorScope(TensorScope? parent)
    {
        _parent = parent;
        lock (s_lists) _tensors = s_lists.Count > 0 ? s_lists.Pop() : new(256);
    }

    /// <summary>A recycling scope object given back by an ended one (or a new one), open again with <paramref name="parent"/>.</summary>
    private static TensorScope Recycled(TensorScope? parent, bool detached)
    {
        var s = ObjectRecycler<TensorScope>.Take();
        if (s is null) s = new TensorScope(parent);
        else (s._parent, s._disposed) = (parent, false);
        (s._detached, s._recycles, s._home) = (detached, true, (byte)ObjectRecycler<TensorScope>.CurrentStripe);
        return s;
    }

    /// <summary>Opens a scope on this thread.</summary>
    public static TensorScope Begin()
    {
        var s = new TensorScope(_current);
        _current = s;
        return s;
    }

    /// <summary>
    /// Opens a scope on this thread whose tensor objects and graph nodes (not only their buffers), and the scope
    /// object itself, are reused by later scopes when it ends, so that a training step allocates nothing on the
    /// managed heap: no tensor or graph node created inside it may be used after it ends, unless it is
    /// a tensor untracked (a tensor or node kept past it may then show another one's values instead of throwing
    /// <see cref="ObjectDisposedException"/>).
    /// </summary>
    public static RecyclingScope BeginRecycling()
    {
        var s = Recycled(_current, detached: false);
        _current = s;
        return new RecyclingScope(s, s._generation);
    }

    /// <summary>Ends this scope if it is still the use <paramref name="generation"/> of the object (see <see cref="RecyclingScope"/>).</summary>
    internal void Dispose(int generation)
    {
        if (generation == _generation) Dispose();
    }

    /// <summary>The tensors tracked by the use <paramref name="generation"/> of this object (0 once it ended).</summary>
    internal int CountOf(int generation) => generation == _generation ? Count : 0;

    /// <summary>True for a scope opened by <see cref="BeginRecycling"/> (and the detached scopes of its row blocks).</summary>
    internal bool Recycles => _recycles;

    internal static void Register(ITrackedTensor t) => _current?._tensors.Add(t);

    /// <summary>The innermost scope open on this thread, or null.</summary>
    internal static TensorScope? Current => _current;

    /// <summary>
    /// A scope not attached to any thread: <see cref="Enter"/> makes it current on the calling thread for a while
    /// (work that runs on another thread keeps its tensors here); disposing it releases them from any thread.
    /// </summary>
    internal static TensorScope CreateDetached(bool recycles) => recycles ? Recycled(null, detached: true) : new(null) { _detached = true };

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
        if (_recycles)
        {
            // the object goes back with its emptied list; a handle to this use no longer reaches it
            _generation++;
            ObjectRecycler<TensorScope>.Give(this, _home);
            return;
        }
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
