using System.Numerics;
using NormalizingFlows.Autograd;

namespace NormalizingFlows.Nn;

/// <summary>Activation functions selectable by the network builders.</summary>
public enum Activation
{
    /// <summary>max(x, 0).</summary>
    Relu,
    /// <summary>x for x &gt; 0, exp(x) − 1 otherwise.</summary>
    Elu,
    /// <summary>tanh(x).</summary>
    Tanh,
    /// <summary>x·sigmoid(x) (swish).</summary>
    Silu,
    /// <summary>x for x &gt; 0, 0.01·x otherwise.</summary>
    LeakyRelu,
    /// <summary>1 / (1 + exp(−x)).</summary>
    Sigmoid,
    /// <summary>ln(1 + exp(x)).</summary>
    Softplus,
    /// <summary>x (no activation).</summary>
    Identity,
}

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
