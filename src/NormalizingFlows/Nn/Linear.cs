using System.Numerics;
using NormalizingFlows.Autograd;
using NormalizingFlows.Tensors;

namespace NormalizingFlows.Nn;

/// <summary>Affine layer y = x·Wᵀ + b, weight [out, in] and bias [out] (PyTorch layout), one fused GEMM.</summary>
public sealed class Linear<T> : Module<T>, ILayer<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Creates the layer and initialises it from <paramref name="rng"/>.</summary>
    public Linear(int inFeatures, int outFeatures, Rng rng, bool bias = true, LinearInit init = LinearInit.Default)
    {
        ArgumentNullException.ThrowIfNull(rng);
        if (inFeatures <= 0 || outFeatures <= 0)
            throw new ArgumentOutOfRangeException(nameof(inFeatures), $"Linear needs positive sizes, got in = {inFeatures}, out = {outFeatures}");
        InFeatures = inFeatures;
        OutFeatures = outFeatures;
        Weight = RegisterParameter("weight", new Parameter<T>(Tensor<T>.Empty(outFeatures, inFeatures)));
        if (bias) Bias = RegisterParameter("bias", new Parameter<T>(Tensor<T>.Empty(outFeatures)));
        Initialize(Weight.Value, Bias?.Value, rng, init);
    }

    /// <summary>Input features.</summary>
    public int InFeatures { get; }

    /// <summary>Output features.</summary>
    public int OutFeatures { get; }

    /// <summary>Weight [out, in].</summary>
    public Parameter<T> Weight { get; }

    /// <summary>Bias [out], or null.</summary>
    public Parameter<T>? Bias { get; }

    /// <inheritdoc/>
    public Var<T> Forward(Var<T> x) => Ops.Linear(x, Weight, Bias);

    /// <summary>max(x·Wᵀ + b, 0) as one fused op.</summary>
    public Var<T> ForwardRelu(Var<T> x) => Ops.Linear(x, Weight, Bias, relu: true);

    /// <summary>Initialises a weight [out, in] and optional bias [out] by <paramref name="init"/>.</summary>
    public static void Initialize(Tensor<T> weight, Tensor<T>? bias, Rng rng, LinearInit init)
    {
        switch (init)
        {
            case LinearInit.Default: Init.LinearDefault(weight, bias, rng); return;
            case LinearInit.KaimingUniform:
                Init.KaimingUniform(weight, rng);
                if (bias is not null)
                {
                    double b = 1.0 / Math.Sqrt(Init.Fans(weight).FanIn);
                    rng.Uniform(bias.Span, -b, b);
                }
                return;
            case LinearInit.XavierUniform: Init.XavierUniform(weight, rng); break;
            case LinearInit.KaimingNormal: Init.KaimingNormal(weight, rng); break;
            case LinearInit.Zeros: Init.Zeros(weight); break;
            case LinearInit.NearZero:
                Init.Uniform(weight, rng, -1e-3, 1e-3);
                if (bias is not null) Init.Uniform(bias, rng, -1e-3, 1e-3);
                return;
            default: throw new ArgumentOutOfRangeException(nameof(init), init, "unknown init");
        }
        if (bias is not null) Init.Zeros(bias);
    }
}
