using System.Numerics;
using NormalizingFlows.Autograd;

namespace NormalizingFlows.Transforms;

/// <summary>
/// Base of the parameter-free elementwise bijections that run through <see cref="ElementwiseOp"/> with one kernel
/// each way (<see cref="Sigmoid{T}"/>, <see cref="Softplus{T}"/>, <see cref="Tanh{T}"/>).
/// </summary>
public abstract class ElementwiseBijection<T> : Transform<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly ElementwiseKernel<T> _forward, _inverse;

    /// <summary>Creates the transform for <paramref name="features"/> features from its two kernels.</summary>
    protected ElementwiseBijection(int features, ElementwiseKernel<T> forward, ElementwiseKernel<T> inverse) : base(features)
    {
        _forward = forward ?? throw new ArgumentNullException(nameof(forward));
        _inverse = inverse ?? throw new ArgumentNullException(nameof(inverse));
    }

    /// <inheritdoc/>
    public override (Var<T> Y, Var<T> LogAbsDet) Forward(Var<T> x, Var<T>? context = null)
    {
        CheckShapes(x, context);
        return ElementwiseOp.Apply(x, _forward);
    }

    /// <inheritdoc/>
    public override (Var<T> X, Var<T> LogAbsDet) Inverse(Var<T> y, Var<T>? context = null)
    {
        CheckShapes(y, context);
        return ElementwiseOp.Apply(y, _inverse);
    }
}
