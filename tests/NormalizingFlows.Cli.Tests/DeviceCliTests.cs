using System.Globalization;
using System.Text;

namespace NormalizingFlows.Cli.Tests;

/// <summary>
/// <c>--device</c> on train, sample, logprob, eval, infer train and calo train (conditional models, weighted events), on ILGPU's CPU accelerator (<c>--device cpu-accelerator</c>:
/// the GPU kernels on the CPU); <c>--device cuda</c> where CI has no GPU; the refusals of the other verbs and options.
/// </summary>
public sealed class DeviceCliTests
{
    private static readonly string[] Small = ["--layers", "2", "--hidden", "8", "--batch", "64", "--epochs", "2", "--seed", "1"];

    internal static string Data(CliSandbox s, string name = "train.csv", int rows = 256, int seed = 1)
    {
        var rng = new Random(seed);
        var text = new StringBuilder("a,b,c\n");
        for (int i = 0; i < rows; i++)
        {
            double u = rng.NextDouble(), v = rng.NextDouble(), w = rng.NextDouble();
            text.AppendLine(string.Create(CultureInfo.InvariantCulture, $"{u + v},{Math.Exp(w)},{u - 2 * v}"));
        }
        return s.Write(name, text.ToString());
    }

    private static double Mean(string output) =>
        double.Parse(output.Split("mean log-likelihood:")[1].Trim().Split(' ')[0], CultureInfo.InvariantCulture);

    /// <summary>
    /// Runs <paramref name="run"/> on the CPU (cpu.nflow) and on the accelerator (dev.nflow) and scores
    /// <paramref name="test"/> with both models on the CPU (cpu.csv, devcpu.csv): the device-trained model must score as
    /// the CPU-trained one (same seeds and batches; float rounding only). Returns both columns.
    /// </summary>
    private static (double[] CpuTrained, double[] DeviceTrained) TrainOnBothSides(CliSandbox s, string[] run, string test)
    {
        var (code, _, err) = s.Run([.. run, "-o", s["cpu.nflow"]]);
        Assert.True(code == 0, err);
        (code, _, err) = s.Run([.. run, "-o", s["dev.nflow"], "--device", "cpu-accelerator"]);
        Assert.True(code == 0, err);
        (code, _, err) = s.Run("logprob", s["cpu.nflow"], test, "-o", s["cpu.csv"]);
        Assert.True(code == 0, err);
        (code, _, err) = s.Run("logprob", s["dev.nflow"], test, "-o", s["devcpu.csv"]);
        Assert.True(code == 0, err);
        var (a, b) = (Column(s["cpu.csv"]), Column(s["devcpu.csv"]));
        for (int i = 0; i < a.Length; i++) Assert.True(Math.Abs(a[i] - b[i]) <= 1e-2 * (1 + Math.Abs(a[i])), $"row {i}: CPU-trained {a[i]}, device-trained {b[i]}");
        return (a, b);
    }

    [Theory]
    [InlineData("cuda"), InlineData("cuda-graphs")]
    public void CudaWithoutAGpuFailsWithOneLine(string device)
    {
        using var s = new CliSandbox();
        var (code, _, err) = s.Run(["train", Data(s), .. Small, "-o", s["m.nflow"], "--device", device]);
        if (code == 0) return; // a machine with a GPU trains
        Assert.Equal(1, code);
        var lines = err.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Single(lines);
        Assert.StartsWith($"nflow: error: --device {device}: no CUDA device", lines[0]);
        Assert.DoesNotContain(" at ", err);
    }

    [Fact]
    public void GlowTrainsAndScoresOnTheAcceleratorAsOnTheCpu()
    {
        // ActNorm (initialised from the first batch), the LU linear map and affine couplings on the device
        using var s = new CliSandbox();
        string test = Data(s, "test.csv", 32, 2);
        TrainOnBothSides(s, ["train", Data(s), .. Small, "--flow", "glow"], test);
        var (code, _, err) = s.Run("logprob", s["dev.nflow"], test, "-o", s["devdev.csv"], "--device", "cpu-accelerator");
        Assert.True(code == 0, err);
        var (a, b) = (Column(s["devcpu.csv"]), Column(s["devdev.csv"]));
        for (int i = 0; i < a.Length; i++) Assert.True(Math.Abs(a[i] - b[i]) <= 1e-3 * (1 + Math.Abs(a[i])), $"row {i}: scored on the CPU {a[i]}, on the device {b[i]}");
    }

    [Fact]
    public void PlanarTrainsAndSamplesOnTheAcceleratorAsOnTheCpu()
    {
        // the planar maps' root find (density direction) and closed-form sampling on the device
        using var s = new CliSandbox();
        string test = Data(s, "test.csv", 32, 2);
        TrainOnBothSides(s, ["train", Data(s), .. Small, "--flow", "planar"], test);
        var (code, _, err) = s.Run("sample", s["dev.nflow"], "-n", "20", "-o", s["x.csv"], "--device", "cpu-accelerator", "--seed", "3");
        Assert.True(code == 0, err);
        (code, var output, err) = s.Run("logprob", s["dev.nflow"], s["x.csv"]);
        Assert.True(code == 0, err);
        Assert.True(double.IsFinite(Mean(output)), output);
    }

    [Fact]
    public void TrainOnTheAcceleratorWritesAModelTheCpuScores()
    {
        using var s = new CliSandbox();
        string train = Data(s), test = Data(s, "test.csv", 64, 2);
        var (code, output, err) = s.Run(["train", train, .. Small, "-o", s["m.nflow"], "--device", "cpu-accelerator"]); // nsf: spline couplings
        Assert.True(code == 0, err);
        Assert.Contains("training on", output);
        (code, var cpu, err) = s.Run("logprob", s["m.nflow"], test, "-o", s["cpu.csv"]);
        Assert.True(code == 0, err);
        (code, var dev, err) = s.Run("logprob", s["m.nflow"], test, "-o", s["dev.csv"], "--device", "cpu-accelerator");
        Assert.True(code == 0, err);
        Assert.True(double.IsFinite(Mean(cpu)));
        var a = File.ReadAllLines(s["cpu.csv"]).Skip(1).Select(l => double.Parse(l, CultureInfo.InvariantCulture)).ToArray();
        var b = File.ReadAllLines(s["dev.csv"]).Skip(1).Select(l => double.Parse(l, CultureInfo.InvariantCulture)).ToArray();
        Assert.Equal(64, a.Length);
        for (int i = 0; i < a.Length; i++) Assert.True(Math.Abs(a[i] - b[i]) <= 1e-3 * (1 + Math.Abs(a[i])), $"row {i}: CPU {a[i]}, device {b[i]}");
        (code, output, err) = s.Run("sample", s["m.nflow"], "-n", "50", "-o", s["x.csv"], "--device", "cpu-accelerator", "--seed", "3");
        Assert.True(code == 0, err);
        var rows = File.ReadAllLines(s["x.csv"]);
        Assert.Equal("a,b,c", rows[0]);
        Assert.Equal(51, rows.Length);
        // the device's samples score finitely on the CPU
        (code, output, err) = s.Run("logprob", s["m.nflow"], s["x.csv"]);
        Assert.True(code == 0, err);
        Assert.True(double.IsFinite(Mean(output)), output);
        (code, output, err) = s.Run("eval", s["m.nflow"], test, "-o", s["r.html"], "-n", "64", "--device", "cpu-accelerator");
        Assert.True(code == 0, err);
        Assert.Contains("test log-likelihood", output);
        Assert.True(File.Exists(s["r.html"]));
    }

    [Fact]
    public void NafTrainsAndSamplesOnTheAccelerator()
    {
        // the sigmoidal update on the device: trained as on the CPU, sampled by the incremental MADE's Newton solves
        using var s = new CliSandbox();
        string train = Data(s, rows: 128), test = Data(s, "test.csv", 32, 2);
        TrainOnBothSides(s, ["train", train, "--flow", "naf", "--layers", "2", "--hidden", "8", "--batch", "64", "--epochs", "1", "--seed", "1"], test);
        var (code, _, err) = s.Run("sample", s["dev.nflow"], "-n", "20", "-o", s["x.csv"], "--device", "cpu-accelerator", "--seed", "3");
        Assert.True(code == 0, err);
        (code, var output, err) = s.Run("logprob", s["dev.nflow"], s["x.csv"]);
        Assert.True(code == 0, err);
        Assert.True(double.IsFinite(Mean(output)), output);
    }

    [Fact]
    public void ARunInterruptedOnTheDeviceResumesOnTheCpu()
    {
        using var s = new CliSandbox();
        string train = Data(s);
        string[] run = ["train", train, .. Small, "--flow", "maf", "-o", s["m.nflow"]];
        var (code, _, err) = s.Run([.. run, "--device", "cpu-accelerator", "--cancel-after-steps", "3"]);
        Assert.True(code == 130, err);
        Assert.Contains("--resume", err);
        (code, var output, err) = s.Run([.. run, "--resume", s["m.nflow.ckpt"]]);
        Assert.True(code == 0, err);
        Assert.Contains("resuming from", output);
        Assert.True(File.Exists(s["m.nflow"]));
    }

    private static double[] Column(string path) =>
        File.ReadAllLines(path).Skip(1).Select(l => double.Parse(l, CultureInfo.InvariantCulture)).ToArray();

    [Fact]
    public void AConditionalModelTrainsScoresAndSamplesOnTheAccelerator()
    {
        const string flow = "realnvp"; // the conditional MADE is compared with the CPU in NormalizingFlows.Cuda.Tests
        using var s = new CliSandbox();
        string train = Data(s), test = Data(s, "test.csv", 64, 2);
        string[] run = ["train", train, .. Small, "--flow", flow, "--context", "c"];
        var (a, _) = TrainOnBothSides(s, run, test);
        // log p(x | c) of one model on the device as on the CPU
        var (code, _, err) = s.Run("logprob", s["cpu.nflow"], test, "-o", s["dev.csv"], "--device", "cpu-accelerator");
        Assert.True(code == 0, err);
        var d = Column(s["dev.csv"]);
        Assert.Equal(64, d.Length);
        for (int i = 0; i < a.Length; i++) Assert.True(Math.Abs(a[i] - d[i]) <= 1e-3 * (1 + Math.Abs(a[i])), $"row {i}: CPU {a[i]}, device {d[i]}");
        // n samples per context row, the context after the model's columns, as on the CPU
        (code, var output, err) = s.Run("sample", s["cpu.nflow"], "-n", "20", "--context", test, "-o", s["x.csv"], "--device", "cpu-accelerator", "--seed", "3");
        Assert.True(code == 0, err);
        var rows = File.ReadAllLines(s["x.csv"]);
        Assert.Equal("a,b,c", rows[0]);
        Assert.Equal(1 + 64 * 20, rows.Length);
        var contexts = File.ReadAllLines(test).Skip(1).Select(l => l.Split(',')[2]).ToArray();
        for (int r = 0; r < 64 * 20; r += 97) Assert.Equal(double.Parse(contexts[r / 20], CultureInfo.InvariantCulture), double.Parse(rows[1 + r].Split(',')[2], CultureInfo.InvariantCulture), 12);
        (code, output, err) = s.Run("sample", s["cpu.nflow"], "-n", "30", "--context", "c=0.5", "-o", s["y.csv"], "--device", "cpu-accelerator");
        Assert.True(code == 0, err);
        Assert.Equal(31, File.ReadAllLines(s["y.csv"]).Length);
        (code, output, err) = s.Run("logprob", s["cpu.nflow"], s["y.csv"]); // the device's conditional samples score finitely on the CPU
        Assert.True(code == 0, err);
        Assert.True(double.IsFinite(Mean(output)), output);
        (code, output, err) = s.Run("eval", s["cpu.nflow"], test, "-o", s["r.html"], "--device", "cpu-accelerator");
        Assert.True(code == 0, err);
        Assert.Contains("test log-likelihood", output);
        (code, _, err) = s.Run("sample", s["cpu.nflow"], "-n", "5", "-o", s["z.csv"], "--device", "cpu-accelerator");
        Assert.Equal(2, code);
        Assert.Contains("--context", err);
    }

    [Fact]
    public void AContextEmbeddingTrainsScoresAndSamplesOnTheAccelerator()
    {
        // train --embedding: the context standardised on the host, the embedding trained with the flow on the device
        using var s = new CliSandbox();
        string train = Data(s), test = Data(s, "test.csv", 32, 2);
        string[] run = ["train", train, .. Small, "--flow", "maf", "--context", "c", "--embedding", "mlp:3:8:1"];
        var (_, b) = TrainOnBothSides(s, run, test);
        // the device-trained model scored on the device (embedding there) as on the CPU
        var (code, _, err) = s.Run("logprob", s["dev.nflow"], test, "-o", s["dev.csv"], "--device", "cpu-accelerator");
        Assert.True(code == 0, err);
        var d = Column(s["dev.csv"]);
        for (int i = 0; i < b.Length; i++) Assert.True(Math.Abs(b[i] - d[i]) <= 1e-3 * (1 + Math.Abs(b[i])), $"row {i}: CPU {b[i]}, device {d[i]}");
        // samples drawn through the embedding on the device, scored there as the CPU scores them
        (code, _, err) = s.Run("sample", s["dev.nflow"], "-n", "3", "--context", test, "--with-logprob", "-o", s["x.csv"], "--device", "cpu-accelerator", "--seed", "3");
        Assert.True(code == 0, err);
        var x = NormalizingFlows.Data.Csv.Read(s["x.csv"]);
        Assert.Equal(96, x.Rows);
        var m = Models.ModelFile.Load<float>(s["dev.nflow"]);
        var events = new NormalizingFlows.Data.Table(["a", "b"], [.. Enumerable.Range(0, 96 * 2).Select(i => x[i / 2, i % 2])], 96);
        var context = new NormalizingFlows.Data.Table(["c"], [.. Enumerable.Range(0, 96).Select(r => x[r, 2])], 96);
        var cpu = Models.FlowModelTables.LogProb(m, events, context);
        for (int r = 0; r < 96; r++) Assert.True(Math.Abs(cpu[r] - x[r, 3]) <= 1e-3 * (1 + Math.Abs(cpu[r])), $"sample {r}: log p {x[r, 3]} on the device, {cpu[r]} on the CPU");
    }

    [Fact]
    public void WeightedEventsAndTheRefinementTrainOnTheAccelerator()
    {
        using var s = new CliSandbox();
        var rng = new Random(4);
        var text = new StringBuilder("a,b,w\n");
        for (int i = 0; i < 256; i++) text.AppendLine(string.Create(CultureInfo.InvariantCulture, $"{rng.NextDouble() + rng.NextDouble()},{rng.NextDouble() - 0.5},{0.2 + 1.6 * rng.NextDouble()}"));
        string train = s.Write("w.csv", text.ToString());
        string[] run = ["train", train, .. Small, "--flow", "maf", "--weights", "w"];
        var (code, cpu, err) = s.Run([.. run, "-o", s["cpu.nflow"]]);
        Assert.True(code == 0, err);
        (code, var dev, err) = s.Run([.. run, "-o", s["dev.nflow"], "--device", "cpu-accelerator"]);
        Assert.True(code == 0, err);
        double Validation(string output) => double.Parse(output.Split("validation log-likelihood:")[1].Trim().Split(' ')[0], CultureInfo.InvariantCulture);
        Assert.True(Math.Abs(Validation(cpu) - Validation(dev)) <= 1e-3 * (1 + Math.Abs(Validation(cpu))), $"weighted validation log-likelihood: CPU {Validation(cpu)}, device {Validation(dev)}");
        (code, dev, err) = s.Run(["train", train, .. Small, "--flow", "maf", "--refine-with-classifier", "1", "-o", s["ref.nflow"], "--device", "cpu-accelerator"]);
        Assert.True(code == 0, err);
        Assert.Contains("classifier AUC before refinement", dev);
    }

    [Fact]
    public void InferTrainsItsPosteriorOnTheAccelerator()
    {
        using var s = new CliSandbox();
        string[] run = ["infer", "train", "--simulator", "linear-gaussian", "-n", "400", "--flow", "maf", "--layers", "1", "--hidden", "8", "--epochs", "1", "--batch", "64"];
        var (code, cpu, err) = s.Run([.. run, "-o", s["cpu.nflow"]]);
        Assert.True(code == 0, err);
        (code, var dev, err) = s.Run([.. run, "-o", s["dev.nflow"], "--device", "cpu-accelerator"]);
        Assert.True(code == 0, err);
        double Validation(string output) => double.Parse(output.Split('\n').Last(l => l.Contains("validation")).Split(' ', StringSplitOptions.RemoveEmptyEntries)[^1], CultureInfo.InvariantCulture);
        Assert.True(Math.Abs(Validation(cpu) - Validation(dev)) <= 1e-3 * (1 + Math.Abs(Validation(cpu))), $"validation log-posterior: CPU {Validation(cpu)}, device {Validation(dev)}");

        // with a summary network, trained with the flow on the device: the same validation as the CPU run's, and the
        // saved model scores on the CPU as the device does (its x standardisation on the host, the rest on the device)
        foreach (var summary in new[] { new[] { "--summary", "mlp", "--summary-features", "4" }, ["--summary", "sum-pooling", "--element-features", "1", "--summary-features", "4"] })
        {
            string[] small = [.. run.Select(a => a == "400" ? "200" : a), .. summary]; // fewer pairs: the summary network costs more kernels
            (code, cpu, err) = s.Run([.. small, "-o", s["cpu-s.nflow"]]);
            Assert.True(code == 0, err);
            (code, dev, err) = s.Run([.. small, "-o", s["dev-s.nflow"], "--device", "cpu-accelerator"]);
            Assert.True(code == 0, err);
            Assert.True(Math.Abs(Validation(cpu) - Validation(dev)) <= 1e-3 * (1 + Math.Abs(Validation(cpu))), $"{summary[1]}: validation log-posterior: CPU {Validation(cpu)}, device {Validation(dev)}");
            var m = Hep.Inference.PosteriorEstimator<float>.Load(s["dev-s.nflow"]);
            var rng = new Tensors.Rng(3);
            var theta = rng.Normal<float>(12, 2);
            var x = rng.Normal<float>(12, 3);
            var onCpu = m.LogPosterior(theta, x);
            using var device = DeviceModel.Open("cpu-accelerator", m.Model)!;
            var context = summary[1] == "sum-pooling" ? Nn.Embeddings.SetEmbedding<float>.WithPresenceFlags(x, 1) : x;
            var onDevice = device.LogProb(theta, context);
            for (int i = 0; i < 12; i++)
                Assert.True(Math.Abs(onCpu[i] - onDevice[i]) <= 1e-4 * (1 + Math.Abs(onCpu[i])), $"{summary[1]} pair {i}: log p(θ | x) {onCpu[i]} on the CPU, {onDevice[i]} on the device");
        }
    }

    [Fact]
    public void CaloTrainsFlowOneAndTheTeacherOnTheAccelerator()
    {
        // one step per phase (the 504-voxel teacher is slow on the CPU accelerator): the same losses as the CPU run
        using var s = new CliSandbox();
        var (code, _, err) = s.Run("calo", "simulate", "-p", "gamma", "-n", "40", "-o", s["showers.npy"]);
        Assert.True(code == 0, err);
        string[] run = ["calo", "train", s["showers.npy"], "--flow1-layers", "1", "--flow1-hidden", "8", "--flow1-epochs", "1", "--layers", "1", "--hidden", "4", "--bins", "0", "--epochs", "1", "--batch", "64"];
        (code, var cpu, err) = s.Run([.. run, "-o", s["cpu.nflow"]]);
        Assert.True(code == 0, err);
        (code, var dev, err) = s.Run([.. run, "-o", s["dev.nflow"], "--device", "cpu-accelerator"]);
        Assert.True(code == 0, err);
        foreach (var phase in new[] { "flow I", "teacher" })
        {
            double Loss(string output) => double.Parse(output.Split($"{phase}: final loss ")[1].Split(' ')[0], CultureInfo.InvariantCulture);
            Assert.True(Math.Abs(Loss(cpu) - Loss(dev)) <= 1e-3 * (1 + Math.Abs(Loss(cpu))), $"{phase}: CPU loss {Loss(cpu)}, device {Loss(dev)}");
        }
        Assert.True(File.Exists(s["dev.nflow"]));
    }

    [Theory]
    [InlineData("--dtype|float64", "trains in float32")]
    public void OptionsTheDeviceCannotRunAreNamed(string extra, string message)
    {
        using var s = new CliSandbox();
        string[] flow = extra.StartsWith("--flow", StringComparison.Ordinal) ? [] : ["--flow", "realnvp"];
        var (code, _, err) = s.Run(["train", Data(s), .. Small, .. flow, "-o", s["m.nflow"], "--device", "cpu-accelerator", .. extra.Split('|')]);
        Assert.NotEqual(0, code);
        Assert.Contains(message, err);
        Assert.DoesNotContain(" at ", err);
    }

    [Fact]
    public void AFlowTheDeviceCannotRunIsNamedInOneLine()
    {
        // a model with a leaky-ReLU step (no device kernels): logprob --device names the transform in one line
        using var s = new CliSandbox();
        var flow = new NormalizingFlows.Flows.Flow<float>(new NormalizingFlows.Transforms.LeakyRelu<float>(3, 0.3), new NormalizingFlows.Distributions.StandardNormal<float>(3));
        NormalizingFlows.Models.ModelFile.Save(s["m.nflow"], NormalizingFlows.Models.FlowModel<float>.FromFlow(flow, columns: ["a", "b", "c"]));
        var (code, _, err) = s.Run("logprob", s["m.nflow"], Data(s, "test.csv", 16, 2), "-o", s["lp.csv"], "--device", "cpu-accelerator");
        Assert.NotEqual(0, code);
        Assert.Contains("the transform LeakyRelu is not supported", err);
        Assert.Single(err.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.DoesNotContain(" at ", err);
    }

    [Fact]
    public void DeviceLogProbKeepsTheCpuRulesForFarAndNanRows()
    {
        // FlowModel.LogProb: far rows (beyond FarOutside standard units, or infinite) are −∞, a NaN input throws naming
        // its row and column; the device path must say the same and score the ordinary rows as the CPU does
        using var s = new CliSandbox();
        var (code, _, err) = s.Run(["train", Data(s), .. Small, "--flow", "realnvp", "-o", s["m.nflow"]]);
        Assert.True(code == 0, err);
        var model = NormalizingFlows.Models.ModelFile.Load<float>(s["m.nflow"]);
        using var device = DeviceModel.Open("cpu-accelerator", model)!;
        float[] rows = [1, 1.5f, 0, /* far */ 1e30f, 1.5f, 0, 1, 2, -1, /* infinite */ 1, float.PositiveInfinity, 0, /* far the other way */ 1, 1.5f, -3e12f];
        var x = NormalizingFlows.Tensors.Tensor<float>.From(rows, 5, 3);
        var cpu = model.LogProb(x);
        var dev = device.LogProb(x, null);
        Assert.Equal(new[] { false, true, false, true, true }, cpu.Select(double.IsNegativeInfinity).ToArray());
        Assert.Equal(new[] { false, true, false, true, true }, dev.Select(double.IsNegativeInfinity).ToArray());
        foreach (int i in new[] { 0, 2 }) Assert.True(Math.Abs(cpu[i] - dev[i]) <= 1e-3 * (1 + Math.Abs(cpu[i])), $"row {i}: CPU {cpu[i]}, device {dev[i]}");
        rows[7] = float.NaN;
        var nan = NormalizingFlows.Tensors.Tensor<float>.From(rows, 5, 3);
        var cpuError = Assert.Throws<ArgumentException>(() => model.LogProb(nan));
        var devError = Assert.Throws<ArgumentException>(() => device.LogProb(nan, null));
        Assert.Equal(cpuError.Message, devError.Message);
    }

    [Fact]
    public void WeightDecayTrainsOnTheDeviceAsOnTheCpu()
    {
        // --weight-decay (AdamW) used to be refused on the device; now the two runs reach the same validation log-likelihood
        using var s = new CliSandbox();
        string train = Data(s);
        string[] run = ["train", train, .. Small, "--flow", "realnvp", "--weight-decay", "0.1"];
        var (code, cpu, err) = s.Run([.. run, "-o", s["cpu.nflow"]]);
        Assert.True(code == 0, err);
        (code, var dev, err) = s.Run([.. run, "-o", s["dev.nflow"], "--device", "cpu-accelerator"]);
        Assert.True(code == 0, err);
        static double Validation(string output) =>
            double.Parse(output.Split("validation log-likelihood: ")[1].Split(' ')[0], CultureInfo.InvariantCulture);
        var (a, b) = (Validation(cpu), Validation(dev));
        Assert.True(Math.Abs(a - b) <= 1e-3 * (1 + Math.Abs(a)), $"validation log-likelihood: CPU {a}, device {b}");
    }

    private static readonly string[] TinyIntegration =
        ["integrate", "-f", "gaussian", "-d", "2", "-m", "flow", "--calls", "256", "--iterations", "2", "--batch", "64", "--steps-per-round", "2", "--hidden", "4", "--bins", "4", "--lr", "0.05", "--seed", "1"];

    [Fact]
    public void IntegrateTrainsAndSamplesTheFlowOnTheAccelerator()
    {
        using var s = new CliSandbox();
        var (code, output, err) = s.Run([.. TinyIntegration, "--device", "cpu-accelerator"]);
        Assert.True(code == 0, err + output);
        Assert.Contains("gaussian (2-D) with flow:", output);
        Assert.Contains("integrand calls: 256 (128 training, 128 integration)", output);
        double pull = double.Parse(output.Split("pull (estimate − reference)/error:")[1].Trim().Split('\n')[0], CultureInfo.InvariantCulture);
        Assert.InRange(pull, -4, 4);
    }

    // the other --multichannel modes run on the device through the same verb (no CLI test of them: each run costs
    // ~10 s on the CPU accelerator; DeviceMultichannelTests checks the modes against the CPU)
    [Fact]
    public void IntegrateRunsTheFixedWeightMultichannelFlowOnTheAccelerator()
    {
        using var s = new CliSandbox();
        var (code, output, err) = s.Run(["integrate", "-f", "ee-qqg", "--multichannel", "fixed", "-m", "flow", "--calls", "256", "--iterations", "2", "--batch", "64",
            "--steps-per-round", "2", "--hidden", "4", "--bins", "4", "--lr", "0.05", "--seed", "1", "--device", "cpu-accelerator"]);
        Assert.True(code == 0, err + output);
        Assert.Contains("with the fixed multichannel flow", output);
        Assert.Contains("channel 0:", output);
        Assert.Contains("channel 1:", output);
    }

    [Theory]
    [InlineData("-m|vegas", "--device cpu-accelerator runs the flow integrator (--method flow)")]
    public void IntegrateRefusesWhatTheDeviceCannotRunInOneLine(string extra, string message)
    {
        using var s = new CliSandbox();
        var extras = extra.Split('|');
        // the tiny run's options, less those given here (and -d for a physics process)
        var args = new List<string>();
        for (int i = 0; i < TinyIntegration.Length; i++)
        {
            string o = TinyIntegration[i];
            if (o.StartsWith('-') && (extras.Contains(o) || o == "-d" && extras.Contains("ee-qqg"))) { i++; continue; }
            args.Add(o);
        }
        var (code, _, err) = s.Run([.. args, .. extras, "--device", "cpu-accelerator"]);
        Assert.NotEqual(0, code);
        var lines = err.Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(l => !l.StartsWith("Run 'nflow", StringComparison.Ordinal)).ToArray();
        Assert.Single(lines);
        Assert.StartsWith("nflow: error: " + message, lines[0]);
    }

    [Theory]
    [InlineData("calo|simulate", "calo simulate")]
    public void VerbsThatRunOnTheCpuOnlyRefuseADevice(string verb, string name)
    {
        using var s = new CliSandbox();
        var (code, _, err) = s.Run([.. verb.Split('|'), "--device", "cuda"]);
        Assert.Equal(2, code);
        Assert.Contains($"not supported on the device yet: {name}", err);
    }
}
