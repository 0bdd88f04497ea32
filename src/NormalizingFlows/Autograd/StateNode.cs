using System.Numerics;
using NormalizingFlows.Tensors;

namespace NormalizingFlows.Autograd;

/// <summary>
/// The result of an op whose backward is a static function of the node and a state the op stores in it: one object
/// per recorded op, where a capturing lambda costs a closure and a delegate besides the node. The state may be a
/// struct (a tuple of the op's sizes and arrays) or the op's own object; the backward must be a static lambda or a
/// static method (so that its delegate is cached).
/// </summary>
internal sealed class StateNode<T, TState> : Var<T>, ITrackedTensor where T : unmanaged, IFloatingPointIeee754<T>
{
    private TState _state;
    private Action<TState, StateNode<T, TState>> _backward;
    private byte _home; // recycler stripe of the thread that took or made it

    private StateNode(Tensor<T> value, ReadOnlySpan<Var<T>> inputs, TState state, Action<TState, StateNode<T, TState>> backward, int[]? gradShape)
        : base(value, inputs, Propagate)
    {
        if (gradShape is not null) Reinitialize(value, inputs, Propagate, gradShape);
        (_state, _backward) = (state, backward);
    }

    /// <summary>
    /// A node over <paramref name="inputs"/> whose gradient <paramref name="backward"/>(state, node) propagates; with
    /// <paramref name="gradShape"/>, a hub node (see <see cref="Var{T}(Tensor{T}, ReadOnlySpan{Var{T}}, BackwardFunction{T}, int[])"/>).
    /// Inside a recycling scope (<see cref="TensorScope.BeginRecycling"/>) the node is one a past scope gave back, and goes back when this one ends.
    /// </summary>
    public static StateNode<T, TState> Create(Tensor<T> value, ReadOnlySpan<Var<T>> inputs, TState state, Action<TState, StateNode<T, TState>> backward,
        int[]? gradShape = null)
    {
        if (TensorScope.Current is not { Recycles: true }) return new StateNode<T, TState>(value, inputs, state, backward, gradShape);
        var node = ObjectRecycler<StateNode<T, TState>>.Take();
        if (node is null) node = new StateNode<T, TState>(value, inputs, state, backward, gradShape);
        else
        {
            node.Reinitialize(value, inputs, Propagate, gradShape);
            (node._state, node._backward) = (state, backward);
        }
        node._home = (byte)ObjectRecycler<StateNode<T, TState>>.CurrentStripe;
        TensorScope.Register(node);
        return node;
    }

    private static readonly BackwardFunction<T> Propagate = static o =>
    {
        var node = (StateNode<T, TState>)o;
        node._backward(node._state, node);
    };

    void ITrackedTensor.ReleaseIfTracked() { } // registered in recycling scopes only

    void ITrackedTensor.Recycle()
    {
        DropReferences();
        _state = default!;
        ObjectRecycler<StateNode<T, TState>>.Give(this, _home);
    }
}
