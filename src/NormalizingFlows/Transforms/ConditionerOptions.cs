using NormalizingFlows.Nn;

namespace NormalizingFlows.Transforms;

/// <summary>
/// The builders' shorthand for both conditioner kinds: for coupling layers it means a <see cref="CouplingConditioner"/>
/// (<see cref="ForCoupling"/>; <see cref="BatchNorm"/> is coupling-only), for autoregressive layers a
/// <see cref="MadeConditioner"/> (<see cref="ForMade"/>; <see cref="HiddenInit"/> and <see cref="OutputWeightScale"/> are
/// MADE-only). Layers built by hand take those factories (or a user's <see cref="IConditionerFactory"/>) directly.
/// </summary>
public sealed record ConditionerOptions
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

    /// <summary>Batch normalisation inside residual blocks (coupling conditioners with <see cref="Residual"/> only).</summary>
    public bool BatchNorm { get; init; }

    /// <summary>
    /// How the conditioner's output layer starts. Its bias always holds the identity parameters of the layer's
    /// update; <see cref="ConditionerOutputInit.Identity"/> (the default) zeroes the weights so a fresh layer is exactly
    /// the identity; <see cref="ConditionerOutputInit.Random"/> keeps the network's default random weights, so a fresh
    /// layer is a small perturbation of the identity and every hidden unit gets gradient from the first step.
    /// </summary>
    public ConditionerOutputInit OutputInit { get; init; } = ConditionerOutputInit.Identity;

    /// <summary>Initialisation of the MADE's hidden layers (default: PyTorch's nn.Linear default). Coupling MLPs ignore it.</summary>
    public LinearInit HiddenInit { get; init; } = LinearInit.Default;

    /// <summary>Factor on the MADE's random output weights with <see cref="ConditionerOutputInit.Random"/> (default 1). Coupling MLPs ignore it.</summary>
    public double OutputWeightScale { get; init; } = 1.0;

    /// <summary>The defaults: ReLU MLP/MADE with two hidden layers of 128 units.</summary>
    public static ConditionerOptions Default { get; } = new();

    /// <summary>Throws unless the sizes are usable.</summary>
    public void Validate() => Made().Validate();

    /// <summary>The coupling conditioner these options describe (validated; the MADE-only settings do not apply).</summary>
    public CouplingConditioner ForCoupling()
    {
        Validate();
        return new() { HiddenFeatures = HiddenFeatures, HiddenLayers = HiddenLayers, Activation = Activation, Residual = Residual, Dropout = Dropout, BatchNorm = BatchNorm, OutputInit = OutputInit };
    }

    /// <summary>The MADE conditioner these options describe (validated; batch normalisation is refused).</summary>
    public MadeConditioner ForMade()
    {
        Validate();
        if (BatchNorm) throw new ArgumentException("the MADE conditioner has no batch normalisation option", "conditioner");
        return Made();
    }

    private MadeConditioner Made() => new()
    {
        HiddenFeatures = HiddenFeatures, HiddenLayers = HiddenLayers, Activation = Activation, Residual = Residual, Dropout = Dropout,
        OutputInit = OutputInit, HiddenInit = HiddenInit, OutputWeightScale = OutputWeightScale,
    };
}
