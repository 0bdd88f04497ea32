using System.Numerics;
using NormalizingFlows.Tensors;

namespace NormalizingFlows.Transforms.Coupling;

/// <summary>
/// Affine coupling layer (RealNVP, Dinh et al. 2017): y_b = x_b·s(x_a, c) + t(x_a, c), y_a = x_a — a
/// <see cref="CouplingTransform{T}"/> with an <see cref="AffineUpdate"/> (soft-clamped exp scale by default, or nflows'
/// sigmoid) and the <see cref="CouplingConditioner"/> that <paramref name="conditioner"/> describes.
/// </summary>
/// <param name="mask">Which features are transformed.</param>
/// <param name="rng">Seeds the conditioner.</param>
/// <param name="contextFeatures">Context features C.</param>
/// <param name="conditioner">Conditioner settings (default <see cref="ConditionerOptions.Default"/>).</param>
/// <param name="scale">Scale parameterisation (default <see cref="AffineScale.Default"/>).</param>
public sealed class AffineCoupling<T>(CouplingMask mask, Rng rng, int contextFeatures = 0, ConditionerOptions? conditioner = null, AffineScale? scale = null)
    : CouplingTransform<T>(mask, new AffineUpdate(scale ?? AffineScale.Default), rng, contextFeatures, (conditioner ?? ConditionerOptions.Default).ForCoupling())
    where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>The scale parameterisation.</summary>
    public AffineScale Scale => ((AffineUpdate)Update).Scale;
}
