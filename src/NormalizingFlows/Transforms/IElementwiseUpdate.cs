using System.Numerics;
using NormalizingFlows.Autograd;
using NormalizingFlows.Nn;
using NormalizingFlows.Tensors;

namespace NormalizingFlows.Transforms;

/// <summary>
/// An elementwise bijection y_k = τ(x_k; θ_k) of K features given per-feature parameters: the update half of a coupling
/// or masked autoregressive layer (<see cref="Coupling.CouplingTransform{T}"/>,
/// <see cref="Autoregressive.AutoregressiveTransform{T}"/>). Parameters come feature-major, <see cref="ParametersPerFeature"/>
/// per feature ([N, K·m], feature k's parameters at columns k·m … k·m + m − 1).
/// </summary>
public interface IElementwiseUpdate
{
    /// <summary>Parameters m per feature.</summary>
    int ParametersPerFeature { get; }

    /// <summary>The m parameter values that make τ the identity map (a fresh conditioner's output bias).</summary>
    double[] IdentityParameters();

    /// <summary>τ (or τ⁻¹ with <paramref name="inverse"/>) of <paramref name="input"/> [N, K] with <paramref name="parameters"/> [N, K·m]: outputs [N, K] and log|det| per row.</summary>
    (Var<T> Output, Var<T> LogAbsDet) Apply<T>(Var<T> input, Var<T> parameters, bool inverse) where T : unmanaged, IFloatingPointIeee754<T>;

    /// <summary>The update of feature <paramref name="feature"/> alone, for one column [N, 1] with its m parameters (this one unless τ differs per feature).</summary>
    IElementwiseUpdate ForFeature(int feature) => this;

    /// <summary>
    /// The update as one layer runs it, with the update's own weights for that layer: by default this update and no
    /// weights (every parameter comes from the conditioner). An update with weights shared by all rows and features
    /// (UMNN's integrand network) creates them here from <paramref name="rng"/>; the coupling and autoregressive layers
    /// call this once, register the weights as their module "update" (so they train and save with the layer) and run
    /// the returned update.
    /// </summary>
    (IElementwiseUpdate Update, Module<T>? Weights) Bind<T>(Rng rng) where T : unmanaged, IFloatingPointIeee754<T> => (this, null);
}
