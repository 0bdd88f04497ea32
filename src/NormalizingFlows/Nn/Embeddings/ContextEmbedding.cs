using System.Numerics;
using NormalizingFlows.Autograd;

namespace NormalizingFlows.Nn.Embeddings;

/// <summary>
/// A context embedding (summary network): a trainable map from a conditional flow's raw (or standardised) context
/// [N, <see cref="InputFeatures"/>] to the features its conditioners read [N, <see cref="OutputFeatures"/>], trained
/// jointly with the flow. Built from an <see cref="EmbeddingSpec"/>.
/// </summary>
public abstract class ContextEmbedding<T> : Module<T>, ILayer<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Sets the widths.</summary>
    protected ContextEmbedding(int inputFeatures, int outputFeatures)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(inputFeatures, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(outputFeatures, 1);
        InputFeatures = inputFeatures;
        OutputFeatures = outputFeatures;
    }

    /// <summary>Context values per row the embedding reads.</summary>
    public int InputFeatures { get; }

    /// <summary>Features per row it gives the flow.</summary>
    public int OutputFeatures { get; }

    /// <inheritdoc/>
    public abstract Var<T> Forward(Var<T> x);
}
