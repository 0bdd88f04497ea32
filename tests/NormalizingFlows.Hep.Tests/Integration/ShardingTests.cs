using NormalizingFlows.Data;
using NormalizingFlows.Hep.Integration;
using NormalizingFlows.Tensors;

namespace NormalizingFlows.Hep.Tests.Integration;

public class ShardingTests
{
    private static IntegrationShardResult Shard(int k, int count, params (double Value, double Error)[] iterations) => new()
    {
        Integrand = "camel", Dimensions = 2, Method = "vegas", Seed = 7, Shard = new Shard(k, count),
        Estimate = iterations[0].Value, Error = iterations[0].Error, ChiSquaredPerDof = double.NaN, Calls = 100 * iterations.Length, TrainingCalls = 30,
        Iterations = [.. iterations.Select(i => new IterationEstimate(i.Value, i.Error, 100))],
    };

    [Fact]
    public void ResultFileRoundTripsAndNamesABadField()
    {
        string dir = Directory.CreateTempSubdirectory("nflow-shard-").FullName;
        try
        {
            var r = Shard(1, 3, (0.123456789012345, 1e-3));
            string path = Path.Combine(dir, "r.json");
            r.Write(path);
            var back = IntegrationShardResult.Read(path);
            Assert.Equal(r.Iterations, back.Iterations);
            Assert.Equal(r with { Iterations = back.Iterations }, back);   // every field, NaN χ²/dof included (written as null)
            File.WriteAllText(path, File.ReadAllText(path).Replace("\"seed\"", "\"sead\""));
            var e = Assert.Throws<DataFormatException>(() => IntegrationShardResult.Read(path));
            Assert.Contains("\"seed\"", e.Message);
            Assert.Contains(path, e.Message);
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void MergeIsTheInverseVarianceMeanOfAllIterations()
    {
        var merged = IntegrationShardResult.Merge([Shard(1, 2, (2.0, 0.2)), Shard(0, 2, (1.0, 0.1), (1.5, 0.1))]);
        // weights 100, 100, 25 → (100 + 150 + 50) / 225
        Assert.Equal(300.0 / 225, merged.Estimate, 1e-14);
        Assert.Equal(1 / 15.0, merged.Error, 1e-14);
        Assert.Equal(Tensors.Shard.Whole, merged.Shard);
        Assert.Equal(300, merged.Calls);
        Assert.Equal([1.0, 1.5, 2.0], merged.Iterations.Select(i => i.Value));   // in shard order
    }

    [Fact]
    public void UnweightKeepsOverweightsAndMatchesTheAcceptProbabilities()
    {
        var rng = new Rng(3L);
        int n = 40_000;
        var w = new double[n];
        for (int i = 0; i < n; i++) w[i] = i % 4 == 0 ? 0 : rng.NextDouble() * (i % 100 == 1 ? 10 : 1);
        var events = new WeightedEvents { Events = [.. Enumerable.Range(0, n).Select(i => (double)i)], Dimensions = 1, Weights = w };
        var u = events.Unweight(new Rng(5L), maxWeight: 0.5);
        Assert.Equal(n, u.Trials);
        double expected = w.Sum(x => Math.Min(1, x / 0.5)), sd = Math.Sqrt(w.Sum(x => Math.Min(1, x / 0.5) * (1 - Math.Min(1, x / 0.5))));
        Assert.InRange(u.Count, expected - 4 * sd, expected + 4 * sd);
        for (int i = 0; i < u.Count; i++)
        {
            double original = w[(int)u.Events[i]];
            Assert.True(original > 0);
            Assert.Equal(Math.Max(1, original / 0.5), u.EventWeights[i]);
        }
        // Σ event weights · max / trials estimates the mean weight
        double mean = w.Average(), se = Math.Sqrt(w.Sum(x => (x - mean) * (x - mean)) / n / (n - 1));
        Assert.InRange(Math.Abs(u.IntegralEstimate - mean), 0, 5 * se + 4 * 0.5 * Math.Sqrt(expected) / n);
        Assert.Throws<ArgumentOutOfRangeException>(() => (events with { Weights = new double[n] }).Unweight(new Rng(1L)));
    }

    [Fact]
    public void GenerateWeightedDrawsWhatWeightsOfDraws()
    {
        var a = new Vegas(IntegrandCatalog.Create("camel", 2), null, 11) { BatchSize = 100 };
        var b = new Vegas(IntegrandCatalog.Create("camel", 2), null, 11) { BatchSize = 100 };
        var we = a.GenerateWeighted(250);
        Assert.Equal(b.WeightsOf(250), we.Weights);   // the same draws as before WeightsOf went through GenerateWeighted
        Assert.Equal(500, we.Events.Length);
        // each weight is f(x)/q(x) at its own event: f from the integrand, q = 1/J from the grid's inverse map
        var f = new double[250];
        IntegrandCatalog.Create("camel", 2).Evaluate(we.Events, f);
        var logJ = new double[250];
        a.InverseMap(we.Events, new double[500], logJ);
        for (int i = 0; i < 250; i++) Assert.Equal(f[i] * Math.Exp(logJ[i]), we.Weights[i], 1e-12 * (1 + Math.Abs(we.Weights[i])));
        Assert.All(we.Events, x => Assert.InRange(x, 0.0, 1.0));
        a.UseStream(1);
        Assert.NotEqual(b.WeightsOf(10), a.WeightsOf(10));
    }
}
