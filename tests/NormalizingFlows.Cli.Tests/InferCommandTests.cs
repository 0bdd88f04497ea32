using NormalizingFlows.Data;
using NormalizingFlows.Hep.Inference;

namespace NormalizingFlows.Cli.Tests;

public class InferCommandTests
{
    private static readonly string[] Small = ["--flow", "realnvp", "--layers", "2", "--hidden", "16", "--epochs", "2", "--batch", "256"];

    [Fact]
    public void TrainSampleAndCalibrateALinearGaussianPosterior()
    {
        using var s = new CliSandbox();
        var (code, output, err) = s.Run(["infer", "train", "--simulator", "linear-gaussian", "-n", "4000", .. Small, "-o", s["lg.nflow"]]);
        Assert.True(code == 0, err + output);
        Assert.Contains("epoch   2", output);
        var model = PosteriorEstimator<float>.Load(s["lg.nflow"]);
        Assert.Equal(["theta0", "theta1"], model.Spec.ParameterNames);
        Assert.Equal("linear-gaussian", model.Metadata["simulator"]);

        // observations with an extra column and the model's columns out of order
        s.Write("obs.csv", "id,x2,x1,x0\n7,0,0,0\n8,0.5,-0.8,1.2\n9,-1.2,1.0,-1.5\n");
        (code, output, err) = s.Run("infer", "sample", s["lg.nflow"], "--observations", s["obs.csv"], "-n", "50", "-o", s["post.csv"], "--seed", "2");
        Assert.True(code == 0, err + output);
        var post = Csv.Read(s["post.csv"]);
        Assert.Equal(["observation", "theta0", "theta1"], post.Columns);
        Assert.Equal(150, post.Rows);
        Assert.Equal(0, post[0, 0]);
        Assert.Equal(2, post[149, 0]);
        Assert.All(post.Values, v => Assert.True(double.IsFinite(v)));

        (code, output, err) = s.Run("infer", "calibrate", s["lg.nflow"], "--observations", "200", "--samples", "49", "--bins", "10", "-o", s["cal.html"]);
        Assert.True(code == 0, err + output);
        Assert.Contains("χ²", output);
        string html = File.ReadAllText(s["cal.html"]);
        Assert.Contains("Simulation-based calibration", html);
        Assert.Contains("<svg", html);
    }

    [Fact]
    public void TrainsFromAFileAndCalibratesOnHeldOutPairs()
    {
        using var s = new CliSandbox();
        var sim = new BimodalSimulator();
        var (theta, x) = sim.Sample(3000, new NormalizingFlows.Tensors.Rng(1));
        var values = new double[3000 * 4];
        for (int i = 0; i < 3000; i++)
        {
            values[4 * i] = x[2 * i]; values[4 * i + 1] = theta[2 * i]; values[4 * i + 2] = x[2 * i + 1]; values[4 * i + 3] = theta[2 * i + 1];
        }
        Csv.Write(s["pairs.csv"], new Table(["x0", "theta0", "x1", "theta1"], values, 3000));
        var (code, output, err) = s.Run(["infer", "train", "--simulator", s["pairs.csv"], "--parameters", "theta0,theta1", .. Small, "-o", s["file.nflow"]]);
        Assert.True(code == 0, err + output);
        Assert.Equal(["x0", "x1"], PosteriorEstimator<float>.Load(s["file.nflow"]).Spec.ObservationNames);

        (code, _, err) = s.Run("infer", "calibrate", s["file.nflow"], "-o", s["cal.html"]);
        Assert.Equal(2, code);
        Assert.Contains("--simulator FILE", err);
        (code, output, err) = s.Run("infer", "calibrate", s["file.nflow"], "--simulator", s["pairs.csv"], "--observations", "100", "--samples", "19", "--bins", "5", "-o", s["cal.html"]);
        Assert.True(code == 0, err + output);
        Assert.True(File.Exists(s["cal.html"]));
    }

    [Fact]
    public void ErrorsNameTheProblem()
    {
        using var s = new CliSandbox();
        var (code, _, err) = s.Run("infer", "train", "--simulator", "nonexistent", "-o", s["m.nflow"]);
        Assert.Equal(1, code);
        Assert.Contains("neither a built-in simulator", err);

        s.Write("pairs.csv", "a,b,c\n1,2,3\n4,5,6\n");
        (code, _, err) = s.Run("infer", "train", "--simulator", s["pairs.csv"], "-o", s["m.nflow"]);
        Assert.Equal(2, code);
        Assert.Contains("--parameters", err);
        (code, _, err) = s.Run("infer", "train", "--simulator", s["pairs.csv"], "--parameters", "z", "-o", s["m.nflow"]);
        Assert.Equal(1, code);
        Assert.Contains("no column 'z'", err);

        s.Write("not-a-model.nflow", "hello");
        (code, _, err) = s.Run("infer", "sample", s["not-a-model.nflow"], "--observations", s["pairs.csv"], "-o", s["p.npy"]);
        Assert.Equal(1, code);
        Assert.Contains("not-a-model.nflow", err);
    }
}
