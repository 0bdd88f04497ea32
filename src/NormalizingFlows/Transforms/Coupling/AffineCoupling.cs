using System.Numerics;
using NormalizingFlows.Autograd;
using NormalizingFlows.Tensors;

namespace NormalizingFlows.Transforms.Coupling;

/// <summary>
/// Affine coupling layer (RealNVP, Dinh et al. 2017): y_b = x_b·s(x_a, c) + t(x_a, c), y_a = x_a, with the scale
/// given by an <see cref="AffineScale"/> (soft-clamped exp by default, or nflows' sigmoid). Forward and Inverse both
/// cost one conditioner pass. The update is the fused <see cref="AffineCouplingOp"/>; the conditioner outputs
/// (raw scale, shift) per transformed feature.
/// </summary>
public sealed class AffineCoupling<T> : CouplingTransform<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Creates the layer; <paramref name="scale"/> defaults to <see cref="AffineScale.Default"/>.</summary>
    public AffineCoupling(CouplingMask mask, Rng rng, int contextFeatures = 0, ConditionerOptions? conditioner = null, AffineScale? scale = null)
        : base(mask, 2, rng, contextFeatures, conditioner, [0.0, 0.0])
        => Scale = scale ?? AffineScale.Default;

    /// <summary>The scale parameterisation.</summary>
    public AffineScale Scale { get; }

    /// <inheritdoc/>
    protected override (Var<T> Output, Var<T> LogAbsDet) TransformFeatures(Var<T> input, Var<T> parameters, bool inverse)
        => AffineCouplingOp.Apply(input, parameters, Scale, inverse);
}

/// <summary>
/// Additive coupling layer (NICE, Dinh et al. 2015): y_b = x_b + t(x_a, c), volume preserving (log|det| = 0).
/// Forward and Inverse both cost one conditioner pass.
/// </summary>
public sealed class AdditiveCoupling<T> : CouplingTransform<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Creates the layer.</summary>
    public AdditiveCoupling(CouplingMask mask, Rng rng, int contextFeatures = 0, ConditionerOptions? conditioner = null)
        : base(mask, 1, rng, contextFeatures, conditioner, [0.0]) { }

    /// <inheritdoc/>
    protected override (Var<T> Output, Var<T> LogAbsDet) TransformFeatures(Var<T> input, Var<T> parameters, bool inverse)
        => (inverse ? Ops.Sub(input, parameters) : Ops.Add(input, parameters), ZeroLogDet(input.Value.Dim(0)));
}
