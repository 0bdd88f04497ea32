using System.Numerics;
using NormalizingFlows.Autograd;
using NormalizingFlows.Tensors;

namespace NormalizingFlows.Nn;

/// <summary>
/// Multi-layer perceptron in → hidden₁ → … → out: Linear layers with an activation (and optional dropout) between
/// them, none after the last. Layers are named "layers.0", "layers.1", …; the stateless dropout (one shared layer,
/// "dropout") is registered so that <see cref="Module{T}.Eval"/> switches it off.
/// </summary>
public sealed class Mlp<T> : Module<T>, ILayer<T>, IConditioner<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly Linear<T>[] _linears;
    private readonly Dropout<T>? _dropout;

    /// <summary>Creates the network; <paramref name="zeroInitLast"/> starts the output layer at zero (the network outputs 0).</summary>
    public Mlp(int inFeatures, IReadOnlyList<int> hiddenFeatures, int outFeatures, Rng rng,
        Activation activation = Activation.Relu, bool zeroInitLast = false, double dropout = 0.0, LinearInit init = LinearInit.Default)
    {
        ArgumentNullException.ThrowIfNull(hiddenFeatures);
        ArgumentNullException.ThrowIfNull(rng);
        Activation = activation;
        var layers = RegisterModule("layers", new ModuleList<T>());
        var sizes = new List<int> { inFeatures };
        sizes.AddRange(hiddenFeatures);
        sizes.Add(outFeatures);
        _linears = new Linear<T>[sizes.Count - 1];
        for (int i = 0; i < _linears.Length; i++)
        {
            bool last = i == _linears.Length - 1;
            _linears[i] = layers.Add(new Linear<T>(sizes[i], sizes[i + 1], rng, init: last && zeroInitLast ? LinearInit.Zeros : init));
        }
        if (dropout > 0) _dropout = RegisterModule("dropout", new Dropout<T>(dropout, rng.Split()));
    }

    /// <summary>The activation between layers.</summary>
    public Activation Activation { get; }

    /// <summary>The linear layers in order.</summary>
    public IReadOnlyList<Linear<T>> Layers => _linears;

    /// <inheritdoc/>
    public Var<T> Forward(Var<T> x)
    {
        var h = x;
        for (int i = 0; i < _linears.Length; i++)
        {
            bool hidden = i < _linears.Length - 1;
            if (hidden && Activation == Activation.Relu)
                h = _linears[i].ForwardRelu(h); // bias and ReLU fused after the GEMM
            else
            {
                h = _linears[i].Forward(h);
                if (hidden) h = Activations.Apply(Activation, h);
            }
            if (hidden && _dropout is not null) h = _dropout.Forward(h);
        }
        return h;
    }

    /// <summary>The network of [x, context] (columns concatenated; x alone when <paramref name="context"/> is null).</summary>
    public Var<T> Forward(Var<T> x, Var<T>? context) => Forward(context is null ? x : Ops.ConcatColumns(x, context));
}
