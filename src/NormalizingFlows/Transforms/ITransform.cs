using System.Numerics;
using NormalizingFlows.Autograd;

namespace NormalizingFlows.Transforms;

/// <summary>
/// An invertible map between data space and base space, batched over rows. <c>Forward</c> goes data → base (the
/// density direction); <c>Inverse</c> goes base → data (the sampling direction). Both return the log|det J| of the
/// map they apply, one entry per row ([N]).
/// </summary>
public interface ITransform<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>y = f(x) and log|det ∂y/∂x| per row.</summary>
    (Var<T> Y, Var<T> LogAbsDet) Forward(Var<T> x, Var<T>? context = null);

    /// <summary>x = f⁻¹(y) and log|det ∂x/∂y| per row.</summary>
    (Var<T> X, Var<T> LogAbsDet) Inverse(Var<T> y, Var<T>? context = null);
}
