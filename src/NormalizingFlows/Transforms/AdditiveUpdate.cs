using System.Numerics;
using NormalizingFlows.Autograd;
using NormalizingFlows.Tensors;

namespace NormalizingFlows.Transforms;

/// <summary>The additive (volume-preserving) update y = x + t with one parameter t per feature (NICE); log|det| = 0.</summary>
public sealed record AdditiveUpdate : IElementwiseUpdate
{
    /// <inheritdoc/>
    public int ParametersPerFeature => 1;

    /// <inheritdoc/>
    public double[] IdentityParameters() => [0.0];

    /// <inheritdoc/>
    public (Var<T> Output, Var<T> LogAbsDet) Apply<T>(Var<T> input, Var<T> parameters, bool inverse) where T : unmanaged, IFloatingPointIeee754<T>
        => (inverse ? Ops.Sub(input, parameters) : Ops.Add(input, parameters), new Var<T>(Tensor<T>.Zeros(input.Value.Dim(0))));
}
