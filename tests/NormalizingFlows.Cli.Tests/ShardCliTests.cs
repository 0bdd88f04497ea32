using NormalizingFlows.Data;
using NormalizingFlows.Hep.Integration;

namespace NormalizingFlows.Cli.Tests;

/// <summary><c>--shard k/K</c> of sample and integrate, and <c>nflow merge</c>: K = 3 shards merged are one 3×-larger run.</summary>
public class ShardCliTests
{
    private static readonly string[] Vegas = ["integrate", "-f", "camel", "-d", "2", "-m", "vegas", "--calls", "90000", "--iterations", "3", "--seed", "5"];

    private static void Ok((int Code, string Out, string Err) r) => Assert.True(r.Code == 0, r.Err + r.Out);

    [Fact]
    public void Integrate_ThreeShardsMergedHaveTheStatisticsOfOneRun()
    {
        using var s = new CliSandbox();
        Ok(s.Run([.. Vegas, "--result", s["whole.json"]]));
        for (int k = 0; k < 3; k++)
            Ok(s.Run([.. Vegas, "--shard", $"{k}/3", "--result", s[$"r{k}.json"], "--weighted", "--events", "6000", "-o", s[$"w{k}.csv"]]));
        var whole = IntegrationShardResult.Read(s["whole.json"]);
        var shards = Enumerable.Range(0, 3).Select(k => IntegrationShardResult.Read(s[$"r{k}.json"])).ToArray();

        // every shard trained the same grid on the same calls, then integrated its third of the rest on its own stream
        Assert.All(shards, r => Assert.Equal(whole.TrainingCalls, r.TrainingCalls));
        Assert.Equal(whole.Calls, shards.Sum(r => r.Calls));
        Assert.Equal(3, shards.Select(r => r.Estimate).Distinct().Count());
        var (code, output, err) = s.Run("merge", s["r2.json"], s["r0.json"], s["r1.json"], "-o", s["merged.json"]);
        Assert.True(code == 0, err + output);
        Assert.Contains("camel (2-D) with vegas, 3 shards:", output);
        var merged = IntegrationShardResult.Read(s["merged.json"]);
        Assert.Equal(9, merged.Iterations.Count);
        // inverse-variance mean of the shards, error (Σ 1/σₖ²)^(−1/2)
        double sw = shards.Sum(r => 1 / (r.Error * r.Error));
        Assert.Equal(shards.Sum(r => r.Estimate / (r.Error * r.Error)) / sw, merged.Estimate, 1e-12 * merged.Estimate);
        Assert.Equal(1 / Math.Sqrt(sw), merged.Error, 1e-9 * merged.Error);
        // the statistics of one run with all the calls: the same error to within its own sampling spread, compatible values
        Assert.InRange(merged.Error / whole.Error, 0.8, 1.25);
        double reference = IntegrandCatalog.Reference(IntegrandCatalog.Create("camel", 2))!.Value;
        Assert.InRange(Math.Abs(merged.Estimate - reference) / merged.Error, 0, 4);
        Assert.InRange(Math.Abs(merged.Estimate - whole.Estimate) / Math.Sqrt(merged.Error * merged.Error + whole.Error * whole.Error), 0, 4);

        // weighted events: 2000 per shard; merged, their mean weight estimates the integral; unweighted with one maximum
        Assert.All(Enumerable.Range(0, 3), k => Assert.Equal(2000, Csv.Read(s[$"w{k}.csv"]).Rows));
        (code, output, err) = s.Run("merge", s["w0.csv"], s["w1.csv"], s["w2.csv"], "--unweight", "--max-quantile", "1", "-o", s["u.csv"], "--seed", "3");
        Assert.True(code == 0, err + output);
        var w = Enumerable.Range(0, 3).SelectMany(k => { var t = Csv.Read(s[$"w{k}.csv"]); return Enumerable.Range(0, t.Rows).Select(i => t[i, 2]); }).ToArray();
        double mean = w.Average(), se = Math.Sqrt(w.Sum(x => (x - mean) * (x - mean)) / (w.Length - 1) / w.Length);
        Assert.InRange(Math.Abs(mean - reference) / se, 0, 4);
        var u = Csv.Read(s["u.csv"]);
        Assert.Equal(["x1", "x2", "weight"], u.Columns);
        Assert.All(Enumerable.Range(0, u.Rows), i => Assert.Equal(1.0, u[i, 2]));   // the largest weight as maximum: no overweights
        double expected = w.Sum() / w.Max(), spread = Math.Sqrt(w.Sum(x => x / w.Max() * (1 - x / w.Max())));
        Assert.InRange(u.Rows, expected - 4 * spread, expected + 4 * spread);
    }

    [Fact]
    public void Integrate_ShardsAreReproducibleAndShardZeroOfOneIsTheUnshardedRun()
    {
        using var s = new CliSandbox();
        string[] mc = ["integrate", "-f", "gaussian", "-d", "2", "-m", "mc", "--calls", "4000", "--seed", "9"];
        Ok(s.Run([.. mc, "--result", s["plain.json"], "--weighted", "--events", "50", "-o", s["plain.csv"]]));
        Ok(s.Run([.. mc, "--shard", "0/1", "--result", s["one.json"], "--weighted", "--events", "50", "-o", s["one.csv"]]));
        Assert.Equal(File.ReadAllBytes(s["plain.json"]), File.ReadAllBytes(s["one.json"]));
        Assert.Equal(File.ReadAllBytes(s["plain.csv"]), File.ReadAllBytes(s["one.csv"]));
        Ok(s.Run([.. mc, "--shard", "1/3", "--result", s["a.json"], "--weighted", "--events", "50", "-o", s["a.csv"]]));
        Ok(s.Run([.. mc, "--shard", "1/3", "--result", s["b.json"], "--weighted", "--events", "50", "-o", s["b.csv"]]));
        Ok(s.Run([.. mc, "--shard", "2/3", "--result", s["c.json"], "--weighted", "--events", "50", "-o", s["c.csv"]]));
        Assert.Equal(File.ReadAllBytes(s["a.json"]), File.ReadAllBytes(s["b.json"]));
        Assert.Equal(File.ReadAllBytes(s["a.csv"]), File.ReadAllBytes(s["b.csv"]));
        Assert.NotEqual(File.ReadAllText(s["a.csv"]), File.ReadAllText(s["c.csv"]));
        Assert.Equal(17, Csv.Read(s["a.csv"]).Rows);   // 50 = 17 + 17 + 16

        // merge refuses an incomplete set, a duplicate and a shard of another run, naming it
        var (code, _, err) = s.Run("merge", s["a.json"], s["c.json"]);
        Assert.Equal(2, code);
        Assert.Contains("shard(s) 0/3", err);
        Assert.Contains("missing", err);
        (code, _, err) = s.Run("merge", s["a.json"], s["b.json"]);
        Assert.Equal(2, code);
        Assert.Contains("shard 1/3 is given twice", err);
        (code, _, err) = s.Run("merge", s["a.json"], s["plain.json"]);
        Assert.Equal(2, code);
        Assert.Contains("not of the same run", err);
        // usage errors: a shard without --weighted events, a bad shard, mixed inputs
        (code, _, err) = s.Run([.. mc, "--shard", "1/3", "--events", "50", "-o", s["x.csv"]]);
        Assert.Equal(2, code);
        Assert.Contains("--weighted", err);
        (code, _, err) = s.Run([.. mc, "--shard", "3/3"]);
        Assert.Equal(2, code);
        Assert.Contains("shard '3/3'", err);
        (code, _, err) = s.Run("merge", s["a.json"], s["a.csv"]);
        Assert.Equal(2, code);
        Assert.Contains("not both", err);
    }

    [Fact]
    public void Sample_ThreeShardsSplitTheTotalAndMergeToOneRunsStatistics()
    {
        using var s = new CliSandbox();
        Ok(s.Run("toy", "moons", "-n", "2000", "-o", s["moons.csv"], "--seed", "1"));
        Ok(s.Run("train", s["moons.csv"], "--flow", "nsf", "--layers", "2", "--hidden", "16", "--bins", "4", "--batch", "256", "--epochs", "2", "-o", s["m.nflow"]));
        Ok(s.Run("sample", s["m.nflow"], "-n", "9000", "--seed", "4", "-o", s["whole.csv"]));
        for (int k = 0; k < 3; k++) Ok(s.Run("sample", s["m.nflow"], "-n", "9000", "--seed", "4", "--shard", $"{k}/3", "-o", s[$"s{k}.csv"]));
        Ok(s.Run("sample", s["m.nflow"], "-n", "9000", "--seed", "4", "--shard", "1/3", "-o", s["again.csv"]));
        Assert.Equal(File.ReadAllBytes(s["s1.csv"]), File.ReadAllBytes(s["again.csv"]));
        Assert.NotEqual(File.ReadAllText(s["s0.csv"]), File.ReadAllText(s["s1.csv"]));
        var (code, output, err) = s.Run("merge", s["s0.csv"], s["s1.csv"], s["s2.csv"], "-o", s["merged.npy"]);
        Assert.True(code == 0, err + output);
        var merged = Npy.Read(s["merged.npy"]);
        var whole = Csv.Read(s["whole.csv"]);
        Assert.Equal(whole.Columns, merged.Columns);
        Assert.Equal(9000, merged.Rows);
        for (int j = 0; j < whole.Cols; j++)
        {
            var (ma, va, ka) = Moments(whole, j);
            var (mb, vb, kb) = Moments(merged, j);
            // means and variances within 4 standard errors of their difference (var of a sample variance ≈ (m₄ − v²)/n)
            Assert.InRange(Math.Abs(ma - mb) / Math.Sqrt((va + vb) / 9000), 0, 4);
            Assert.InRange(Math.Abs(va - vb) / Math.Sqrt((ka - va * va + kb - vb * vb) / 9000), 0, 4);
        }
        (code, _, err) = s.Run("sample", s["m.nflow"], "-n", "2", "--shard", "2/3", "-o", s["none.csv"]);
        Assert.Equal(2, code);
        Assert.Contains("no events", err);
    }

    /// <summary>Mean, variance and fourth central moment of a column.</summary>
    private static (double Mean, double Variance, double Fourth) Moments(Table t, int column)
    {
        double m = 0, v = 0, m4 = 0;
        for (int i = 0; i < t.Rows; i++) m += t[i, column];
        m /= t.Rows;
        for (int i = 0; i < t.Rows; i++)
        {
            double d2 = (t[i, column] - m) * (t[i, column] - m);
            v += d2;
            m4 += d2 * d2;
        }
        return (m, v / (t.Rows - 1), m4 / t.Rows);
    }
}
