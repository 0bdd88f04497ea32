using NormalizingFlows.Autograd;
using NormalizingFlows.Tensors.Kernels;

namespace NormalizingFlows.Tests.Autograd;

[Collection("Kernels")]
public class BiasReluTests
{
    [Theory]
    [InlineData(1, 3)]
    [InlineData(37, 18)]
    [InlineData(700, 128)]   // threaded: ≥ 2 parts of 128 rows
    public void MatchesTheScalarDefinitionPerColumnAndPerRowForAnyThreadCount(int rows, int cols)
    {
        int saved = WorkerPool.MaxThreads;
        try
        {
            foreach (int threads in new[] { 1, 2 })
            {
                WorkerPool.MaxThreads = threads;
                var rng = new Random(rows * 31 + cols);
                float[] y = Enumerable.Range(0, rows * cols).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
                y[0] = float.NaN; // NaN must survive the ReLU
                float[] colBias = Enumerable.Range(0, cols).Select(_ => (float)(rng.NextDouble() - 0.5)).ToArray();
                float[] rowBias = Enumerable.Range(0, rows).Select(_ => (float)(rng.NextDouble() - 0.5)).ToArray();
                float Relu(float v) => v > 0 || float.IsNaN(v) ? v : 0f;

                var a = (float[])y.Clone();
                BiasRelu.Apply<float>(a, rows, cols, colBias);
                var b = (float[])y.Clone();
                BiasRelu.ApplyPerRow<float>(b, rows, cols, rowBias);
                var c = (float[])y.Clone();
                BiasRelu.Apply<float>(c, rows, cols, default);
                for (int r = 0; r < rows; r++)
                    for (int j = 0; j < cols; j++)
                    {
                        int i = r * cols + j;
                        Assert.Equal(Relu(y[i] + colBias[j]), a[i]);
                        Assert.Equal(Relu(y[i] + rowBias[r]), b[i]);
                        Assert.Equal(Relu(y[i]), c[i]);
                    }
                Assert.True(float.IsNaN(a[0]) && float.IsNaN(b[0]) && float.IsNaN(c[0]));
            }
        }
        finally { WorkerPool.MaxThreads = saved; }
    }

    [Fact]
    public void RejectsABiasOfTheWrongLength()
    {
        var y = new float[12];
        Assert.Throws<ArgumentException>(() => BiasRelu.Apply<float>(y, 3, 4, new float[3]));
        Assert.Throws<ArgumentException>(() => BiasRelu.ApplyPerRow<float>(y, 3, 4, new float[4]));
    }
}
