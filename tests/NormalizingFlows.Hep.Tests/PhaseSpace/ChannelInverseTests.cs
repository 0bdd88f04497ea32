using NormalizingFlows.Hep.PhaseSpace;
using NormalizingFlows.Tensors;

namespace NormalizingFlows.Hep.Tests.PhaseSpace;

/// <summary><see cref="IMultichannelMapping.InverseChannel"/> of the three- and four-body channels: it undoes <see cref="IMultichannelMapping.MapChannel"/> in every channel that reaches the point.</summary>
public class ChannelInverseTests
{
    const double SqrtS = 91.2;

    public static TheoryData<string> Mappings => ["qqg", "qqgg"];

    static IMultichannelMapping Create(string name) =>
        name == "qqg" ? ThreeBodyMultichannelMapping.ForCut(SqrtS, 0.01) : FourBodyMultichannelMapping.ForQqgg(SqrtS, 0.01);

    [Theory]
    [MemberData(nameof(Mappings))]
    public void InverseRecoversTheNumbersOfEveryChannelThatReachesThePoint(string name)
    {
        var mapping = Create(name);
        int d = mapping.ChannelDimensions, k = mapping.Channels, n = mapping.Particles;
        var rng = new Rng(11);
        double[] u = new double[d], v = new double[d];
        var p = new FourVector[n];
        var q = new FourVector[n];
        var g = new double[k];
        int reached = 0, missed = 0;
        for (int c = 0; c < k; c++)
            for (int t = 0; t < 40; t++)
            {
                for (int i = 0; i < d; i++) u[i] = rng.NextDouble();
                Assert.True(mapping.MapChannel(c, u, p) > 0);
                mapping.ChannelDensities(p, g);
                for (int j = 0; j < k; j++)
                {
                    double w = mapping.InverseChannel(j, p, v);
                    if (g[j] == 0) { Assert.Equal(0, w); missed++; continue; }
                    reached++;
                    Assert.Equal(1, w * g[j], 1e-12);
                    if (j == c)
                        for (int i = 0; i < d; i++) Assert.True(Math.Abs(v[i] - u[i]) < 1e-7 || Math.Abs(Math.Abs(v[i] - u[i]) - 1) < 1e-7, $"channel {c}, u[{i}] = {u[i]}, inverse {v[i]}");
                    // channel j maps its numbers back to the same momenta with the same weight
                    Assert.Equal(w, mapping.MapChannel(j, v, q), 1e-7 * w);
                    for (int i = 0; i < n; i++)
                    {
                        var diff = q[i] - p[i];
                        Assert.True(Math.Abs(diff.E) + Math.Abs(diff.Px) + Math.Abs(diff.Py) + Math.Abs(diff.Pz) < 1e-8 * SqrtS,
                                    $"channel {j} from channel {c}: particle {i} {q[i]} instead of {p[i]}");
                    }
                }
            }
        Assert.True(reached > k * 40 + 10, $"only {reached} channel preimages: hardly any point reached by another channel");
        Assert.True(missed > 0, "no point outside another channel's range: the test of 0 cannot fail");
        Assert.Throws<ArgumentOutOfRangeException>(() => mapping.InverseChannel(k, p, v));
        Assert.Throws<ArgumentException>(() => mapping.InverseChannel(0, p, new double[d + 1]));
    }
}
