using System.Numerics;
using NormalizingFlows.Tensors;

namespace NormalizingFlows.Autograd;

/// <summary>
/// The result of an op whose backward is a static function of the node and a state the op stores in it: one object
/// per recorded op, where a capturing lambda costs a closure and a delegate besides the node. The state may be a
/// struct (a tuple of the op's sizes and arrays) or the op's own object; the backward must be a static lambda or a
/// static method (so that its delegate is cached).
/// </summary>
internal sealed class StateNode<T, TState> : Var<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly TState _state;
    private readonly Action<TState, StateNode<T, TState>> _backward;

    /// <summary>A node over <paramref name="inputs"/> whose gradient <paramref name="backward"/>(state, node) propagates.</summary>
    public StateNode(Tensor<T> value, ReadOnlySpan<Var<T>> inputs, TState state, Action<TState, StateNode<T, TState>> backward)
        : base(value, inputs, Propagate)
        => (_state, _backward) = (state, backward);

    /// <summary>A hub node (see <see cref="Var{T}(Tensor{T}, ReadOnlySpan{Var{T}}, BackwardFunction{T}, int[])"/>) with a state.</summary>
    public StateNode(Tensor<T> value, ReadOnlySpan<Var<T>> inputs, TState state, Action<TState, StateNode<T, TState>> backward, int[] gradShape)
        : base(value, inputs, Propagate, gradShape)
        => (_state, _backward) = (state, backward);

    private static readonly BackwardFunction<T> Propagate = static o =>
    {
        var node = (StateNode<T, TState>)o;
        node._backward(node._state, node);
    };
}
