using System.Runtime.Intrinsics;
using NormalizingFlows.Tensors.Kernels;

namespace NormalizingFlows.Tests.Tensors;

/// <summary>The generated Vector512 twins of the float transcendental functions give the Vector256 values, lane by lane.</summary>
public class VectorMath512Tests
{
    private static float[] Inputs()
    {
        var v = new List<float> { 0f, -0f, float.NaN, float.PositiveInfinity, float.NegativeInfinity, float.Epsilon, -float.Epsilon,
            1e-38f, 1.17549435e-38f, float.MaxValue, float.MinValue, 88.7f, 89f, -103f, -104f, 0.625f, -0.625f, 1f, -1f };
        var r = new Random(5);
        for (int i = 0; i < 4000; i++)
        {
            double mag = Math.Pow(10, r.NextDouble() * 8 - 5);
            v.Add((float)(r.Next(2) == 0 ? mag : -mag));
        }
        while (v.Count % 16 != 0) v.Add(0.5f);
        return [.. v];
    }

    public static TheoryData<string> Functions() =>
        ["Exp", "Expm1NonPositive", "Log", "Log1p", "Tanh", "Sigmoid", "Softplus", "Silu", "SigmoidBoth", "SiluDerivative"];

    [Theory]
    [MemberData(nameof(Functions))]
    public void TwinEqualsTheVector256Function(string name)
    {
        if (!VectorMath.IsSupported512) return; // nothing to compare on this machine
        float[] x = Inputs();
        for (int i = 0; i < x.Length; i += 16)
        {
            var wide = Vector512.Create(x.AsSpan(i, 16));
            var lo = Vector256.Create(x.AsSpan(i, 8));
            var hi = Vector256.Create(x.AsSpan(i + 8, 8));
            var (w, l, h) = name switch
            {
                "Exp" => (VectorMath.Exp(wide), VectorMath.Exp(lo), VectorMath.Exp(hi)),
                "Expm1NonPositive" => (VectorMath.Expm1NonPositive(wide), VectorMath.Expm1NonPositive(lo), VectorMath.Expm1NonPositive(hi)),
                "Log" => (VectorMath.Log(wide), VectorMath.Log(lo), VectorMath.Log(hi)),
                "Log1p" => (VectorMath.Log1p(wide), VectorMath.Log1p(lo), VectorMath.Log1p(hi)),
                "Tanh" => (VectorMath.Tanh(wide), VectorMath.Tanh(lo), VectorMath.Tanh(hi)),
                "Sigmoid" => (VectorMath.Sigmoid(wide), VectorMath.Sigmoid(lo), VectorMath.Sigmoid(hi)),
                "Softplus" => (VectorMath.Softplus(wide), VectorMath.Softplus(lo), VectorMath.Softplus(hi)),
                "Silu" => (VectorMath.Silu(wide), VectorMath.Silu(lo), VectorMath.Silu(hi)),
                "SigmoidBoth" => (VectorMath.SigmoidBoth(wide).OneMinusS, VectorMath.SigmoidBoth(lo).OneMinusS, VectorMath.SigmoidBoth(hi).OneMinusS),
                _ => (VectorMath.SiluDerivative(wide), VectorMath.SiluDerivative(lo), VectorMath.SiluDerivative(hi)),
            };
            for (int j = 0; j < 16; j++)
            {
                float narrow = j < 8 ? l[j] : h[j - 8];
                if (BitConverter.SingleToInt32Bits(w[j]) != BitConverter.SingleToInt32Bits(narrow))
                    Assert.Fail($"{name}({x[i + j]:R}): Vector512 {w[j]:R}, Vector256 {narrow:R}");
            }
        }
    }
}
