using System.Numerics;
using System.Text.Json.Nodes;
using NormalizingFlows.Nn;
using NormalizingFlows.Tensors;

namespace NormalizingFlows.Transforms;

/// <summary>
/// The library's autoregressive conditioner (saved as "made"): a <see cref="Made{T}"/> in the layer's order, or with
/// <see cref="ConditionerNetwork.Residual"/> a residual MADE. Autoregressive by construction (the layer skips its check).
/// </summary>
public sealed record MadeConditioner : ConditionerNetwork
{
    /// <summary>The name it is saved under.</summary>
    public const string KindName = "made";

    /// <summary>ReLU MADE with two hidden layers of 128 units, PyTorch's default init, zero output weights.</summary>
    public static MadeConditioner Default { get; } = new();

    /// <summary>Initialisation of the hidden layers (default: PyTorch's nn.Linear default).</summary>
    public LinearInit HiddenInit { get; init; } = LinearInit.Default;

    /// <summary>Factor on the random output weights with <see cref="ConditionerOutputInit.Random"/> (default 1).</summary>
    public double OutputWeightScale { get; init; } = 1.0;

    /// <inheritdoc/>
    public override string Name => KindName;

    /// <summary>Reads <see cref="ConditionerNetwork.Settings"/>' output.</summary>
    public static MadeConditioner FromSettings(JsonObject settings) => ConditionerJson.FromObject<MadeConditioner>(settings, KindName);

    /// <inheritdoc/>
    public override void Validate()
    {
        base.Validate();
        if (!(OutputWeightScale >= 0 && double.IsFinite(OutputWeightScale)))
            throw new ArgumentOutOfRangeException(nameof(OutputWeightScale), OutputWeightScale, "must be a finite scale ≥ 0");
    }

    private protected override (Module<T> Network, Tensor<T> OutputBias) Build<T>(ConditionerShape shape, Rng rng)
    {
        if (shape.Order is not { } order) throw new ArgumentException("a MADE conditioner needs an autoregressive order (coupling layers use CouplingConditioner)", nameof(shape));
        var made = new Made<T>(shape.Inputs, HiddenFeatures, rng, HiddenLayers, shape.ParametersPerFeature, shape.ContextFeatures,
            customOrder: order.ToArray(), activation: Activation, residualBlocks: Residual, dropout: Dropout,
            zeroInitLast: OutputInit == ConditionerOutputInit.Identity, hiddenInit: HiddenInit,
            outputWeightScale: OutputInit == ConditionerOutputInit.Random ? OutputWeightScale : 1.0);
        return (made, made.Layers[^1].Bias!.Value);
    }
}
