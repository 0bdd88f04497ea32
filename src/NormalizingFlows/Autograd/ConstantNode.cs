using System.Numerics;
using NormalizingFlows.Tensors;

namespace NormalizingFlows.Autograd;

/// <summary>
/// A constant (a leaf without gradient) that recycling scopes (<see cref="TensorScope.BeginRecycling"/>) reuse: the
/// library's ops and losses wrap their unrecorded results and their data in these, so a recycling step allocates no
/// <see cref="Var{T}"/> for them.
/// </summary>
internal sealed class ConstantNode<T> : Var<T>, ITrackedTensor where T : unmanaged, IFloatingPointIeee754<T>
{
    private byte _home; // recycler stripe of the thread that took or made it

    private ConstantNode(Tensor<T> value) : base(value) { }

    /// <summary>
    /// A constant of <paramref name="value"/>: inside a recycling scope one that a past scope gave back (going back
    /// when this one ends, so it must not be kept past it), else a new <see cref="Var{T}"/>.
    /// </summary>
    public static Var<T> Create(Tensor<T> value)
    {
        if (TensorScope.Current is not { Recycles: true }) return new Var<T>(value);
        var node = ObjectRecycler<ConstantNode<T>>.Take();
        if (node is null) node = new ConstantNode<T>(value);
        else node.ReinitializeConstant(value);
        node._home = (byte)ObjectRecycler<ConstantNode<T>>.CurrentStripe;
        TensorScope.Register(node);
        return node;
    }

    void ITrackedTensor.ReleaseIfTracked() { } // registered in recycling scopes only

    void ITrackedTensor.Recycle()
    {
        DropReferences();
        ObjectRecycler<ConstantNode<T>>.Give(this, _home);
    }
}
