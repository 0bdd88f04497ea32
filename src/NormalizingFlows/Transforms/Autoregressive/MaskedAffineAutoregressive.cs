using System.Numerics;
using NormalizingFlows.Nn;
using NormalizingFlows.Tensors;

namespace NormalizingFlows.Transforms.Autoregressive;

/// <summary>
/// Masked affine autoregressive transform (MAF): y_i = x_i·s_i + t_i with (raw s_i, t_i) = MADE(x_&lt;i, c) — an
/// <see cref="AutoregressiveTransform{T}"/> with an <see cref="AffineUpdate"/> (soft-clamped exp by default, as zuko;
/// <see cref="AffineScale.Sigmoid"/> for nflows' form). Fast density (Forward, one MADE pass), slow sampling (Inverse,
/// D passes); wrap it in <see cref="InverseTransform{T}"/> for an IAF (fast sampling, slow density).
/// </summary>
/// <param name="features">Features D.</param>
/// <param name="rng">Seeds the MADE.</param>
/// <param name="contextFeatures">Context features C.</param>
/// <param name="conditioner">MADE settings (default <see cref="ConditionerOptions.Default"/>).</param>
/// <param name="order">The MADE order.</param>
/// <param name="customOrder">A custom order (overrides <paramref name="order"/>).</param>
/// <param name="scale">Scale parameterisation (default <see cref="AffineScale.Default"/>).</param>
public sealed class MaskedAffineAutoregressive<T>(int features, Rng rng, int contextFeatures = 0, ConditionerOptions? conditioner = null,
    MadeOrder order = MadeOrder.Natural, int[]? customOrder = null, AffineScale? scale = null)
    : AutoregressiveTransform<T>(features, new AffineUpdate(scale ?? AffineScale.Default), rng, contextFeatures,
        (conditioner ?? ConditionerOptions.Default).ForMade(), order, customOrder)
    where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>The scale parameterisation.</summary>
    public AffineScale Scale => ((AffineUpdate)Update).Scale;
}
