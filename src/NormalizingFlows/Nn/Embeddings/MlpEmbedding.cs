using System.Numerics;
using NormalizingFlows.Autograd;

namespace NormalizingFlows.Nn.Embeddings;

/// <summary>An MLP embedding for fixed-length contexts (its network registered as "net").</summary>
public sealed class MlpEmbedding<T> : ContextEmbedding<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly Mlp<T> _net;

    /// <summary>Wraps <paramref name="net"/>.</summary>
    public MlpEmbedding(Mlp<T> net) : base((net ?? throw new ArgumentNullException(nameof(net))).Layers[0].InFeatures, net.Layers[^1].OutFeatures)
        => _net = RegisterModule("net", net);

    /// <inheritdoc/>
    public override Var<T> Forward(Var<T> x) => _net.Forward(x);
}
