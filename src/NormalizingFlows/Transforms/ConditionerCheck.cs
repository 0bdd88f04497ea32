using System.Numerics;
using NormalizingFlows.Autograd;
using NormalizingFlows.Nn;
using NormalizingFlows.Tensors;

namespace NormalizingFlows.Transforms;

/// <summary>
/// Makes a layer's conditioner and checks what a user factory returned: a module implementing
/// <see cref="IConditioner{T}"/>, with the shape's output width, and for an autoregressive shape output blocks that
/// depend only on inputs earlier in the order (probed on random inputs with a private generator, so the layer's
/// initialisation stream is untouched). The library's networks are right by construction and skip the probe.
/// </summary>
internal static class ConditionerCheck
{
    internal static (Module<T> Module, IConditioner<T> Network) Create<T>(IConditionerFactory factory, ConditionerShape shape, Rng rng)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var module = factory.Create<T>(shape, rng)
            ?? throw new ArgumentException($"the conditioner factory '{factory.Name}' returned null", "conditioner");
        if (module is not IConditioner<T> network)
            throw new ArgumentException($"the conditioner factory '{factory.Name}' returned a {TypeNames.Of(module)}, which does not implement IConditioner<T>", "conditioner");
        if (factory is not ConditionerNetwork) Probe(factory.Name, module, network, shape);
        return (module, network);
    }

    private static void Probe<T>(string name, Module<T> module, IConditioner<T> network, ConditionerShape shape) where T : unmanaged, IFloatingPointIeee754<T>
    {
        const int rows = 2;
        var probeRng = new Rng(0x5EED);
        bool training = module.Training;
        module.Eval();
        try
        {
            using var _ = GradMode.Disable();
            using var scope = TensorScope.Begin();
            var x = probeRng.Normal<T>(rows, shape.Inputs);
            Var<T>? c = shape.ContextFeatures == 0 ? null : new Var<T>(probeRng.Normal<T>(rows, shape.ContextFeatures));
            var y0 = network.Forward(new Var<T>(x), c).Value;
            if (y0.Rank != 2 || y0.Dim(0) != rows || y0.Dim(1) != shape.Outputs)
                throw new ArgumentException($"the conditioner '{name}' returned shape {y0.ShapeString} for {rows} rows; the layer needs [{rows}, {shape.Outputs}]", "conditioner");
            if (shape.Order is not { } order) return;
            var y0s = y0.ToArray();
            int m = shape.ParametersPerFeature;
            for (int input = 0; input < shape.Inputs; input++)
            {
                var xp = x.Clone();
                var xs = xp.Span;
                for (int r = 0; r < rows; r++) xs[r * shape.Inputs + input] += T.One;
                var ys = network.Forward(new Var<T>(xp), c).Value.ToArray();
                for (int j = 0; j < ys.Length; j++)
                {
                    int feature = j % shape.Outputs / m;
                    if (order[input] >= order[feature] && ys[j] != y0s[j])
                        throw new ArgumentException($"the conditioner '{name}' is not autoregressive: the parameters of feature {feature} (position {order[feature]} in the order) depend on feature {input} (position {order[input]})", "conditioner");
                }
            }
        }
        finally
        {
            module.Train(training);
        }
    }
}
