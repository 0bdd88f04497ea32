using System.Numerics;
using NormalizingFlows.Tensors;

namespace NormalizingFlows.Transforms.Coupling;

/// <summary>
/// Additive coupling layer (NICE, Dinh et al. 2015): y_b = x_b + t(x_a, c), volume preserving (log|det| = 0) — a
/// <see cref="CouplingTransform{T}"/> with an <see cref="AdditiveUpdate"/>.
/// </summary>
/// <param name="mask">Which features are transformed.</param>
/// <param name="rng">Seeds the conditioner.</param>
/// <param name="contextFeatures">Context features C.</param>
/// <param name="conditioner">Conditioner settings (default <see cref="ConditionerOptions.Default"/>).</param>
public sealed class AdditiveCoupling<T>(CouplingMask mask, Rng rng, int contextFeatures = 0, ConditionerOptions? conditioner = null)
    : CouplingTransform<T>(mask, new AdditiveUpdate(), rng, contextFeatures, (conditioner ?? ConditionerOptions.Default).ForCoupling())
    where T : unmanaged, IFloatingPointIeee754<T>;
