using System.Numerics;
using NormalizingFlows.Autograd;
using NormalizingFlows.Nn;
using NormalizingFlows.Tensors;

namespace NormalizingFlows.Transforms;

/// <summary>
/// Learnable per-feature affine map y = x·exp(s) + b. Parameters: "log_scale" s [D] and "shift" b [D], both zero
/// at construction (the identity). log|det| = Σ s per row. Inverse: x = (y − b)·exp(−s).
/// </summary>
public sealed class ElementwiseAffine<T> : Transform<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Creates the identity map on <paramref name="features"/> features.</summary>
    public ElementwiseAffine(int features) : base(features)
    {
        LogScale = RegisterParameter("log_scale", new Parameter<T>(Tensor<T>.Zeros(features)));
        Shift = RegisterParameter("shift", new Parameter<T>(Tensor<T>.Zeros(features)));
    }

    /// <summary>Log of the per-feature scale, s [D].</summary>
    public Parameter<T> LogScale { get; }

    /// <summary>Per-feature shift, b [D].</summary>
    public Parameter<T> Shift { get; }

    /// <inheritdoc/>
    public override (Var<T> Y, Var<T> LogAbsDet) Forward(Var<T> x, Var<T>? context = null)
    {
        CheckShapes(x, context);
        return AffineOp.Apply(x, LogScale, Shift, inverse: false);
    }

    /// <inheritdoc/>
    public override (Var<T> X, Var<T> LogAbsDet) Inverse(Var<T> y, Var<T>? context = null)
    {
        CheckShapes(y, context);
        return AffineOp.Apply(y, LogScale, Shift, inverse: true);
    }
}
