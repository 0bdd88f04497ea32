using NormalizingFlows.Hep.Evaluation;

namespace NormalizingFlows.Hep.Tests.Evaluation;

public class SeparationPowerTests
{
    [Fact]
    public void IdenticalHistogramsGiveZeroAndDisjointOnesGiveOne()
    {
        var edges = SeparationPower.LinearEdges(0, 10, 10);
        double[] a = [0.5, 1.5, 1.7, 4.2, 9.9, 10];
        Assert.Equal(0, SeparationPower.Compute(a, a, edges));
        // the same shape at another normalisation is identical too
        Assert.Equal(0, SeparationPower.Compute(a, [.. a, .. a], edges), 15);
        Assert.Equal(1, SeparationPower.Compute([0.5, 1.5], [5.5, 7.5, 8.5], edges), 15);
        // by hand: h1 = (½, ½, 0), h2 = (¼, ¼, ½) → ½ (1/16/¾ · 2 + ¼/½) = 1/3
        Assert.Equal(1.0 / 3, SeparationPower.FromCounts([1, 1, 0], [1, 1, 2]), 15);
        // NumPy's bins: [e_k, e_k+1), the last closed; outside values dropped
        Assert.Equal([1.0, 0, 2], SeparationPower.Counts([0, 2.999, 3, 3.5, -1, 3.0001, double.NaN], [0, 1, 2, 3]));
        Assert.Throws<ArgumentException>(() => SeparationPower.Counts([1], [0, 2, 1]));
        Assert.Throws<ArgumentException>(() => SeparationPower.FromCounts([0, 0], [1, 1]));
        var log = SeparationPower.LogEdges(0.01, 100, 4);
        Assert.Equal([0.01, 0.1, 1, 10, 100], log.Select(e => Math.Round(e, 12)));
        Assert.Equal(100, log[^1]);
    }
}
