using NormalizingFlows.Tensors;

namespace NormalizingFlows.Cuda.Tests;

/// <summary>Elementwise comparison with a relative-and-absolute tolerance, naming the first index that fails.</summary>
internal static class Assert2
{
    public static void Close(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, double rel, double abs, string what)
    {
        Assert.True(expected.Length == actual.Length, $"{what}: {expected.Length} expected values, {actual.Length} actual");
        for (int i = 0; i < expected.Length; i++)
        {
            double e = expected[i], a = actual[i];
            Assert.True(Math.Abs(e - a) <= abs + rel * Math.Abs(e), $"{what}[{i}]: expected {e}, got {a}");
        }
    }

    public static void Close(Tensor<float> expected, Tensor<float> actual, double rel, double abs, string what)
        => Close(expected.ReadOnlySpan, actual.ReadOnlySpan, rel, abs, what);
}
