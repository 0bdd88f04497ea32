using System.Numerics;
using NormalizingFlows.Tensors;

namespace NormalizingFlows.Transforms;

/// <summary>
/// What a layer asks of its conditioner: <see cref="Inputs"/> features and <see cref="ContextFeatures"/> context
/// features in, <see cref="Outputs"/> parameters out (feature-major, <see cref="ParametersPerFeature"/> per transformed
/// feature). For an autoregressive layer <see cref="Order"/> holds each input feature's position in the order: output
/// block i (outputs i·m … i·m + m − 1) may depend only on inputs j with Order[j] &lt; Order[i], and the layer checks that.
/// </summary>
public sealed record ConditionerShape
{
    /// <summary>A shape; <paramref name="identityParameters"/> are the update's m identity values.</summary>
    public ConditionerShape(int inputs, int contextFeatures, int outputs, IReadOnlyList<double> identityParameters, IReadOnlyList<int>? order = null)
    {
        ArgumentNullException.ThrowIfNull(identityParameters);
        if (inputs < 1) throw new ArgumentOutOfRangeException(nameof(inputs), inputs, "a conditioner needs at least one input");
        if (contextFeatures < 0) throw new ArgumentOutOfRangeException(nameof(contextFeatures), contextFeatures, "must be ≥ 0");
        if (identityParameters.Count < 1 || outputs < 1 || outputs % identityParameters.Count != 0)
            throw new ArgumentException($"{outputs} outputs are not a whole number of {identityParameters.Count}-parameter blocks", nameof(outputs));
        if (order is not null && (order.Count != inputs || outputs != inputs * identityParameters.Count))
            throw new ArgumentException($"an autoregressive conditioner needs an order of {inputs} entries and {inputs}·m outputs", nameof(order));
        Inputs = inputs;
        ContextFeatures = contextFeatures;
        Outputs = outputs;
        IdentityParameters = identityParameters.ToArray();
        Order = order?.ToArray();
    }

    /// <summary>Input features I.</summary>
    public int Inputs { get; }

    /// <summary>Context features C (0: none).</summary>
    public int ContextFeatures { get; }

    /// <summary>Outputs O = transformed features · m.</summary>
    public int Outputs { get; }

    /// <summary>The update's m identity parameter values.</summary>
    public IReadOnlyList<double> IdentityParameters { get; }

    /// <summary>Parameters m per transformed feature.</summary>
    public int ParametersPerFeature => IdentityParameters.Count;

    /// <summary>Position of each input feature in the autoregressive order (null for a coupling conditioner).</summary>
    public IReadOnlyList<int>? Order { get; }

    /// <summary>Sets an output bias [O] to the identity parameters, repeated for every transformed feature (a network with zero output weights then starts as the identity).</summary>
    public void InitialiseIdentityBias<T>(Tensor<T> bias) where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(bias);
        if (bias.Length != Outputs) throw new ArgumentException($"the bias has {bias.Length} entries for {Outputs} outputs", nameof(bias));
        var bs = bias.Span;
        int m = IdentityParameters.Count;
        for (int j = 0; j < bs.Length; j++) bs[j] = T.CreateTruncating(IdentityParameters[j % m]);
    }
}
