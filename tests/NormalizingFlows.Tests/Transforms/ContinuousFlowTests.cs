using NormalizingFlows.Autograd;
using NormalizingFlows.Data;
using NormalizingFlows.Distributions;
using NormalizingFlows.Flows;
using NormalizingFlows.Models;
using NormalizingFlows.Nn;
using NormalizingFlows.Tensors;
using NormalizingFlows.Training;
using NormalizingFlows.Transforms;
using NormalizingFlows.Transforms.Continuous;

namespace NormalizingFlows.Tests.Transforms;

/// <summary>
/// The continuous flow beyond the transform matrix: the solvers against a closed-form ODE, Hutchinson's estimator
/// against the exact trace, the max-steps error, the flow-matching loss's gradients, a flow-matching fit of a
/// Gaussian whose exact density it then reproduces, a trained 2-D density that integrates to 1, and the registry.
/// </summary>
public class ContinuousFlowTests(Xunit.Abstractions.ITestOutputHelper output)
{
    // dx/dt = (1 + t)·A·x, d ℓ/dt = (1 + t)·tr A: x(t) = exp((t + t²/2)·A)·x(0), ℓ(t) = (t + t²/2)·tr A
    private static readonly double[,] A = { { -0.3, 1.2 }, { -0.8, 0.5 } };

    private static Var<double>[] Linear(double t, Var<double>[] y)
    {
        int n = y[0].Value.Dim(0);
        var x = y[0].Value; var v = Tensor<double>.Empty(n, 2); var l = Tensor<double>.Empty(n);
        for (int r = 0; r < n; r++)
        {
            for (int i = 0; i < 2; i++) v[r, i] = (1 + t) * (A[i, 0] * x[r, 0] + A[i, 1] * x[r, 1]);
            l[r] = (1 + t) * (A[0, 0] + A[1, 1]);
        }
        return [new Var<double>(v), new Var<double>(l)];
    }

    private static double[] Exact(double s, double x0, double x1)
    {
        // exp(s·A)·x by its Taylor series (‖s·A‖ < 3: 60 terms are exact to rounding)
        double[] term = [x0, x1], sum = [x0, x1];
        for (int k = 1; k < 60; k++)
        {
            term = [s / k * (A[0, 0] * term[0] + A[0, 1] * term[1]), s / k * (A[1, 0] * term[0] + A[1, 1] * term[1])];
            sum[0] += term[0]; sum[1] += term[1];
        }
        return sum;
    }

    [Theory]
    [InlineData(OdeSolver.DormandPrince, 1e-8)]
    [InlineData(OdeSolver.RungeKutta4, 1e-6)]
    public void SolversMatchTheClosedFormOfALinearOde(OdeSolver solver, double tolerance)
    {
        var x = Tensor<double>.FromDoubles([1.0, 0.5, -2.0, 3.0, 0.0, 0.1], 3, 2);
        var options = new ContinuousFlowOptions { Solver = solver, RelativeTolerance = 1e-11, AbsoluteTolerance = 1e-11, Steps = 64 };
        foreach (var (t0, t1) in new[] { (0.0, 1.0), (1.0, 0.0) })
        {
            var end = OdeIntegrator.Solve<double>(Linear, [new Var<double>(x), new Var<double>(Tensor<double>.Zeros(3))], t0, t1, options);
            double s = (t1 + t1 * t1 / 2) - (t0 + t0 * t0 / 2);
            for (int r = 0; r < 3; r++)
            {
                var expected = Exact(s, x[r, 0], x[r, 1]);
                for (int i = 0; i < 2; i++)
                    Assert.True(Math.Abs(end[0].Value[r, i] - expected[i]) < tolerance, $"{solver} {t0}→{t1}: x[{r}, {i}] = {end[0].Value[r, i]}, exact {expected[i]}");
                Assert.Equal(s * (A[0, 0] + A[1, 1]), end[1].Value[r], 1e-9);
            }
        }
    }

    [Fact]
    public void DormandPrinceAndRk4AgreeOnANetworkField()
    {
        var field = new VectorField<double>(3, hidden: 8, layers: 2, new Rng(4));
        Perturb(field, 5, 0.5);
        var x = new Var<double>(new Rng(6).Normal<double>(5, 3));
        var dopri = new ContinuousTransform<double>(field, new ContinuousFlowOptions { RelativeTolerance = 1e-10, AbsoluteTolerance = 1e-10 }).Forward(x);
        var rk4 = new ContinuousTransform<double>(field, new ContinuousFlowOptions { Solver = OdeSolver.RungeKutta4, Steps = 200 }).Forward(x);
        for (int i = 0; i < 15; i++) Assert.Equal(dopri.Y.Value[i], rk4.Y.Value[i], 1e-7);
        for (int r = 0; r < 5; r++) Assert.Equal(dopri.LogAbsDet.Value[r], rk4.LogAbsDet.Value[r], 1e-7);
    }

    [Fact]
    public void ExactTraceIsTheSumOfUnitProbesForEveryBatchSizeAcrossScopes()
    {
        // the exact trace reuses one identity-probe tensor across calls: larger, smaller and larger batches again, each
        // in its own scope, must each give Σ_j e_jᵀ(∂v/∂x)e_j (the same network with one unit probe at a time)
        var field = new VectorField<double>(3, hidden: 8, layers: 2, new Rng(4), contextFeatures: 1);
        Perturb(field, 5, 0.5);
        using var _ = GradMode.Disable();
        foreach (int n in new[] { 6, 2, 9, 6 })
        {
            using var scope = TensorScope.Begin();
            var rng = new Rng(n);
            var x = new Var<double>(rng.Normal<double>(n, 3));
            var c = new Var<double>(rng.Normal<double>(n, 1));
            var time = rng.Uniform<double>([n]);
            var exact = field.EvaluateWithDivergence(x, time, c).Divergence.Value.ToArray();
            var sum = new double[n];
            for (int j = 0; j < 3; j++)
            {
                var unit = Tensor<double>.Zeros(n, 3);
                for (int r = 0; r < n; r++) unit[r, j] = 1;
                var part = field.EvaluateWithDivergence(x, time, c, unit).Divergence.Value.ToArray();
                for (int r = 0; r < n; r++) sum[r] += part[r];
            }
            for (int r = 0; r < n; r++) Assert.Equal(sum[r], exact[r], 12);
        }
    }

    [Fact]
    public void HutchinsonEstimateIsUnbiased()
    {
        var field = new VectorField<double>(4, hidden: 8, layers: 2, new Rng(7), contextFeatures: 1);
        Perturb(field, 8, 0.5);
        const int probes = 20_000;
        var point = new Rng(9).Normal<double>(1, 4);
        var x = Tensor<double>.Empty(probes, 4); var c = Tensor<double>.Full(0.3, probes, 1);
        for (int r = 0; r < probes; r++) for (int j = 0; j < 4; j++) x[r, j] = point[0, j];
        var time = Tensor<double>.Full(0.4, probes);
        var rng = new Rng(10);
        var eps = Tensor<double>.Empty(probes, 4);
        for (int i = 0; i < eps.Length; i++) eps[i] = rng.NextDouble() < 0.5 ? -1 : 1;
        using var _ = GradMode.Disable();
        double exact = field.EvaluateWithDivergence(new Var<double>(x.CopyRows(0, 1)), time.Reshape(probes).CopyRows(0, 1), new Var<double>(c.CopyRows(0, 1))).Divergence.Value[0];
        var est = field.EvaluateWithDivergence(new Var<double>(x), time, new Var<double>(c), eps).Divergence.Value.ToArray();
        double mean = est.Average(), sd = Math.Sqrt(est.Select(e => (e - mean) * (e - mean)).Sum() / (probes - 1));
        Assert.True(sd > 1e-3, "the probes should scatter the estimate (the field's Jacobian is not diagonal)");
        Assert.True(Math.Abs(mean - exact) < 4 * sd / Math.Sqrt(probes), $"Hutchinson mean {mean} ± {sd / Math.Sqrt(probes)}, exact trace {exact}");

        // and a whole solve with Hutchinson probes averages to the exact log-determinant
        var cnf = new ContinuousTransform<double>(field, new ContinuousFlowOptions { Trace = TraceEstimator.Hutchinson, ProbeSeed = 3, RelativeTolerance = 1e-8, AbsoluteTolerance = 1e-8 });
        var exactCnf = new ContinuousTransform<double>(field, new ContinuousFlowOptions { RelativeTolerance = 1e-8, AbsoluteTolerance = 1e-8 });
        var rows = new Var<double>(x.CopyRows(0, 2000)); var ctx = new Var<double>(c.CopyRows(0, 2000));
        var ld = cnf.Forward(rows, ctx).LogAbsDet.Value.ToArray();
        double ldExact = exactCnf.Forward(new Var<double>(x.CopyRows(0, 1)), new Var<double>(c.CopyRows(0, 1))).LogAbsDet.Value[0];
        double m = ld.Average(), s = Math.Sqrt(ld.Select(e => (e - m) * (e - m)).Sum() / (ld.Length - 1));
        Assert.True(Math.Abs(m - ldExact) < 4 * s / Math.Sqrt(ld.Length), $"Hutchinson log|det| {m} ± {s / Math.Sqrt(ld.Length)}, exact {ldExact}");
    }

    [Fact]
    public void TooManyStepsNameTheOptions()
    {
        var field = new VectorField<double>(2, hidden: 8, layers: 1, new Rng(1));
        Perturb(field, 2, 1.0);
        var cnf = new ContinuousTransform<double>(field, new ContinuousFlowOptions { RelativeTolerance = 1e-12, AbsoluteTolerance = 1e-12, MaxSteps = 3 });
        var ex = Assert.Throws<InvalidOperationException>(() => cnf.Forward(new Var<double>(new Rng(2).Normal<double>(4, 2))));
        Assert.Contains("MaxSteps = 3", ex.Message);
        Assert.Contains("RelativeTolerance", ex.Message);
        Assert.Contains("AbsoluteTolerance", ex.Message);
        Assert.Contains("RelativeTolerance", Assert.Throws<ArgumentException>(() => new ContinuousFlowOptions { RelativeTolerance = 0 }.Validate()).Message);
    }

    [Fact]
    public void FlowMatchingLossGradientsMatchFiniteDifferences()
    {
        var flow = FlowBuilders.ContinuousFlow<double>(2, layers: 2, hidden: 5, contextFeatures: 1, rng: new Rng(3));
        foreach (var p in flow.Parameters()) Perturb(p.Value, 4, 0.3);
        var loss = new FlowMatchingLoss<double>(flow, sigmaMin: 0.1);
        var x = new Rng(5).Normal<double>(6, 2); var c = new Rng(6).Normal<double>(6, 1);
        var w = Tensor<double>.FromDoubles([1.0, 0.5, 2.0, -0.3, 1.0, 1.0], 6);
        loss.Prepare(new TrainingData<double>(x, c, w), null);
        var leaves = flow.Parameters().Cast<Var<double>>().ToList();
        var r = GradCheck.Check(() => loss.Compute(new TrainingBatch<double>(7, 11, x, c, w, default))!, leaves, eps: 1e-6, atol: 1e-7, rtol: 1e-5);
        Assert.True(r.Passed, r.ToString());
    }

    [Fact]
    public void SamplingSolvesWithoutTheTrace()
    {
        // sampling needs x only: the ODE is solved without the D tangents of the exact trace (or a probe)
        var z = new Rng(3).Normal<double>(64, 3);
        var rk4 = new ContinuousTransform<double>(Perturbed(new VectorField<double>(3, hidden: 8, layers: 2, new Rng(4)), 5), new ContinuousFlowOptions { Solver = OdeSolver.RungeKutta4, Steps = 12 });
        Assert.Equal(rk4.Inverse(new Var<double>(z)).X.Value.ToArray(), rk4.InverseWithoutLogDet(new Var<double>(z)).Value.ToArray()); // same steps: the same x
        var dopri = new ContinuousTransform<double>(Perturbed(new VectorField<double>(3, hidden: 8, layers: 2, new Rng(4)), 5), new ContinuousFlowOptions { RelativeTolerance = 1e-9, AbsoluteTolerance = 1e-9 });
        var a = dopri.Inverse(new Var<double>(z)).X.Value.ToArray(); var b = dopri.InverseWithoutLogDet(new Var<double>(z)).Value.ToArray();
        for (int i = 0; i < a.Length; i++) Assert.True(Math.Abs(a[i] - b[i]) < 1e-7, $"{a[i]} vs {b[i]}"); // own step sizes, same map to the tolerance
        // Hutchinson: sampling draws no probes, so the density after sampling is the density of a flow that never sampled
        var options = new ContinuousFlowOptions { Trace = TraceEstimator.Hutchinson, ProbeSeed = 9 };
        Flow<double> Make() => new(new ContinuousTransform<double>(Perturbed(new VectorField<double>(3, hidden: 8, layers: 2, new Rng(4)), 5), options), new StandardNormal<double>(3));
        var sampled = Make(); var fresh = Make();
        sampled.Sample(16, new Rng(1));
        var x = new Rng(2).Normal<double>(8, 3);
        Assert.Equal(fresh.LogProb(new Var<double>(x)).Value.ToArray(), sampled.LogProb(new Var<double>(x)).Value.ToArray());
    }

    private static VectorField<double> Perturbed(VectorField<double> field, int seed)
    {
        foreach (var p in field.Parameters()) Perturb(p.Value, seed, 0.5);
        return field;
    }

    [Fact]
    public void FlowMatchingRefusesTrainableStepsItWouldLeaveUntrained()
    {
        // the matching loss trains the velocity field only: a trainable step before it, or a trainable base, would
        // silently keep its initial parameters
        var field = new VectorField<double>(2, hidden: 4, layers: 1, new Rng(1));
        var withActNorm = new Flow<double>(new CompositeTransform<double>(new ActNorm<double>(2), new ContinuousTransform<double>(field)), new StandardNormal<double>(2));
        var ex = Assert.Throws<ArgumentException>(() => new FlowMatchingLoss<double>(withActNorm));
        Assert.Contains("ActNorm", ex.Message);
        Assert.Contains("step 0", ex.Message);
        var trainableBase = new Flow<double>(new ContinuousTransform<double>(field), new DiagonalNormal<double>(2));
        Assert.Contains("base", Assert.Throws<ArgumentException>(() => new FlowMatchingLoss<double>(trainableBase)).Message);
        // fixed steps before it are fine (preprocessing): ActNorm with its parameters frozen
        var act = new ActNorm<double>(2);
        foreach (var p in act.Parameters()) p.Trainable = false;
        _ = new FlowMatchingLoss<double>(new Flow<double>(new CompositeTransform<double>(act, new ContinuousTransform<double>(field)), new StandardNormal<double>(2)));
    }

    private static readonly Lazy<(Flow<double> Flow, double[] Mu, double[] Sigma)> GaussianFit = new(() =>
    {
        double[] mu = [1.0, -2.0], sigma = [0.5, 2.0];
        var rng = new Rng(21);
        var data = Tensor<double>.Empty(8000, 2);
        for (int r = 0; r < 8000; r++) for (int j = 0; j < 2; j++) data[r, j] = mu[j] + sigma[j] * rng.NextNormal();
        var flow = FlowBuilders.ContinuousFlow<double>(2, layers: 2, hidden: 32, rng: new Rng(22),
            options: new ContinuousFlowOptions { RelativeTolerance = 1e-7, AbsoluteTolerance = 1e-7 });
        new TrainingLoop<double>(flow, new TrainingOptions { Steps = 2000, BatchSize = 512, LearningRate = 3e-3, Schedule = new NormalizingFlows.Optim.CosineDecaySchedule(3e-3, 2000), Seed = 1 })
            .Fit(new FlowMatchingLoss<double>(flow), new TrainingData<double>(data));
        flow.Eval();
        return (flow, mu, sigma);
    });

    [Fact]
    public void FlowMatchingLearnsAShiftedScaledGaussianAndItsExactDensity()
    {
        var (flow, mu, sigma) = GaussianFit.Value;
        var rng = new Rng(23);
        var test = Tensor<double>.Empty(500, 2);
        for (int r = 0; r < 500; r++) for (int j = 0; j < 2; j++) test[r, j] = mu[j] + sigma[j] * rng.NextNormal();
        using var _ = GradMode.Disable();
        var lp = flow.LogProb(new Var<double>(test)).Value;
        double meanModel = 0, meanTrue = 0, worst = 0, meanAbs = 0;
        for (int r = 0; r < 500; r++)
        {
            double truth = 0;
            for (int j = 0; j < 2; j++) truth += -0.5 * Math.Pow((test[r, j] - mu[j]) / sigma[j], 2) - Math.Log(sigma[j]) - 0.5 * Math.Log(2 * Math.PI);
            meanModel += lp[r] / 500; meanTrue += truth / 500;
            worst = Math.Max(worst, Math.Abs(lp[r] - truth));
            meanAbs += Math.Abs(lp[r] - truth) / 500;
        }
        output.WriteLine($"mean log p: model {meanModel}, truth {meanTrue}; mean |Δ log p| {meanAbs}, largest {worst}");
        // the mean matches closely; pointwise the learned density is off most in the tails (largest ≈ 0.8 at 3σ)
        Assert.True(Math.Abs(meanModel - meanTrue) < 0.02, $"mean log p: model {meanModel}, truth {meanTrue}");
        Assert.True(meanAbs < 0.1, $"mean |log p − truth| over the test points: {meanAbs} (largest {worst})");
        // samples by the ODE have the target's moments
        var s = flow.Sample(4000, new Rng(24)).Value;
        for (int j = 0; j < 2; j++)
        {
            double m = 0, v = 0;
            for (int r = 0; r < 4000; r++) m += s[r, j] / 4000;
            for (int r = 0; r < 4000; r++) v += (s[r, j] - m) * (s[r, j] - m) / 3999;
            Assert.True(Math.Abs(m - mu[j]) < 5 * sigma[j] / Math.Sqrt(4000) + 0.02 * sigma[j], $"feature {j}: sample mean {m}, target {mu[j]}");
            Assert.True(Math.Abs(Math.Sqrt(v) / sigma[j] - 1) < 0.05, $"feature {j}: sample sd {Math.Sqrt(v)}, target {sigma[j]}");
        }
    }

    [Fact]
    public void TrainedDensityIntegratesToOne()
    {
        var data = ToyDatasets.Generate("moons", 4000, seed: 5).ToTensor<double>();
        var flow = FlowBuilders.ContinuousFlow<double>(2, layers: 2, hidden: 32, rng: new Rng(3),
            options: new ContinuousFlowOptions { RelativeTolerance = 1e-5, AbsoluteTolerance = 1e-5 });
        new TrainingLoop<double>(flow, new TrainingOptions { Steps = 800, BatchSize = 256, LearningRate = 3e-3 })
            .Fit(new FlowMatchingLoss<double>(flow), new TrainingData<double>(data));
        flow.Eval();
        // midpoint rule on [−5, 6] × [−5, 5.5]: the moons sit in [−1.5, 2.5] × [−1, 1.5] and the tails are Gaussian-like
        double integral = NormalizingFlows.Tests.Flows.TrainedDensityNormalizationTests.GridIntegral(flow, 90, -5, 6, -5, 5.5), meanTrain;
        using (GradMode.Disable()) meanTrain = flow.LogProb(new Var<double>(data.CopyRows(0, 1000))).Value.ToArray().Average();
        output.WriteLine($"mean log p on the training moons {meanTrain}, ∫p = {integral}");
        Assert.True(meanTrain > -1.95, $"flow matching did not learn the moons (mean log p {meanTrain})");
        Assert.True(Math.Abs(integral - 1) < 0.01, $"∫p = {integral}");
    }

    [Fact]
    public void FlowModelTrainerTrainsTheFlowMatchingBuilderThroughPreprocessingAndContext()
    {
        // b | c ~ N(2c, 0.5²) next to a ~ N(5, 2²), in raw units: standardised events, a standardised context
        var r = new Rng(31);
        const int n = 1200;
        var v = new double[n * 3];
        for (int i = 0; i < n; i++)
        {
            double c = 3 + r.NextNormal();
            v[i * 3] = 5 + 2 * r.NextNormal(); v[i * 3 + 1] = 2 * c + 0.5 * r.NextNormal(); v[i * 3 + 2] = c;
        }
        var table = new Table(["a", "b", "c"], v, n);
        var spec = new FlowSpec { Builder = FlowSpec.FlowMatching, Features = 2, Layers = 2, Hidden = 16, Seed = 1, DType = "float64" };
        var options = new FlowFitOptions
        {
            Training = new TrainingOptions { Epochs = 8, BatchSize = 128, LearningRate = 5e-3, Seed = 2, ValidationFraction = 0.2, ReportEverySteps = int.MaxValue },
            Preprocessing = FlowPreprocessing.Standardize,
            ContextColumns = ["c"],
        };
        var fit = new FlowModelTrainer<double>(spec, table, options);
        double before = fit.EvaluateValidation()!.Value.Mean;
        var history = fit.Fit();
        double after = fit.EvaluateValidation()!.Value.Mean;
        output.WriteLine($"validation log-likelihood {before} → {after}");
        Assert.Equal(8, history.Epochs.Count);
        Assert.True(history.Epochs.All(e => double.IsFinite(e.TrainLoss) && e.TrainLoss >= 0), "the matching loss is a mean square");
        // the context explains most of b: a model that uses it gains far more than the identity flow's start
        Assert.True(after > before + 0.5, $"validation log-likelihood {before} → {after}");
    }

    [Fact]
    public void TheObjectiveIsAnOptionSoACnfOrAComposedContinuousFlowCanBeTrainedByMatching()
    {
        var r = new Rng(5);
        const int n = 300;
        var v = new double[n * 2];
        for (int i = 0; i < v.Length; i++) v[i] = (i % 2 == 0 ? 1 : -2) + r.NextNormal();
        var table = new Table(["a", "b"], v, n);
        var options = new FlowFitOptions
        {
            Training = new TrainingOptions { Epochs = 2, BatchSize = 100, LearningRate = 5e-3, Seed = 2, ValidationFraction = 0.2, ReportEverySteps = int.MaxValue },
            Preprocessing = FlowPreprocessing.Standardize,
        };
        var matching = new FlowSpec { Builder = FlowSpec.FlowMatching, Features = 2, Layers = 1, Hidden = 8, Seed = 1, DType = "float64" };
        var cnf = matching with { Builder = "cnf" };
        Assert.Equal(TrainingObjective.FlowMatching, matching.Objective);
        Assert.Equal(TrainingObjective.MaximumLikelihood, cnf.Objective);
        Assert.DoesNotContain("bjective", matching.ToJson()); // the builder records it: model files are unchanged

        // the same flow ("cnf" and "flow-matching" build it alike) trained by matching: the same history, bit for bit
        var byBuilder = new FlowModelTrainer<double>(matching, table, options).Fit();
        var byOption = new FlowModelTrainer<double>(cnf, table, options with { Objective = TrainingObjective.FlowMatching });
        Assert.Equal(TrainingObjective.FlowMatching, byOption.Objective);
        Assert.Equal(byBuilder.Epochs.Select(e => e.TrainLoss), byOption.Fit().Epochs.Select(e => e.TrainLoss));
        var byLikelihood = new FlowModelTrainer<double>(cnf, table, options).Fit();
        Assert.NotEqual(byBuilder.Epochs[0].TrainLoss, byLikelihood.Epochs[0].TrainLoss);

        // a composed flow ending in a continuous transform trains by matching too; a discrete flow is refused, by name
        var composed = FlowSpec.Describe(cnf.Build<double>(), seed: 1);
        Assert.Equal(FlowSpec.Composed, composed.Builder);
        var history = new FlowModelTrainer<double>(composed, table, options with { Objective = TrainingObjective.FlowMatching }).Fit();
        Assert.True(history.Epochs.All(e => double.IsFinite(e.TrainLoss) && e.TrainLoss >= 0), "the matching loss is a mean square");
        var maf = new FlowModelTrainer<double>(matching with { Builder = "maf" }, table, options with { Objective = TrainingObjective.FlowMatching });
        Assert.Contains("ContinuousTransform", Assert.Throws<ArgumentException>(() => maf.Fit()).Message);
    }

    [Fact]
    public void ContinuousKindSavesAndLoadsThroughTheRegistry()
    {
        var options = new ContinuousFlowOptions { Solver = OdeSolver.RungeKutta4, Steps = 12, Trace = TraceEstimator.Exact };
        var flow = new Flow<double>(new CompositeTransform<double>(new ElementwiseAffine<double>(3),
            new ContinuousTransform<double>(new VectorField<double>(3, 6, 2, new Rng(1), contextFeatures: 0, timeFrequencies: 2), options)), new Distributions.StandardNormal<double>(3));
        foreach (var p in flow.Parameters()) Perturb(p.Value, 2, 0.3);
        var spec = FlowSpec.FromJson(FlowSpec.Describe(flow, seed: 4).ToJson());
        Assert.Contains("continuous", spec.Summary());
        var rebuilt = spec.Build<double>();
        rebuilt.LoadStateDict(flow.StateDict());
        var cnf = Assert.IsType<ContinuousTransform<double>>(((CompositeTransform<double>)rebuilt.Transform).Steps[1]);
        Assert.Equal(options, cnf.Options);
        Assert.Equal(2, cnf.Field.TimeFrequencies);
        var x = new Var<double>(new Rng(3).Normal<double>(7, 3));
        using var _ = GradMode.Disable();
        Assert.Equal(flow.LogProb(x).Value.ToArray(), rebuilt.LogProb(x).Value.ToArray());
    }

    private static void Perturb(Module<double> m, int seed, double scale)
    {
        foreach (var p in m.Parameters()) Perturb(p.Value, seed++, scale);
    }

    private static void Perturb(Tensor<double> t, int seed, double scale)
    {
        var r = new Rng(seed);
        var s = t.Span;
        for (int i = 0; i < s.Length; i++) s[i] += scale * r.NextNormal();
    }
}
