using System.Numerics;
using NormalizingFlows.Tensors;

namespace NormalizingFlows.Nn;

/// <summary>
/// Weight initialisers (in place, seeded by an <see cref="Rng"/>). Fans follow PyTorch: for a weight [out, in, …],
/// fanIn = in·receptive and fanOut = out·receptive, where receptive is the product of the trailing axes.
/// </summary>
public static class Init
{
    /// <summary>(fanIn, fanOut) of a weight of rank ≥ 2; a rank-1 tensor has fanIn = fanOut = its length.</summary>
    public static (int FanIn, int FanOut) Fans<T>(Tensor<T> weight) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (weight.Rank < 2) return (Math.Max(weight.Length, 1), Math.Max(weight.Length, 1));
        int receptive = 1;
        for (int i = 2; i < weight.Rank; i++) receptive *= weight.Dim(i);
        return (Math.Max(weight.Dim(1) * receptive, 1), Math.Max(weight.Dim(0) * receptive, 1));
    }

    /// <summary>Recommended gain of an activation (PyTorch's calculate_gain): relu, elu and silu √2, tanh 5/3, leaky relu √(2/(1+slope²)), others 1.</summary>
    public static double Gain(Activation activation, double negativeSlope = 0.01) => activation switch
    {
        Activation.Relu => Math.Sqrt(2.0),
        Activation.Tanh => 5.0 / 3.0,
        Activation.LeakyRelu => Math.Sqrt(2.0 / (1 + negativeSlope * negativeSlope)),
        Activation.Silu or Activation.Elu => Math.Sqrt(2.0),
        _ => 1.0,
    };

    /// <summary>Uniform values in [low, high).</summary>
    public static void Uniform<T>(Tensor<T> tensor, Rng rng, double low, double high) where T : unmanaged, IFloatingPointIeee754<T>
        => rng.Uniform(tensor.Span, low, high);

    /// <summary>Normal values with the given mean and standard deviation.</summary>
    public static void Normal<T>(Tensor<T> tensor, Rng rng, double mean = 0, double std = 1) where T : unmanaged, IFloatingPointIeee754<T>
        => rng.Normal(tensor.Span, mean, std);

    /// <summary>He/Kaiming uniform: U(−b, b) with b = gain·√(3 / fanIn).</summary>
    public static void KaimingUniform<T>(Tensor<T> weight, Rng rng, double gain = 1.4142135623730951) where T : unmanaged, IFloatingPointIeee754<T>
    {
        double b = gain * Math.Sqrt(3.0 / Fans(weight).FanIn);
        rng.Uniform(weight.Span, -b, b);
    }

    /// <summary>He/Kaiming normal: N(0, σ²) with σ = gain / √fanIn.</summary>
    public static void KaimingNormal<T>(Tensor<T> weight, Rng rng, double gain = 1.4142135623730951) where T : unmanaged, IFloatingPointIeee754<T>
        => rng.Normal(weight.Span, 0, gain / Math.Sqrt(Fans(weight).FanIn));

    /// <summary>Glorot/Xavier uniform: U(−b, b) with b = gain·√(6 / (fanIn + fanOut)).</summary>
    public static void XavierUniform<T>(Tensor<T> weight, Rng rng, double gain = 1.0) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var (fi, fo) = Fans(weight);
        double b = gain * Math.Sqrt(6.0 / (fi + fo));
        rng.Uniform(weight.Span, -b, b);
    }

    /// <summary>Glorot/Xavier normal: N(0, σ²) with σ = gain·√(2 / (fanIn + fanOut)).</summary>
    public static void XavierNormal<T>(Tensor<T> weight, Rng rng, double gain = 1.0) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var (fi, fo) = Fans(weight);
        rng.Normal(weight.Span, 0, gain * Math.Sqrt(2.0 / (fi + fo)));
    }

    /// <summary>All zeros.</summary>
    public static void Zeros<T>(Tensor<T> tensor) where T : unmanaged, IFloatingPointIeee754<T> => tensor.Span.Clear();

    /// <summary>All equal to <paramref name="value"/>.</summary>
    public static void Constant<T>(Tensor<T> tensor, double value) where T : unmanaged, IFloatingPointIeee754<T>
        => tensor.Span.Fill(T.CreateTruncating(value));

    /// <summary>
    /// PyTorch's nn.Linear default: weight from Kaiming uniform with a = √5 (so b = 1/√fanIn) and bias from
    /// U(−1/√fanIn, 1/√fanIn).
    /// </summary>
    public static void LinearDefault<T>(Tensor<T> weight, Tensor<T>? bias, Rng rng) where T : unmanaged, IFloatingPointIeee754<T>
    {
        KaimingUniform(weight, rng, gain: Math.Sqrt(1.0 / 3.0));
        if (bias is not null)
        {
            double b = 1.0 / Math.Sqrt(Fans(weight).FanIn);
            rng.Uniform(bias.Span, -b, b);
        }
    }
}
