using System.Numerics;
using NormalizingFlows.Tensors;

namespace NormalizingFlows.Autograd;

/// <summary>A trainable leaf: a named tensor that outlives tensor scopes and collects gradients.</summary>
public sealed class Parameter<T> : Var<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Wraps <paramref name="value"/> (untracking it from any scope) as a trainable parameter.</summary>
    public Parameter(Tensor<T> value, string? name = null) : base(value.Untrack(), requiresGrad: true) => Name = name;

    /// <summary>When false the optimizer leaves this parameter alone and ops treat it as a constant (frozen).</summary>
    public bool Trainable
    {
        get => RequiresGrad;
        set => RequiresGrad = value;
    }
}
