using System.Numerics;
using NormalizingFlows.Autograd;

namespace NormalizingFlows.Transforms.Monotonic;

/// <summary>
/// The sigmoidal neural-autoregressive update (NAF with a deep sigmoidal flow, Huang et al. 2018): each feature goes
/// through its own <see cref="SigmoidalMap"/> y = σ⁻¹(Σ_k w_k σ(a_k x + b_k)) with 3K parameters from the conditioner
/// (a MADE in MAF structure, a coupling network in a coupling). Maps ℝ onto ℝ, asymptotically affine in the tails.
/// Forward is one fused op with analytic gradients; the inverse is a safeguarded Newton solve per element.
/// Its identity parameters start every component at σ⁻¹(σ(x)); with a zero-initialised conditioner output the
/// components part through their different weights, a random output init (the MAF builders') parts them at once.
/// </summary>
public sealed record SigmoidalUpdate : IElementwiseUpdate
{
    /// <summary>An update with <paramref name="components"/> sigmoids per feature; the inverse converges to <paramref name="tolerance"/> (relative).</summary>
    public SigmoidalUpdate(int components = 8, double tolerance = 1e-12) => Map = new SigmoidalMap(components, tolerance);

    /// <summary>The elementwise map.</summary>
    public SigmoidalMap Map { get; }

    /// <summary>Sigmoid components K per feature.</summary>
    public int Components => Map.Components;

    /// <inheritdoc/>
    public int ParametersPerFeature => Map.ParametersPerElement;

    /// <inheritdoc/>
    public double[] IdentityParameters() => Map.IdentityParameters();

    /// <inheritdoc/>
    public (Var<T> Output, Var<T> LogAbsDet) Apply<T>(Var<T> input, Var<T> parameters, bool inverse) where T : unmanaged, IFloatingPointIeee754<T>
        => SplineOp.Apply(Map, input, parameters, inverse);
}
