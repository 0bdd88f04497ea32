using NormalizingFlows.Autograd;
using NormalizingFlows.Data;
using NormalizingFlows.Flows;
using NormalizingFlows.Tensors;
using NormalizingFlows.Training;

namespace NormalizingFlows.Tests.Flows;

/// <summary>A flow trained on 2-D data must still be a normalised density: its grid integral is 1 within 1%.</summary>
public class TrainedDensityNormalizationTests
{
    public static TheoryData<string> Builders => new() { "nsf", "realnvp", "maf", "maf_rqs" };

    private static Flow<double> Build(string name, Rng rng) => name switch
    {
        "nsf" => FlowBuilders.NeuralSplineFlow<double>(2, layers: 3, hidden: 32, bins: 6, bound: 4, rng: rng),
        "realnvp" => FlowBuilders.RealNvp<double>(2, layers: 4, hidden: 32, rng: rng),
        "maf" => FlowBuilders.Maf<double>(2, layers: 3, hidden: 32, rng: rng),
        _ => FlowBuilders.MafRqs<double>(2, layers: 2, hidden: 32, bins: 6, bound: 4, rng: rng),
    };

    [Theory]
    [MemberData(nameof(Builders))]
    public void TrainedFlowIntegratesToOne(string name)
    {
        var data = ToyDatasets.Generate("moons", 4000, seed: 5).ToTensor<double>();
        var flow = Build(name, new Rng(3));
        var history = new MaximumLikelihoodTrainer<double>(flow, new TrainingOptions { Steps = 300, BatchSize = 256, LearningRate = 3e-3 })
            .Fit(new TrainingData<double>(data));
        Assert.True(-history.Epochs[^1].TrainLoss > -1.8, $"{name} did not learn (train log-lik {-history.Epochs[^1].TrainLoss})");

        // midpoint rule on [−6, 7] × [−6, 6]: the moons sit in [−1.5, 2.5] × [−1, 1.5], and the tails decay like a Gaussian
        flow.Eval();
        double integral = GridIntegral(flow, 500, -6, 7, -6, 6);
        Assert.True(Math.Abs(integral - 1) < 0.01, $"{name}: ∫p = {integral}");
    }

    /// <summary>∫p over [x0, x1] × [y0, y1] by the midpoint rule on an n × n grid (one batch, without gradients).</summary>
    internal static double GridIntegral(Flow<double> flow, int n, double x0, double x1, double y0, double y1)
    {
        double hx = (x1 - x0) / n, hy = (y1 - y0) / n;
        var grid = Tensor<double>.Empty(n * n, 2);
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++)
            {
                grid[i * n + j, 0] = x0 + (i + 0.5) * hx;
                grid[i * n + j, 1] = y0 + (j + 0.5) * hy;
            }
        double integral = 0;
        using (GradMode.Disable())
        {
            var lp = flow.LogProb(new Var<double>(grid)).Value;
            for (int k = 0; k < lp.Length; k++) integral += Math.Exp(lp[k]) * hx * hy;
        }
        return integral;
    }
}
