using System.Numerics;
using NormalizingFlows.Autograd;

namespace NormalizingFlows.Nn;

/// <summary>
/// A conditioner network: maps inputs [N, I] and an optional context [N, C] to a layer's parameters [N, O]
/// (<see cref="Mlp{T}"/>, <see cref="ResidualNet{T}"/>, <see cref="Made{T}"/>, or a user module).
/// </summary>
public interface IConditioner<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>The parameters for <paramref name="input"/> given <paramref name="context"/> (null when the layer has none).</summary>
    Var<T> Forward(Var<T> input, Var<T>? context);
}
