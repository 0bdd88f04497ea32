using System.Numerics;
using NormalizingFlows.Autograd;
using NormalizingFlows.Tensors;

namespace NormalizingFlows.Nn;

/// <summary>
/// Linear layer whose weight is multiplied by a fixed 0/1 mask [out, in] (saved as the buffer "mask"): masked
/// connections contribute nothing and receive no gradient. Runs the fused <see cref="MaskedLinearOp"/>, multiplying only
/// the blocks where the mask is nonzero (found once from the mask, again after <see cref="Module{T}.LoadStateDict"/>;
/// the mask is fixed otherwise).
/// </summary>
public sealed class MaskedLinear<T> : Module<T>, ILayer<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Creates the layer with mask[o, i] = mask[o, i] (nonzero entries become 1) and initialises it.</summary>
    public MaskedLinear(bool[,] mask, Rng rng, bool bias = true, LinearInit init = LinearInit.Default)
    {
        ArgumentNullException.ThrowIfNull(mask);
        ArgumentNullException.ThrowIfNull(rng);
        OutFeatures = mask.GetLength(0);
        InFeatures = mask.GetLength(1);
        if (InFeatures <= 0 || OutFeatures <= 0) throw new ArgumentException($"MaskedLinear needs a non-empty mask, got [{OutFeatures}, {InFeatures}]", nameof(mask));
        Weight = RegisterParameter("weight", new Parameter<T>(Tensor<T>.Empty(OutFeatures, InFeatures)));
        if (bias) Bias = RegisterParameter("bias", new Parameter<T>(Tensor<T>.Empty(OutFeatures)));
        var m = Tensor<T>.Empty(OutFeatures, InFeatures);
        var ms = m.Span;
        for (int o = 0; o < OutFeatures; o++)
            for (int i = 0; i < InFeatures; i++) ms[o * InFeatures + i] = mask[o, i] ? T.One : T.Zero;
        Mask = RegisterBuffer("mask", m);
        Linear<T>.Initialize(Weight.Value, Bias?.Value, rng, init);
        _blocks = MaskBlocks.Of(Mask);
    }

    private MaskBlocks _blocks;

    /// <summary>
    /// Renumbers outputs and inputs: output o becomes old output <paramref name="outputs"/>[o] and input i (of the first
    /// <paramref name="inputs"/>.Length) old input <paramref name="inputs"/>[i] (null: unchanged), moving weight, bias
    /// and mask with them.
    /// </summary>
    internal void RelabelUnits(int[]? outputs, int[]? inputs)
    {
        if (outputs is null && inputs is null) return;
        int outF = OutFeatures, inF = InFeatures;
        foreach (var t in Bias is null ? new[] { Weight.Value, Mask } : [Weight.Value, Mask, Bias.Value])
        {
            var old = t.ToArray();
            var s = t.Span;
            if (t.Rank == 1)
            {
                for (int o = 0; o < outF; o++) s[o] = old[outputs?[o] ?? o];
                continue;
            }
            for (int o = 0; o < outF; o++)
            {
                int from = outputs?[o] ?? o;
                for (int i = 0; i < inF; i++)
                    s[o * inF + i] = old[from * inF + (inputs is not null && i < inputs.Length ? inputs[i] : i)];
            }
        }
        _blocks = MaskBlocks.Of(Mask);
    }

    /// <inheritdoc/>
    protected override void OnStateLoaded()
    {
        base.OnStateLoaded();
        _blocks = MaskBlocks.Of(Mask);
    }

    /// <summary>Input features.</summary>
    public int InFeatures { get; }

    /// <summary>Output features.</summary>
    public int OutFeatures { get; }

    /// <summary>Weight [out, in] (the masked entries are kept but unused).</summary>
    public Parameter<T> Weight { get; }

    /// <summary>Bias [out], or null.</summary>
    public Parameter<T>? Bias { get; }

    /// <summary>The 0/1 mask [out, in] (a buffer; fixed: change it only through <see cref="Module{T}.LoadStateDict"/>).</summary>
    public Tensor<T> Mask { get; }

    /// <inheritdoc/>
    public Var<T> Forward(Var<T> x) => MaskedLinearOp.Apply(x, Weight, Mask, Bias, relu: false, _blocks);

    /// <summary>max(x·(W∘M)ᵀ + b, 0) as one fused op.</summary>
    public Var<T> ForwardRelu(Var<T> x) => MaskedLinearOp.Apply(x, Weight, Mask, Bias, relu: true, _blocks);
}
