using NormalizingFlows.Autograd;
using NormalizingFlows.Flows;
using NormalizingFlows.Distributions;
using NormalizingFlows.Tensors;
using NormalizingFlows.Transforms;

namespace NormalizingFlows.Cuda.Tests;

/// <summary>
/// A transform that exists only in these tests, so the device never runs it: the example of a part it refuses by
/// name. The identity, with one trainable (unused) parameter so that no run folds it into fixed preprocessing.
/// </summary>
internal sealed class RefusedTransform : Transform<float>
{
    public RefusedTransform(int features) : base(features) => RegisterParameter("unused", new Parameter<float>(Tensor<float>.Zeros(features)));

    public override (Var<float> Y, Var<float> LogAbsDet) Forward(Var<float> x, Var<float>? context = null) => (x, ZeroLogDet(x.Value.Dim(0)));

    public override (Var<float> X, Var<float> LogAbsDet) Inverse(Var<float> y, Var<float>? context = null) => (y, ZeroLogDet(y.Value.Dim(0)));

    /// <summary>A flow of this transform over a standard normal.</summary>
    public static Flow<float> Flow(int features) => new(new RefusedTransform(features), new StandardNormal<float>(features));

    /// <summary>What the device says of it.</summary>
    public const string Refusal = "the transform RefusedTransform is not supported";
}
