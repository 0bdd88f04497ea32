using NormalizingFlows.Autograd;
using NormalizingFlows.Cuda;
using NormalizingFlows.Data;
using NormalizingFlows.Hep.Inference;
using NormalizingFlows.Models;
using NormalizingFlows.Tensors;

namespace NormalizingFlows.Cli.Tests;

/// <summary>
/// Streamed sampling with <c>--device</c> on ILGPU's CPU accelerator: <c>sample</c> with <c>--with-logprob</c>,
/// <c>--shard</c> and <c>-o -</c> (the rows of the device's stream of --seed, their log p as the CPU's), and
/// <c>infer sample</c> / <c>infer calibrate</c> (the posterior from the device's base draws as the CPU maps them;
/// with an MLP or sum-pooling summary network too).
/// </summary>
public sealed class DeviceSamplingCliTests
{
    private const string Device = "cpu-accelerator";
    private static readonly string[] Small = ["--layers", "2", "--hidden", "8", "--batch", "64", "--epochs", "2", "--seed", "1"];

    private static void Close(double expected, double actual, double rel, string what)
        => Assert.True(Math.Abs(expected - actual) <= rel * (1 + Math.Abs(expected)), $"{what}: expected {expected}, got {actual}");

    [Fact]
    public void SamplesStreamWithTheirLogProbAndShardIntoTheRowsOfTheWholeRun()
    {
        using var s = new CliSandbox();
        var (code, _, err) = s.Run(["train", DeviceCliTests.Data(s), .. Small, "--flow", "maf", "-o", s["m.nflow"]]);
        Assert.True(code == 0, err);
        (code, var output, err) = s.Run("sample", s["m.nflow"], "-n", "50", "--seed", "3", "--with-logprob", "-o", s["all.csv"], "--device", Device);
        Assert.True(code == 0, err);
        Assert.Contains("drawn on the device", output);
        var all = Csv.Read(s["all.csv"]);
        Assert.Equal(["a", "b", "c", SampleStream.LogProbColumn], all.Columns);
        Assert.Equal(50, all.Rows);

        // the rows one DeviceFlow.Sample call draws from --seed, mapped into original units by the preprocessing's inverse
        var m = ModelFile.Load<float>(s["m.nflow"]);
        Tensor<float> expected;
        using (var dev = ComputeDevice.CpuAccelerator())
        using (var flow = DeviceFlow.Compile(m.Inner, dev))
        using (var x = flow.Sample(50, seed: 3))
        using (GradMode.Disable())
            expected = m.Preprocessing!.Inverse(new Var<float>(x.Download())).X.Value;
        double meanB = Enumerable.Range(0, 50).Average(r => all[r, 1]);
        Assert.True(meanB > 1, $"b = exp(w) lies in [1, e], its samples' mean is {meanB}: not in original units"); // standardised: about 0
        // log p of the written rows as the CPU computes it
        var written = new Table(["a", "b", "c"], [.. Enumerable.Range(0, 50 * 3).Select(i => all[i / 3, i % 3])], 50);
        var cpu = FlowModelTables.LogProb(m, written);
        for (int r = 0; r < 50; r++)
        {
            for (int j = 0; j < 3; j++) Close(expected[r, j], all[r, j], 1e-6, $"row {r}, column {j}");
            Close(cpu[r], all[r, 3], 1e-3, $"log p of row {r}");
        }

        // shard 0/2 and 1/2 are rows 0 … 24 and 25 … 49 of the same stream
        var shards = new List<double>();
        foreach (var shard in new[] { "0/2", "1/2" })
        {
            (code, _, err) = s.Run("sample", s["m.nflow"], "-n", "50", "--seed", "3", "--shard", shard, "-o", s["shard.npy"], "--device", Device);
            Assert.True(code == 0, err);
            var part = Npy.Read(s["shard.npy"]);
            Assert.Equal(25, part.Rows);
            shards.AddRange(part.Values);
        }
        for (int i = 0; i < 150; i++) Close(all[i / 3, i % 3], shards[i], 1e-6, $"sharded value {i}");

        // streamed to stdout
        (code, output, err) = s.Run("sample", s["m.nflow"], "-n", "7", "-o", "-", "--device", Device);
        Assert.True(code == 0, err);
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("a,b,c", lines[0]);
        Assert.Equal(8, lines.Length);
        Assert.Contains("wrote 7 samples drawn on the device", err);
    }

    [Fact]
    public void AConditionalModelsShardsHoldTheirShareOfEveryContextRow()
    {
        using var s = new CliSandbox();
        string test = DeviceCliTests.Data(s, "test.csv", 8, 2);
        var (code, _, err) = s.Run(["train", DeviceCliTests.Data(s), .. Small, "--flow", "realnvp", "--context", "c", "-o", s["c.nflow"]]);
        Assert.True(code == 0, err);
        Table Sample(string name, params string[] extra)
        {
            var (c, _, e) = s.Run(["sample", s["c.nflow"], "-n", "3", "--context", test, "--seed", "4", "-o", s[name], "--device", Device, .. extra]);
            Assert.True(c == 0, e);
            return Csv.Read(s[name]);
        }
        var all = Sample("all.csv", "--with-logprob");
        var (first, second) = (Sample("s0.csv", "--shard", "0/2"), Sample("s1.csv", "--shard", "1/2"));
        Assert.Equal((24, 16, 8), (all.Rows, first.Rows, second.Rows));
        for (int i = 0; i < 8; i++)
            for (int j = 0; j < 3; j++)
            {
                // context row i: samples 0, 1 in shard 0/2, sample 2 in shard 1/2
                Close(all[3 * i, j], first[2 * i, j], 1e-6, $"context row {i}, sample 0, column {j}");
                Close(all[3 * i + 1, j], first[2 * i + 1, j], 1e-6, $"context row {i}, sample 1, column {j}");
                Close(all[3 * i + 2, j], second[i, j], 1e-6, $"context row {i}, sample 2, column {j}");
            }
        var m = ModelFile.Load<float>(s["c.nflow"]);
        var events = new Table(["a", "b"], [.. Enumerable.Range(0, 24 * 2).Select(i => all[i / 2, i % 2])], 24);
        var context = new Table(["c"], [.. Enumerable.Range(0, 24).Select(r => all[r, 2])], 24);
        var cpu = FlowModelTables.LogProb(m, events, context);
        for (int r = 0; r < 24; r++) Close(cpu[r], all[r, 3], 1e-3, $"log p(x | c) of row {r}");
    }

    [Fact]
    public void PosteriorsAreSampledAndCalibratedOnTheAccelerator()
    {
        using var s = new CliSandbox();
        string[] train = ["infer", "train", "--simulator", "linear-gaussian", "-n", "400", "--flow", "maf", "--layers", "1", "--hidden", "8", "--epochs", "1", "--batch", "64"];
        var (code, output, err) = s.Run([.. train, "-o", s["lg.nflow"]]);
        Assert.True(code == 0, err);
        s.Write("obs.csv", "x0,x1,x2\n0,0,0\n1.2,-0.8,0.5\n-1.5,1.0,-1.2\n");
        SampledAsTheCpuMapsTheDeviceDraws(s, "lg.nflow");

        (code, output, err) = s.Run("infer", "calibrate", s["lg.nflow"], "--observations", "40", "--samples", "19", "--bins", "5", "--seed", "2", "-o", s["cal.html"], "--device", Device);
        Assert.True(code == 0, err);
        Assert.Contains("SBC on 40 observations × 19 samples", output);
        Assert.True(File.Exists(s["cal.html"]));

        // with a summary network (trained on the CPU): the observations' standardisation on the host, the summary
        // network and the flow on the device, the samples as the CPU's flow and summary network map the same draws
        (code, _, err) = s.Run([.. train, "--summary", "mlp", "--summary-features", "4", "-o", s["mlp.nflow"]]);
        Assert.True(code == 0, err);
        SampledAsTheCpuMapsTheDeviceDraws(s, "mlp.nflow");
        (code, _, err) = s.Run([.. train, "--summary", "sum-pooling", "--element-features", "1", "--summary-features", "4", "-o", s["set.nflow"]]);
        Assert.True(code == 0, err);
        SampledAsTheCpuMapsTheDeviceDraws(s, "set.nflow");
        (code, output, err) = s.Run("infer", "calibrate", s["set.nflow"], "--observations", "20", "--samples", "9", "--bins", "5", "--seed", "2", "-o", s["cal2.html"], "--device", Device);
        Assert.True(code == 0, err);
        Assert.Contains("SBC on 20 observations × 9 samples", output);
    }

    /// <summary>
    /// <c>infer sample --device</c> of the posterior <paramref name="model"/> on obs.csv against the CPU's map of the
    /// device's base draws (the stream of --seed), each observation repeated for its 6 samples.
    /// </summary>
    private static void SampledAsTheCpuMapsTheDeviceDraws(CliSandbox s, string model)
    {
        var (code, _, err) = s.Run("infer", "sample", s[model], "--observations", s["obs.csv"], "-n", "6", "--seed", "5", "-o", s["post.csv"], "--device", Device);
        Assert.True(code == 0, err);
        var post = Csv.Read(s["post.csv"]);
        Assert.Equal(["observation", "theta0", "theta1"], post.Columns);
        Assert.Equal(18, post.Rows);
        var m = PosteriorEstimator<float>.Load(s[model]);
        Tensor<float> z;
        using (var dev = ComputeDevice.CpuAccelerator())
        using (var draws = DeviceTensor.Zeros(dev, 18, 2))
        {
            draws.FillStandardNormal(5);
            z = draws.Download();
        }
        var obs = Csv.Read(s["obs.csv"]);
        var x = Tensor<float>.FromDoubles([.. Enumerable.Range(0, 18 * 3).Select(i => obs[i / 3 / 6, i % 3])], 18, 3);
        // the model's context layout (a presence flag before each set element for a sum-pooling summary)
        var context = m.Spec.Summary.Kind == SummaryKind.SumPooling ? Nn.Embeddings.SetEmbedding<float>.WithPresenceFlags(x, m.Spec.Summary.ElementFeatures) : x;
        Tensor<float> theta;
        using (GradMode.Disable()) theta = m.Flow.Transform.Inverse(new Var<float>(z), new Var<float>(context)).X.Value;
        for (int r = 0; r < 18; r++)
        {
            Assert.Equal(r / 6, post[r, 0]);
            for (int j = 0; j < 2; j++) Close(theta[r, j], post[r, 1 + j], 1e-4, $"{model}: posterior sample {r}, θ{j}");
        }
    }
}
