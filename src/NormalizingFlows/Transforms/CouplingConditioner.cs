using System.Numerics;
using System.Text.Json.Nodes;
using NormalizingFlows.Nn;
using NormalizingFlows.Tensors;

namespace NormalizingFlows.Transforms;

/// <summary>
/// The library's coupling conditioner (saved as "coupling"): an <see cref="Mlp{T}"/> over [x_a, context], or with
/// <see cref="ConditionerNetwork.Residual"/> a <see cref="ResidualNet{T}"/> with the context fed to every block
/// (optionally batch-normalised).
/// </summary>
public sealed record CouplingConditioner : ConditionerNetwork
{
    /// <summary>The name it is saved under.</summary>
    public const string KindName = "coupling";

    /// <summary>ReLU MLP with two hidden layers of 128 units.</summary>
    public static CouplingConditioner Default { get; } = new();

    /// <summary>Batch normalisation inside residual blocks (with <see cref="ConditionerNetwork.Residual"/> only).</summary>
    public bool BatchNorm { get; init; }

    /// <inheritdoc/>
    public override string Name => KindName;

    /// <summary>Reads <see cref="ConditionerNetwork.Settings"/>' output.</summary>
    public static CouplingConditioner FromSettings(JsonObject settings) => ConditionerJson.FromObject<CouplingConditioner>(settings, KindName);

    private protected override (Module<T> Network, Tensor<T> OutputBias) Build<T>(ConditionerShape shape, Rng rng)
    {
        bool zero = OutputInit == ConditionerOutputInit.Identity;
        if (Residual)
        {
            var net = new ResidualNet<T>(shape.Inputs, shape.Outputs, HiddenFeatures, rng, shape.ContextFeatures, HiddenLayers, Activation, Dropout, BatchNorm, zeroInitLast: zero);
            return (net, net.NamedParameters().First(p => p.Key == "final.bias").Value.Value);
        }
        var mlp = new Mlp<T>(shape.Inputs + shape.ContextFeatures, Enumerable.Repeat(HiddenFeatures, HiddenLayers).ToArray(), shape.Outputs, rng,
            Activation, zeroInitLast: zero, dropout: Dropout);
        return (mlp, mlp.Layers[^1].Bias!.Value);
    }
}
