namespace NormalizingFlows.Tensors;

/// <summary>
/// A recycling <see cref="TensorScope"/> opened by <see cref="TensorScope.BeginRecycling"/>: dispose it (a
/// <c>using</c> block) to end the scope. The scope object is reused by later recycling scopes once it ended; this
/// handle reaches only its own use of it, so disposing it twice does nothing the second time.
/// </summary>
public readonly struct RecyclingScope : IDisposable
{
    private readonly TensorScope? _scope;
    private readonly int _generation;

    internal RecyclingScope(TensorScope scope, int generation) => (_scope, _generation) = (scope, generation);

    /// <summary>Number of tensors the scope currently tracks (0 once it ended).</summary>
    public int Count => _scope?.CountOf(_generation) ?? 0;

    /// <summary>Ends the scope (see <see cref="TensorScope.Dispose()"/>); nothing when it already ended.</summary>
    public void Dispose() => _scope?.Dispose(_generation);
}
