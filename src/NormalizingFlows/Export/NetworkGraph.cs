using System.Numerics;
using NormalizingFlows.Nn;
using NormalizingFlows.Nn.Embeddings;
using NormalizingFlows.Tensors;

namespace NormalizingFlows.Export;

/// <summary>
/// The library's networks in evaluation mode as ONNX subgraphs: <see cref="Mlp{T}"/>, <see cref="ResidualNet{T}"/>
/// (blocks with context gating and batch norm from the running statistics), <see cref="Made{T}"/> (the masks
/// multiplied into the weights) and the <see cref="MlpEmbedding{T}"/>; dropout is the identity. Another module is
/// refused by name.
/// </summary>
internal static class NetworkGraph<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>A conditioner of [x, context] (context null when it has none); <paramref name="activation"/> is the
    /// hidden activation of a residual network, which keeps it private.</summary>
    public static string Conditioner(OnnxGraph g, Module<T> network, string x, string? context, Activation activation)
    {
        switch (network)
        {
            case Mlp<T> mlp:
                return Mlp(g, mlp, context is null ? x : g.Concat(1, x, context));
            case ResidualNet<T> res:
            {
                var h = Linear(g, Child<Linear<T>>(res, "initial"), context is null ? x : g.Concat(1, x, context));
                foreach (var block in Child<ModuleList<T>>(res, "blocks")) h = ResidualBlock(g, block, h, context, activation);
                return Linear(g, Child<Linear<T>>(res, "final"), h);
            }
            case Made<T> made:
                return Made(g, made, x, context);
            default:
                throw new NotSupportedException($"ONNX export: the conditioner network {TypeNames.Of(network)} is not supported (Mlp, ResidualNet and Made are)");
        }
    }

    /// <summary>A context embedding (the MLP kind).</summary>
    public static string Embedding(OnnxGraph g, ContextEmbedding<T> embedding, string context) => embedding switch
    {
        MlpEmbedding<T> e => Mlp(g, Child<Mlp<T>>(e, "net"), context),
        SetEmbedding<T> s => SumPooling(g, s, context),
        _ => throw new NotSupportedException($"ONNX export: the context embedding {TypeNames.Of(embedding)} is not supported (mlp and sum-pooling are)"),
    };

    /// <summary>
    /// The deep-set embedding: per element (a presence flag, then F features) the standardised features through φ,
    /// zero for an absent element (flag 0), summed over the K elements, then ρ.
    /// </summary>
    private static string SumPooling(OnnxGraph g, SetEmbedding<T> s, string context)
    {
        int k = s.Elements, f = s.ElementFeatures;
        var phi = Child<Mlp<T>>(s, "phi");
        int hidden = phi.Layers[^1].OutFeatures;
        double[] Buffer(string name) => s.NamedBuffers().First(b => b.Key == name).Value.ToDoubleArray();
        var elements = g.Reshape(context, -1, f + 1);
        var absent = g.Equal(g.Slice(elements, 1, 0, 1), g.Scalar(0));
        var features = g.Div(g.Sub(g.Slice(elements, 1, 1, f + 1), g.Const(Buffer("feature_mean"), f)), g.Const(Buffer("feature_std"), f));
        var h = g.Where(absent, g.Scalar(0), Mlp(g, phi, g.Where(absent, g.Scalar(0), features)));
        return Mlp(g, Child<Mlp<T>>(s, "rho"), g.ReduceSum(g.Reshape(h, -1, k, hidden), 1));
    }

    private static string Mlp(OnnxGraph g, Mlp<T> mlp, string h)
    {
        for (int i = 0; i < mlp.Layers.Count; i++)
        {
            h = Linear(g, mlp.Layers[i], h);
            if (i < mlp.Layers.Count - 1) h = Activate(g, mlp.Activation, h);
        }
        return h;
    }

    private static string ResidualBlock(OnnxGraph g, Module<T> block, string x, string? context, Activation activation)
    {
        var t = x;
        if (TryChild<BatchNorm1d<T>>(block, "bn0") is { } bn0) t = BatchNorm(g, bn0, t);
        t = Activate(g, activation, t);
        t = Linear(g, Child<Linear<T>>(block, "linear0"), t);
        if (TryChild<BatchNorm1d<T>>(block, "bn1") is { } bn1) t = BatchNorm(g, bn1, t);
        t = Activate(g, activation, t);
        t = Linear(g, Child<Linear<T>>(block, "linear1"), t);
        if (TryChild<Linear<T>>(block, "context") is { } gate)
            t = g.Mul(t, g.Sigmoid(Linear(g, gate, context ?? throw new ArgumentException("ONNX export: a residual block with context gating needs the context"))));
        return g.Add(x, t);
    }

    private static string Made(OnnxGraph g, Made<T> made, string x, string? context)
    {
        var input = context is null ? x : g.Concat(1, x, context);
        string WithContext(string h) => context is null ? h : g.Concat(1, h, context);
        var layers = made.Layers;
        if (!made.IsResidual)
        {
            var h = Activate(g, made.Activation, Masked(g, layers[0], input));
            for (int l = 1; l < layers.Count - 1; l++) h = Activate(g, made.Activation, Masked(g, layers[l], h));
            return Masked(g, layers[^1], WithContext(h));
        }
        var hr = Masked(g, layers[0], input);
        var blocks = made.BlockLayers;
        for (int b = 0; b < blocks.Count; b += 2)
        {
            var t = Masked(g, blocks[b], Activate(g, made.Activation, hr));
            t = Masked(g, blocks[b + 1], Activate(g, made.Activation, t));
            hr = g.Add(hr, t);
        }
        return Masked(g, layers[1], WithContext(hr));
    }

    /// <summary>x·Wᵀ + b of a linear layer.</summary>
    public static string Linear(OnnxGraph g, Linear<T> layer, string x)
        => g.Linear(x, layer.Weight.Value.ToDoubleArray(), layer.OutFeatures, layer.InFeatures, layer.Bias?.Value.ToDoubleArray());

    private static string Masked(OnnxGraph g, MaskedLinear<T> layer, string x)
    {
        var w = layer.Weight.Value.ToDoubleArray();
        var mask = layer.Mask.ToDoubleArray();
        for (int i = 0; i < w.Length; i++) w[i] *= mask[i];
        return g.Linear(x, w, layer.OutFeatures, layer.InFeatures, layer.Bias?.Value.ToDoubleArray());
    }

    private static string BatchNorm(OnnxGraph g, BatchNorm1d<T> bn, string x)
    {
        int c = bn.RunningMean.Length;
        var mean = bn.RunningMean.ToDoubleArray(); var variance = bn.RunningVar.ToDoubleArray();
        var gamma = bn.Weight?.Value.ToDoubleArray(); var beta = bn.Bias?.Value.ToDoubleArray();
        var mul = new double[c]; var add = new double[c];
        for (int j = 0; j < c; j++)
        {
            double inv = 1.0 / Math.Sqrt(variance[j] + bn.Eps);
            mul[j] = inv * (gamma?[j] ?? 1);
            add[j] = beta?[j] ?? 0;
        }
        return g.Add(g.Mul(g.Sub(x, g.Const(mean, c)), g.Const(mul, c)), g.Const(add, c));
    }

    /// <summary>An activation function.</summary>
    public static string Activate(OnnxGraph g, Activation activation, string x) => activation switch
    {
        Activation.Relu => g.Relu(x),
        Activation.Elu => g.Where(g.Greater(x, g.Scalar(0)), x, g.Sub(g.Exp(g.Min(x, g.Scalar(0))), g.Scalar(1))),
        Activation.Tanh => g.Tanh(x),
        Activation.Silu => g.Mul(x, g.Sigmoid(x)),
        Activation.LeakyRelu => g.Where(g.Greater(x, g.Scalar(0)), x, g.Mul(x, g.Scalar(0.01))),
        Activation.Sigmoid => g.Sigmoid(x),
        Activation.Softplus => g.Softplus(x),
        Activation.Identity => x,
        _ => throw new NotSupportedException($"ONNX export: the activation {activation} is not supported"),
    };

    private static TModule Child<TModule>(Module<T> parent, string name) where TModule : Module<T>
        => TryChild<TModule>(parent, name) ?? throw new NotSupportedException($"ONNX export: {TypeNames.Of(parent)} has no {typeof(TModule).Name} '{name}'");

    private static TModule? TryChild<TModule>(Module<T> parent, string name) where TModule : Module<T>
        => parent.NamedChildren().FirstOrDefault(c => c.Key == name).Value as TModule;
}
