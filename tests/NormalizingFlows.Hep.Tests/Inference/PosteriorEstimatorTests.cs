using NormalizingFlows.Hep.Inference;
using NormalizingFlows.Tensors;
using NormalizingFlows.Training;
using Xunit.Abstractions;
using NormalizingFlows.IO;

namespace NormalizingFlows.Hep.Tests.Inference;

public class PosteriorEstimatorTests(ITestOutputHelper output)
{
    private static TrainingOptions Options(int epochs, long seed = 1) => new()
    {
        Epochs = epochs, BatchSize = 256, LearningRate = 3e-3, Seed = seed, ReportEverySteps = int.MaxValue,
    };

    /// <summary>One trained linear-Gaussian model shared by the tests that need it (training dominates their cost).</summary>
    private static readonly Lazy<(LinearGaussianSimulator Sim, PosteriorEstimator<float> Model)> LinearGaussian = new(() =>
    {
        var sim = LinearGaussianSimulator.Default();
        var model = PosteriorEstimator<float>.Create(sim.ParameterNames, sim.ObservationNames, "realnvp", layers: 4, hidden: 32, seed: 3);
        model.Fit(sim, 16_000, new Rng(11), Options(8));
        return (sim, model);
    });

    [Fact]
    public void LinearGaussianPosteriorMeanAndCovarianceMatchTheExactOnes()
    {
        var (sim, model) = LinearGaussian.Value;
        double[][] observations = [[0.0, 0.0, 0.0], [1.2, -0.8, 0.5], [-1.5, 1.0, -1.2]];
        const int k = 4000;
        var x = Tensor<float>.FromDoubles(observations.SelectMany(o => o).ToArray(), observations.Length, 3).Untrack();
        var post = model.SamplePosterior(x, k, new Rng(5)).ToDoubleArray();
        Assert.Equal(observations.Length * k * 2, post.Length);
        for (int o = 0; o < observations.Length; o++)
        {
            var (mean, cov) = sim.ExactPosterior(observations[o]);
            var (m, c) = Moments(post.AsSpan(o * k * 2, k * 2), 2);
            output.WriteLine($"x = [{string.Join(", ", observations[o])}]: mean {m[0]:F3} {m[1]:F3} (exact {mean[0]:F3} {mean[1]:F3}); " +
                $"cov {c[0, 0]:F4} {c[0, 1]:F4} {c[1, 1]:F4} (exact {cov[0, 0]:F4} {cov[0, 1]:F4} {cov[1, 1]:F4})");
            for (int i = 0; i < 2; i++)
            {
                double sd = Math.Sqrt(cov[i, i]);
                // the mean within a quarter of the posterior width; Monte Carlo error alone is sd/√4000 ≈ 0.016 sd
                Assert.True(Math.Abs(m[i] - mean[i]) < 0.25 * sd, $"observation {o}, θ{i}: mean {m[i]} vs exact {mean[i]} (sd {sd})");
                Assert.InRange(c[i, i] / cov[i, i], 0.75, 1.3);
            }
            double rho = c[0, 1] / Math.Sqrt(c[0, 0] * c[1, 1]), rhoExact = cov[0, 1] / Math.Sqrt(cov[0, 0] * cov[1, 1]);
            Assert.True(Math.Abs(rho - rhoExact) < 0.12, $"observation {o}: correlation {rho} vs exact {rhoExact}");
        }
        // LogPosterior against the exact Gaussian density at posterior samples of the first observation
        var theta = Tensor<float>.FromDoubles(post.AsSpan(0, 200 * 2), 200, 2).Untrack();
        var xs = Tensor<float>.FromDoubles(Enumerable.Range(0, 200).SelectMany(_ => observations[0]).ToArray(), 200, 3).Untrack();
        var lp = model.LogPosterior(theta, xs);
        var (mu, s) = sim.ExactPosterior(observations[0]);
        double diff = 0;
        for (int i = 0; i < 200; i++) diff += Math.Abs(lp[i] - GaussianLogDensity(post.AsSpan(2 * i, 2), mu, s));
        output.WriteLine($"mean |log p_flow − log p_exact| at posterior samples: {diff / 200:F3}");
        Assert.True(diff / 200 < 0.25, $"log posterior differs from the exact one by {diff / 200} on average");
    }

    [Fact]
    public void SbcRanksAreUniformForATrainedModel()
    {
        var (sim, model) = LinearGaussian.Value;
        var result = PosteriorCalibration.Run(model, sim, observations: 1000, samples: 99, new Rng(21), bins: 10);
        foreach (var r in result.Ranks) output.WriteLine($"{r.Name}: χ² {r.ChiSquare:F1} / {r.DegreesOfFreedom}, p = {r.PValue:F3}; counts {string.Join(" ", r.Counts)}");
        foreach (var p in result.Parameters) output.WriteLine($"{p.Name}: coverage {string.Join(" ", p.Coverage.Select(c => c.ToString("F3")))}, pull {p.PullMean:F3} ± {p.PullStd:F3}");
        Assert.All(result.Ranks, r => Assert.True(r.PValue > 0.01, $"{r.Name}: SBC χ² p-value {r.PValue}"));
        // 68 % intervals cover 68 % ± 4 % (binomial σ for 1000 observations is 1.5 %)
        Assert.All(result.Parameters, p => Assert.InRange(p.Coverage[1], 0.64, 0.72));
    }

    [Fact]
    public void SbcDetectsAnOverconfidentPosterior()
    {
        // exact posterior samples with the width shrunk by 2: the χ² test must reject and coverage must drop
        var sim = LinearGaussianSimulator.Default();
        var rng = new Rng(4);
        const int n = 500, l = 49;
        var (theta, x) = sim.Sample(n, rng);
        double[] Samples(double widthScale)
        {
            var s = new double[n * l * 2];
            for (int i = 0; i < n; i++)
            {
                var (m, c) = sim.ExactPosterior(x.AsSpan(3 * i, 3));
                double l00 = Math.Sqrt(c[0, 0]), l10 = c[1, 0] / l00, l11 = Math.Sqrt(c[1, 1] - l10 * l10);
                for (int j = 0; j < l; j++)
                {
                    double z0 = rng.NextNormal(), z1 = rng.NextNormal();
                    s[(i * l + j) * 2] = m[0] + widthScale * l00 * z0;
                    s[(i * l + j) * 2 + 1] = m[1] + widthScale * (l10 * z0 + l11 * z1);
                }
            }
            return s;
        }
        var good = PosteriorCalibration.Evaluate(sim.ParameterNames, theta, Samples(1.0), n, l, bins: 10);
        var bad = PosteriorCalibration.Evaluate(sim.ParameterNames, theta, Samples(0.5), n, l, bins: 10);
        output.WriteLine($"exact: p = {good.MinPValue:F3}, 68% coverage {good.Parameters[0].Coverage[1]:F3}; half-width: p = {bad.MinPValue:G3}, coverage {bad.Parameters[0].Coverage[1]:F3}");
        Assert.True(good.MinPValue > 0.001);
        Assert.True(bad.MinPValue < 1e-6);
        Assert.InRange(bad.Parameters[0].Coverage[1], 0.25, 0.5);
        Assert.InRange(good.Parameters[0].Coverage[1], 0.6, 0.76);
        Assert.InRange(bad.Parameters[0].PullStd, 1.6, 2.4);
    }

    [Fact]
    public void BimodalPosteriorKeepsBothModes()
    {
        var sim = new BimodalSimulator();
        var model = PosteriorEstimator<float>.Create(sim.ParameterNames, sim.ObservationNames, "nsf", layers: 4, hidden: 32, bins: 8, bound: 4, seed: 2);
        model.Fit(sim, 20_000, new Rng(7), Options(8, seed: 2));
        double[] x0s = [1.0, 2.25];
        const int k = 4000;
        var x = Tensor<float>.FromDoubles(x0s.SelectMany(v => new[] { v, 0.3 }).ToArray(), x0s.Length, 2).Untrack();
        var post = model.SamplePosterior(x, k, new Rng(9)).ToDoubleArray();
        for (int o = 0; o < x0s.Length; o++)
        {
            double mode = Math.Sqrt(x0s[o]);
            int pos = 0, neg = 0, middle = 0;
            double sumPos = 0, sumNeg = 0;
            for (int s = 0; s < k; s++)
            {
                double t = post[(o * k + s) * 2];
                if (Math.Abs(t) < 0.4 * mode) middle++;
                else if (t > 0) { pos++; sumPos += t; }
                else { neg++; sumNeg += t; }
            }
            // the exact posterior's mass in |θ₀| < 0.4·√x₀ (on a fine grid)
            var grid = Enumerable.Range(0, 4001).Select(i => -4 + 8.0 * i / 4000).ToArray();
            var p = sim.ExactPosteriorTheta0(x0s[o], grid);
            double exactMiddle = 0;
            for (int i = 1; i < grid.Length; i++)
                if (Math.Abs(grid[i]) < 0.4 * mode) exactMiddle += 0.5 * (p[i] + p[i - 1]) * (grid[i] - grid[i - 1]);
            output.WriteLine($"x0 = {x0s[o]}: θ₀ > 0: {pos}, < 0: {neg}, middle {middle} (exact middle mass {exactMiddle:F4}); mode means {sumPos / Math.Max(1, pos):F3} / {sumNeg / Math.Max(1, neg):F3} (±{mode:F3})");
            Assert.InRange((double)pos / (pos + neg), 0.35, 0.65);
            Assert.True((double)middle / k < exactMiddle + 0.08, $"{middle} of {k} samples between the modes (exact mass {exactMiddle})");
            Assert.True(Math.Abs(sumPos / pos - mode) < 0.2 * mode && Math.Abs(sumNeg / neg + mode) < 0.2 * mode);
        }
    }

    [Fact]
    public void SaveAndLoadRoundTripTheModel()
    {
        var (sim, model) = LinearGaussian.Value;
        string path = Path.Combine(Path.GetTempPath(), $"posterior-{Guid.NewGuid():N}.nflow");
        try
        {
            model.Metadata["simulator"] = "linear-gaussian";
            model.Save(path);
            var loaded = PosteriorEstimator<float>.Load(path);
            Assert.Equal(model.Spec.ParameterNames, loaded.Spec.ParameterNames);
            Assert.Equal("linear-gaussian", loaded.Metadata["simulator"]);
            var (theta, x) = sim.Sample(50, new Rng(3));
            var tt = Tensor<float>.FromDoubles(theta, 50, 2).Untrack();
            var xt = Tensor<float>.FromDoubles(x, 50, 3).Untrack();
            Assert.Equal(model.LogPosterior(tt, xt), loaded.LogPosterior(tt, xt));
            Assert.Equal(model.SamplePosterior(xt, 3, new Rng(1)).ToArray(), loaded.SamplePosterior(xt, 3, new Rng(1)).ToArray());
            Assert.Equal(model.History!.Epochs, loaded.History!.Epochs);
            Assert.Equal(model.History.Outcome, loaded.History.Outcome);
            Assert.Equal(model.History.BestEpoch, loaded.History.BestEpoch);
            Assert.Equal(model.History.Steps, loaded.History.Steps);

            File.WriteAllBytes(path, File.ReadAllBytes(path).AsSpan(0, 100).ToArray());
            var ex = Assert.Throws<NormalizingFlows.IO.ModelFileException>(() => PosteriorEstimator<float>.Load(path));
            Assert.Contains(path, ex.Message);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void SumPoolingSummaryIsPermutationInvariantAndIgnoresAbsentElements()
    {
        var names = new[] { "a", "b" };
        var obs = Enumerable.Range(0, 3).SelectMany(e => new[] { $"e{e}x", $"e{e}y" }).ToArray();
        // MAF starts with random conditioner outputs, so the context matters before any training
        var model = PosteriorEstimator<double>.Create(names, obs, "maf", layers: 2, hidden: 16,
            summary: new SummarySpec { Kind = SummaryKind.SumPooling, ElementFeatures = 2, Features = 4, Hidden = 16, Layers = 1 }, seed: 1);
        var rng = new Rng(2);
        var theta = Tensor<double>.From(rng.Normal<double>(4, 2).ReadOnlySpan, 4, 2).Untrack();
        double n = double.NaN;
        var x = Tensor<double>.From(new double[]
        {
            1, 2, 3, 4, 5, 6,
            5, 6, 1, 2, 3, 4, // a permutation of row 0
            1, 2, 3, 4, n, n, // two elements
            n, n, 3, 4, 1, 2, // the same two elements, one slot empty
        }, 4, 6).Untrack();
        var lp = model.LogPosterior(Tensor<double>.From([.. theta.Row(0), .. theta.Row(0), .. theta.Row(0), .. theta.Row(0)], 4, 2).Untrack(), x);
        Assert.Equal(lp[0], lp[1], 10);
        Assert.Equal(lp[2], lp[3], 10);
        Assert.NotEqual(lp[0], lp[2], 6);
        var partial = Tensor<double>.From(new double[] { 1, 2, 3, n, 5, 6 }, 1, 6).Untrack();
        var ex = Assert.Throws<ArgumentException>(() => model.LogPosterior(theta.CopyRows(0, 1).Untrack(), partial));
        Assert.Contains("element 1", ex.Message);
    }

    [Fact]
    public void MlpSummaryIsTrainedJointlyAndSavedWithTheModel()
    {
        var sim = LinearGaussianSimulator.Default();
        var model = PosteriorEstimator<float>.Create(sim.ParameterNames, sim.ObservationNames, "maf", layers: 2, hidden: 16,
            summary: new SummarySpec { Kind = SummaryKind.Mlp, Features = 4, Hidden = 16, Layers = 1 }, seed: 4);
        var summaryParams = model.NamedParameters().Where(p => p.Key.Contains(".summary.")).ToList();
        Assert.NotEmpty(summaryParams);
        var before = summaryParams.Select(p => p.Value.Value.ToArray()).ToList();
        var history = model.Fit(sim, 3000, new Rng(1), Options(2));
        Assert.True(history.Epochs[^1].TrainLoss < history.Epochs[0].TrainLoss, "the loss decreases");
        for (int i = 0; i < summaryParams.Count; i++)
            Assert.NotEqual(before[i], summaryParams[i].Value.Value.ToArray()); // the summary network received gradients

        string path = Path.Combine(Path.GetTempPath(), $"posterior-mlp-{Guid.NewGuid():N}.nflow");
        try
        {
            model.Save(path);
            var loaded = PosteriorEstimator<float>.Load(path);
            Assert.Equal(SummaryKind.Mlp, loaded.Spec.Summary.Kind);
            var (theta, x) = sim.Sample(20, new Rng(3));
            var tt = Tensor<float>.FromDoubles(theta, 20, 2).Untrack();
            var xt = Tensor<float>.FromDoubles(x, 20, 3).Untrack();
            Assert.Equal(model.LogPosterior(tt, xt), loaded.LogPosterior(tt, xt));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void BadInputsGiveClearErrors()
    {
        var sim = LinearGaussianSimulator.Default();
        var model = PosteriorEstimator<float>.Create(sim.ParameterNames, sim.ObservationNames, "realnvp", layers: 2, hidden: 8);
        var x = Tensor<float>.FromDoubles(new double[] { 1, 2 }, 1, 2).Untrack();
        Assert.Contains("[N, 3]", Assert.Throws<ArgumentException>(() => model.SamplePosterior(x, 10, new Rng(1))).Message);
        var bad = Tensor<float>.FromDoubles(new double[] { 1, double.PositiveInfinity, 3 }, 1, 3).Untrack();
        Assert.Contains("row 0, column 1", Assert.Throws<ArgumentException>(() => model.SamplePosterior(bad, 10, new Rng(1))).Message);
        Assert.Throws<ArgumentException>(() => model.CheckSimulator(new BimodalSimulator()));
    }

    private static (double[] Mean, double[,] Cov) Moments(ReadOnlySpan<double> rows, int d)
    {
        int n = rows.Length / d;
        var m = new double[d];
        for (int i = 0; i < n; i++) for (int j = 0; j < d; j++) m[j] += rows[i * d + j] / n;
        var c = new double[d, d];
        for (int i = 0; i < n; i++)
            for (int a = 0; a < d; a++)
                for (int b = 0; b < d; b++) c[a, b] += (rows[i * d + a] - m[a]) * (rows[i * d + b] - m[b]) / (n - 1);
        return (m, c);
    }

    private static double GaussianLogDensity(ReadOnlySpan<double> v, double[] mean, double[,] cov)
    {
        double det = cov[0, 0] * cov[1, 1] - cov[0, 1] * cov[1, 0];
        double a = v[0] - mean[0], b = v[1] - mean[1];
        double q = (cov[1, 1] * a * a - 2 * cov[0, 1] * a * b + cov[0, 0] * b * b) / det;
        return -0.5 * q - Math.Log(2 * Math.PI) - 0.5 * Math.Log(det);
    }
}
