namespace NormalizingFlows.Tensors;

/// <summary>
/// Collects every tensor created on this thread while it is open and returns their buffers to the pool when it is
/// disposed, so that a training step reuses memory instead of allocating. Tensors that must outlive the scope call
/// <see cref="Tensor{T}.Untrack"/> (parameters, optimizer state and results kept by the caller).
/// Scopes nest; a tensor belongs to the innermost scope open when it was created.
/// </summary>
public sealed class TensorScope : IDisposable
{
    [ThreadStatic] private static TensorScope? _current;
    private readonly List<ITrackedTensor> _tensors = new(256);
    private readonly TensorScope? _parent;
    private bool _disposed;

    private TensorScope(TensorScope? parent) => _parent = parent;

    /// <summary>Opens a scope on this thread.</summary>
    public static TensorScope Begin()
    {
        var s = new TensorScope(_current);
        _current = s;
        return s;
    }

    internal static void Register(ITrackedTensor t) => _current?._tensors.Add(t);

    /// <summary>Number of tensors this scope currently tracks.</summary>
    public int Count => _tensors.Count;

    /// <summary>Releases the buffers of every tensor still tracked by this scope.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        if (_current != this)
            throw new InvalidOperationException("TensorScope disposed out of order: an inner scope is still open.");
        _disposed = true;
        _current = _parent;
        for (int i = _tensors.Count - 1; i >= 0; i--) _tensors[i].ReleaseIfTracked();
        _tensors.Clear();
    }
}

internal interface ITrackedTensor
{
    void ReleaseIfTracked();
}
