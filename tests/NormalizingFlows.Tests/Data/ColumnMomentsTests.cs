using NormalizingFlows.Data.Preprocessing;

namespace NormalizingFlows.Tests.Data;

public class ColumnMomentsTests
{
    [Fact]
    public void TwoPassMomentsMatchTheDefinitionAndSkipNaN()
    {
        // 4 rows × 2 columns, one NaN in column 1; a large offset that a one-pass Σv² − n·mean² would lose
        double o = 1e9;
        double[] v = [o + 1, 2, o + 2, double.NaN, o + 3, 6, o + 6, 7];
        var m = ColumnMoments.Of(v, 2);
        Assert.Equal([4L, 3L], m.Count);
        Assert.Equal(o + 3, m.Mean[0]);
        Assert.Equal(5, m.Mean[1], 12);
        Assert.Equal(14.0 / 4, m.PopulationVariance(0));
        Assert.Equal(Math.Sqrt(14.0 / 3), m.SampleStd(0), 12);
        Assert.Equal(Math.Sqrt(14.0 / 2), m.SampleStd(1), 12);
    }

    [Fact]
    public void PooledWidthSharesOneStatisticPerElementFeature()
    {
        // rows of 2 elements × 2 features: feature 0 pools columns 0 and 2, feature 1 columns 1 and 3
        double[] v = [1, 10, 3, 30, 5, 50, 7, 70];
        var m = ColumnMoments.Of(v, 4, width: 2);
        Assert.Equal([4L, 4L], m.Count);
        Assert.Equal(4, m.Mean[0]);
        Assert.Equal(40, m.Mean[1]);
        Assert.Equal(0, ColumnMoments.Of([1.0, 2.0], 2).SampleStd(0));
        Assert.Throws<ArgumentException>(() => ColumnMoments.Of(v, 4, width: 3));
    }
}
