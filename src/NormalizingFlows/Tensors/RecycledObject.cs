namespace NormalizingFlows.Tensors;

/// <summary>
/// Base of an op's per-call state object that recycling scopes (<see cref="TensorScope.BeginRecycling"/>) reuse:
/// <see cref="Rent"/> gives one back from an ended scope (or a new one) and ties it to the current scope.
/// </summary>
internal abstract class RecycledObject<TSelf> : ITrackedTensor where TSelf : RecycledObject<TSelf>, new()
{
    private byte _home; // recycler stripe of the thread that rented it

    /// <summary>An object for the caller to fill; inside a recycling scope, reused and given back when the scope ends.</summary>
    public static TSelf Rent()
    {
        if (TensorScope.Current is not { Recycles: true }) return new TSelf();
        var obj = ObjectRecycler<TSelf>.Take() ?? new TSelf();
        obj._home = (byte)ObjectRecycler<TSelf>.CurrentStripe;
        TensorScope.Register(obj);
        return obj;
    }

    /// <summary>Drops every reference the object holds (it is about to be reused).</summary>
    protected abstract void Reset();

    void ITrackedTensor.ReleaseIfTracked() { } // registered in recycling scopes only

    void ITrackedTensor.Recycle()
    {
        Reset();
        ObjectRecycler<TSelf>.Give((TSelf)this, _home);
    }
}
