using System.Numerics;
using NormalizingFlows.Autograd;

namespace NormalizingFlows.Transforms;

/// <summary>
/// The affine update y = x·s + t with (raw s, t) per feature and s from an <see cref="AffineScale"/> (RealNVP, Glow,
/// MAF). Runs the fused <see cref="AffineCouplingOp"/>.
/// </summary>
public sealed record AffineUpdate(AffineScale Scale) : IElementwiseUpdate
{
    /// <summary>The default update: soft-clamped exp scale with c = 3.</summary>
    public AffineUpdate() : this(AffineScale.Default) { }

    /// <inheritdoc/>
    public int ParametersPerFeature => 2;

    /// <inheritdoc/>
    public double[] IdentityParameters() => [0.0, 0.0];

    /// <inheritdoc/>
    public (Var<T> Output, Var<T> LogAbsDet) Apply<T>(Var<T> input, Var<T> parameters, bool inverse) where T : unmanaged, IFloatingPointIeee754<T>
        => AffineCouplingOp.Apply(input, parameters, Scale, inverse);
}
