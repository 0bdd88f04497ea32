using System.Numerics;
using NormalizingFlows.Autograd;
using NormalizingFlows.Tensors;

namespace NormalizingFlows.Distributions;

/// <summary>
/// A probability density over [N, <see cref="Features"/>] rows, optionally conditioned on a context ([N, C]).
/// <c>LogProb</c> returns one log-density per row ([N]); <c>Sample</c> draws n rows (with a context: one per context row).
/// </summary>
public interface IDistribution<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Number of features per sample.</summary>
    int Features { get; }

    /// <summary>log p(x | context) per row, differentiable.</summary>
    Var<T> LogProb(Var<T> x, Var<T>? context = null);

    /// <summary>n samples; with a context, n must equal its number of rows (one sample per context row).</summary>
    Var<T> Sample(int n, Rng rng, Var<T>? context = null);
}
