using NormalizingFlows.Autograd;
using NormalizingFlows.Tensors;
using NormalizingFlows.Tensors.Kernels;

namespace NormalizingFlows.Tests.Tensors;

public class InterleaveTests
{
    [Fact]
    public void ParityIsRecognisedOnlyForWholeAlternatingSets()
    {
        Assert.Equal(0, Interleave.ParityOf([0, 2, 4], 6));
        Assert.Equal(1, Interleave.ParityOf([1, 3, 5], 6));
        Assert.Equal(-1, Interleave.ParityOf([0, 2], 5));      // odd width: the pattern breaks across rows
        Assert.Equal(-1, Interleave.ParityOf([0, 2], 6));      // not every even column
        Assert.Equal(-1, Interleave.ParityOf([0, 1, 2], 6));   // a half mask
        Assert.Equal(-1, Interleave.ParityOf([2, 4, 0], 6));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(8)]
    [InlineData(37)]
    [InlineData(1000)]
    public void TakeParitySplitAndMergeMatchTheScalarDefinition(int m)
    {
        var rng = new Random(m);
        var src = Enumerable.Range(0, 2 * m).Select(_ => (float)rng.NextDouble()).ToArray();
        for (int p = 0; p < 2; p++)
        {
            var got = new float[m];
            Interleave.TakeParity(src, p, got);
            for (int i = 0; i < m; i++) Assert.Equal(src[2 * i + p], got[i]);
        }
        var ev = new float[m]; var od = new float[m];
        unsafe
        {
            fixed (float* ps = src, pe = ev, po = od) Interleave.Split(ps, pe, po, m);
        }
        for (int i = 0; i < m; i++)
        {
            Assert.Equal(src[2 * i], ev[i]);
            Assert.Equal(src[2 * i + 1], od[i]);
        }
        var even = src.AsSpan(0, m).ToArray(); var odd = src.AsSpan(m, m).ToArray();
        var merged = new float[2 * m];
        Interleave.Merge(even, odd, merged);
        for (int i = 0; i < m; i++)
        {
            Assert.Equal(even[i], merged[2 * i]);
            Assert.Equal(odd[i], merged[2 * i + 1]);
        }
    }

    [Fact]
    public void SelectAndMergeColumnsFastPathMatchesDoubleAndRoundTrips()
    {
        // float (stride-2 fast path) against double (general path) on alternating columns of an even width
        var rng = new Rng(3);
        var xd = rng.Normal<double>(53, 18);
        var xf = xd.Cast<float>();
        int[] even = Enumerable.Range(0, 9).Select(j => 2 * j).ToArray(), odd = even.Select(j => j + 1).ToArray();
        foreach (var cols in new[] { even, odd })
        {
            var sf = Ops.SelectColumns(new Var<float>(xf), cols).Value.ToDoubleArray();
            var sd = Ops.SelectColumns(new Var<double>(xd), cols).Value.ToDoubleArray();
            for (int i = 0; i < sd.Length; i++) Assert.Equal((float)sd[i], (float)sf[i]);
        }
        var a = Ops.SelectColumns(new Var<float>(xf), odd);
        var b = Ops.SelectColumns(new Var<float>(xf), even);
        var back = Ops.MergeColumns(a, odd, b, even, 18).Value.ToDoubleArray();
        Assert.Equal(xf.ToDoubleArray(), back);
    }
}
