using System.Numerics;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using NormalizingFlows.Nn;
using NormalizingFlows.Tensors;

namespace NormalizingFlows.Transforms;

/// <summary>
/// The settings the library's conditioner networks share (<see cref="CouplingConditioner"/>, <see cref="MadeConditioner"/>):
/// width, depth, activation, residual blocks, dropout and the output start. Their last layer's bias holds the
/// update's identity parameters; with <see cref="ConditionerOutputInit.Identity"/> its weights start at zero.
/// </summary>
public abstract record ConditionerNetwork : IConditionerFactory
{
    /// <summary>Hidden units per layer (default 128).</summary>
    public int HiddenFeatures { get; init; } = 128;

    /// <summary>Hidden layers (or residual blocks with <see cref="Residual"/>), default 2.</summary>
    public int HiddenLayers { get; init; } = 2;

    /// <summary>Hidden activation (default ReLU).</summary>
    public Activation Activation { get; init; } = Activation.Relu;

    /// <summary>Residual blocks instead of a plain feed-forward network.</summary>
    public bool Residual { get; init; }

    /// <summary>Dropout probability between hidden layers (0: none).</summary>
    public double Dropout { get; init; }

    /// <summary>How the output layer starts: zero weights (<see cref="ConditionerOutputInit.Identity"/>, the default) or random ones.</summary>
    public ConditionerOutputInit OutputInit { get; init; } = ConditionerOutputInit.Identity;

    /// <inheritdoc/>
    [JsonIgnore]
    public abstract string Name { get; }

    /// <summary>Throws an <see cref="ArgumentOutOfRangeException"/> naming the first unusable setting.</summary>
    public virtual void Validate()
    {
        if (HiddenFeatures <= 0) throw new ArgumentOutOfRangeException(nameof(HiddenFeatures), HiddenFeatures, "conditioner needs hidden units");
        if (HiddenLayers < 1) throw new ArgumentOutOfRangeException(nameof(HiddenLayers), HiddenLayers, "conditioner needs at least one hidden layer (or block)");
        if (!(Dropout >= 0 && Dropout < 1)) throw new ArgumentOutOfRangeException(nameof(Dropout), Dropout, "dropout must lie in [0, 1)");
    }

    /// <inheritdoc/>
    public JsonObject Settings() => ConditionerJson.ToObject(this);

    /// <inheritdoc/>
    public Module<T> Create<T>(ConditionerShape shape, Rng rng) where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(shape);
        ArgumentNullException.ThrowIfNull(rng);
        Validate();
        var (network, outputBias) = Build<T>(shape, rng);
        shape.InitialiseIdentityBias(outputBias);
        return network;
    }

    /// <summary>The network for <paramref name="shape"/> and its output layer's bias.</summary>
    private protected abstract (Module<T> Network, Tensor<T> OutputBias) Build<T>(ConditionerShape shape, Rng rng) where T : unmanaged, IFloatingPointIeee754<T>;
}
