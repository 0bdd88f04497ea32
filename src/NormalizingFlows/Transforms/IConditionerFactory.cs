using System.Numerics;
using System.Text.Json.Nodes;
using NormalizingFlows.Nn;
using NormalizingFlows.Tensors;

namespace NormalizingFlows.Transforms;

/// <summary>
/// Makes the conditioner network of a coupling or autoregressive layer for a <see cref="ConditionerShape"/>.
/// <see cref="CouplingConditioner"/> (MLP or residual net) and <see cref="MadeConditioner"/> are the
/// library's; a user factory returns its own module (which must implement <see cref="IConditioner{T}"/>, and be
/// autoregressive when the shape has an order) and, to be saved in a model file, registers <see cref="Name"/> with
/// the model architecture registry (Models.FlowArchitecture.RegisterConditioner).
/// </summary>
public interface IConditionerFactory
{
    /// <summary>The name the factory is saved and registered under.</summary>
    string Name { get; }

    /// <summary>Every setting of the factory as JSON (what the registered reader turns back into an equal factory).</summary>
    JsonObject Settings();

    /// <summary>A fresh network for <paramref name="shape"/>, initialised from <paramref name="rng"/>.</summary>
    Module<T> Create<T>(ConditionerShape shape, Rng rng) where T : unmanaged, IFloatingPointIeee754<T>;
}
