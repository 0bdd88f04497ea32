using System.Numerics;
using NormalizingFlows.Autograd;

namespace NormalizingFlows.Nn;

/// <summary>Applies an <see cref="Activation"/> as a differentiable op.</summary>
public static class Activations
{
    /// <summary>activation(x).</summary>
    public static Var<T> Apply<T>(Activation activation, Var<T> x) where T : unmanaged, IFloatingPointIeee754<T> => activation switch
    {
        Activation.Relu => Ops.Relu(x),
        Activation.Elu => Ops.Elu(x),
        Activation.Tanh => Ops.Tanh(x),
        Activation.Silu => Ops.Silu(x),
        Activation.LeakyRelu => Ops.LeakyRelu(x),
        Activation.Sigmoid => Ops.Sigmoid(x),
        Activation.Softplus => Ops.Softplus(x),
        Activation.Identity => x,
        _ => throw new ArgumentOutOfRangeException(nameof(activation), activation, "unknown activation"),
    };
}
