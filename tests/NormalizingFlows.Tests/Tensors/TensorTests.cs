using NormalizingFlows.Tensors;

namespace NormalizingFlows.Tests.Tensors;

public class TensorTests
{
    [Fact]
    public void ShapeAndTwoDimensionalView()
    {
        var t = Tensor<float>.Zeros(4, 3, 2);
        Assert.Equal(24, t.Length);
        Assert.Equal(3, t.Rank);
        Assert.Equal(4, t.Rows);
        Assert.Equal(6, t.Cols);
        var v = Tensor<float>.Zeros(5);
        Assert.Equal(1, v.Rows);
        Assert.Equal(5, v.Cols);
        var s = Tensor<double>.Scalar(2.5);
        Assert.Equal(0, s.Rank);
        Assert.Equal(1, s.Length);
        Assert.Equal(2.5, s[0]);
    }

    [Fact]
    public void FromCopiesAndChecksLength()
    {
        var data = new float[] { 1, 2, 3, 4, 5, 6 };
        var t = Tensor<float>.From(data, 2, 3);
        data[0] = 99;
        Assert.Equal(1f, t[0, 0]);
        Assert.Equal(6f, t[1, 2]);
        var ex = Assert.Throws<ArgumentException>(() => Tensor<float>.From(data, 4, 2));
        Assert.Contains("[4, 2]", ex.Message);
    }

    [Fact]
    public void IndexerRejectsColumnOutOfRange()
    {
        var t = Tensor<double>.Zeros(2, 3);
        Assert.Throws<IndexOutOfRangeException>(() => t[0, 3]);
    }

    [Fact]
    public void ReshapeSharesBufferAndInfersDimension()
    {
        var t = Tensor<float>.From(new float[] { 1, 2, 3, 4, 5, 6 }, 2, 3);
        var r = t.Reshape(3, -1);
        Assert.True(r.HasShape(3, 2));
        r[2, 1] = 42;
        Assert.Equal(42f, t[1, 2]);
        Assert.Throws<ArgumentException>(() => t.Reshape(4, -1));
        Assert.Throws<ArgumentException>(() => t.Reshape(7));
    }

    [Fact]
    public void ScopeReturnsBuffersButKeepsUntracked()
    {
        Tensor<float> inner, kept;
        using (TensorScope.Begin())
        {
            inner = Tensor<float>.Zeros(100, 10);
            kept = Tensor<float>.Zeros(10).Untrack();
            Assert.False(inner.IsDisposed);
        }
        Assert.True(inner.IsDisposed);
        Assert.False(kept.IsDisposed);
        Assert.Throws<ObjectDisposedException>(() => inner.Span.Length);
    }

    [Fact]
    public void NestedScopesReleaseInOrderAndRejectOutOfOrderDisposal()
    {
        var outer = TensorScope.Begin();
        var a = Tensor<double>.Zeros(3);
        var inner = TensorScope.Begin();
        var b = Tensor<double>.Zeros(3);
        Assert.Throws<InvalidOperationException>(() => outer.Dispose());
        inner.Dispose();
        Assert.True(b.IsDisposed);
        Assert.False(a.IsDisposed);
        outer.Dispose();
        Assert.True(a.IsDisposed);
    }

    [Fact]
    public void PooledBuffersAreReusedAcrossScopes()
    {
        float[] first;
        using (TensorScope.Begin()) first = Tensor<float>.Zeros(1000, 7).Data;
        bool reused = false;
        for (int i = 0; i < 8 && !reused; i++)
            using (TensorScope.Begin()) reused = ReferenceEquals(first, Tensor<float>.Empty(1000, 7).Data);
        Assert.True(reused);
    }

    [Fact]
    public void CastRoundsToFloat()
    {
        var d = Tensor<double>.From(new[] { 1.0 / 3.0, -2.5 }, 2);
        var f = d.Cast<float>();
        Assert.Equal(1f / 3f, f[0]);
        Assert.Equal(-2.5f, f[1]);
    }

    [Fact]
    public void NegativeDimensionIsRejected()
    {
        var ex = Assert.Throws<ArgumentException>(() => Tensor<float>.Zeros(3, -1));
        Assert.Contains("negative", ex.Message);
    }
}

public class TensorClearTests
{
    [Theory]
    [InlineData(10)]
    [InlineData(300_001)]
    [InlineData(1 << 20)]
    public void ClearZeroesEveryElementForSmallAndParallelSizes(int n)
    {
        var t = Tensor<float>.Full(3f, n);
        t.Clear();
        Assert.All(t.ToArray(), v => Assert.Equal(0f, v));
        Assert.All(Tensor<double>.Zeros(n).ToArray(), v => Assert.Equal(0.0, v));
    }
}

public class TensorCopyRowsTests
{
    [Fact]
    public void CopyRowsCopiesTheBlockAndChecksBounds()
    {
        var t = Tensor<double>.From(new double[] { 1, 2, 3, 4, 5, 6, 7, 8 }, 4, 2);
        var r = t.CopyRows(1, 2);
        Assert.True(r.HasShape(2, 2));
        Assert.Equal([3.0, 4, 5, 6], r.ToArray());
        r[0, 0] = 99;
        Assert.Equal(3.0, t[1, 0]); // a copy, not a view
        Assert.Throws<ArgumentOutOfRangeException>(() => t.CopyRows(3, 2));
    }
}
