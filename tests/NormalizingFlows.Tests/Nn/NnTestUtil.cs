using NormalizingFlows.Autograd;
using NormalizingFlows.Nn;
using NormalizingFlows.Tensors;

namespace NormalizingFlows.Tests.Nn;

internal static class NnTestUtil
{
    public static Tensor<double> RandomD(Rng rng, params int[] shape) => rng.Normal<double>(shape);

    /// <summary>Gradient check of a module's output with respect to its input and all its parameters.</summary>
    public static GradCheckResult CheckModule(Func<Var<double>, Var<double>> forward, Module<double> module, Tensor<double> x)
    {
        var xv = new Var<double>(x, requiresGrad: true) { Name = "x" };
        var leaves = new List<Var<double>> { xv };
        leaves.AddRange(module.Parameters());
        return GradCheck.Check(() => forward(xv), leaves);
    }
}
