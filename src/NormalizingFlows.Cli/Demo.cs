using System.Diagnostics;
using System.Globalization;
using NormalizingFlows.Autograd;
using NormalizingFlows.Data;
using NormalizingFlows.Data.Preprocessing;
using NormalizingFlows.Distributions;
using NormalizingFlows.Flows;
using NormalizingFlows.Hep.Reports;
using NormalizingFlows.Tensors;
using NormalizingFlows.Training;
using NormalizingFlows.Transforms;

namespace NormalizingFlows.Cli;

/// <summary>
/// <c>nflow demo</c>: trains a neural-spline flow on a built-in 2-D data set, samples from it, and writes an HTML
/// report with data vs samples, the learned density, marginals with ratio panels and the training curve.
/// </summary>
public static class Demo
{
    /// <summary>Runs the demo on <paramref name="dataset"/> (a toy data set name), writing <paramref name="reportPath"/>.</summary>
    public static int Run(string dataset = "moons", string reportPath = "demo-report.html", int epochs = 40, long seed = 0, TextWriter? output = null)
    {
        output ??= Console.Out;
        var clock = Stopwatch.StartNew();
        var all = ToyDatasets.Generate(dataset, 25_000, seed);
        // rows 0 … 17 999 train, 18 000 … 19 999 validate (the best epoch is chosen on them), 20 000 … 24 999 test
        // (touched once, at the end, so the reported test log-likelihood is not biased by the choice of epoch)
        int nTrain = 20_000, nFit = 18_000;
        var x = all.ToTensor<float>().Untrack();
        var train = new TrainingData<float>(x.FirstRows(nFit));
        var validation = new TrainingData<float>(x).Take(Enumerable.Range(nFit, nTrain - nFit).ToArray());
        var testRows = Enumerable.Range(nTrain, all.Rows - nTrain).ToArray();
        var test = new TrainingData<float>(x).Take(testRows);
        output.WriteLine($"nflow demo: {dataset}, {nFit} training, {nTrain - nFit} validation and {testRows.Length} test events (2-D)");

        // standardise inside the flow (fitted on the training rows), so log p is the density of the original units
        var standardize = PreprocessingPipeline.Fit<float>(all.Head(nFit), PreprocessingSpec.Uniform(all.Columns, PreprocessingKind.Standardize));
        var rng = new Rng(seed);
        var nsf = FlowBuilders.NeuralSplineFlow<float>(2, layers: 5, hidden: 128, bins: 8, bound: 4, rng: rng);
        var flow = new Flow<float>(new CompositeTransform<float>(standardize, nsf.Transform), new StandardNormal<float>(2));
        output.WriteLine($"model: neural spline flow, 5 rational-quadratic coupling layers, 8 bins, {flow.ParameterCount():N0} parameters");

        var trainer = new MaximumLikelihoodTrainer<float>(flow, new TrainingOptions { Epochs = epochs, BatchSize = 512, LearningRate = 2e-3, Seed = seed, ReportEverySteps = int.MaxValue })
        {
            Progress = new ConsoleProgress(output),
        };
        var history = trainer.Fit(train, validation);
        var (ll, se) = MaximumLikelihoodTrainer<float>.Evaluate(flow, test);
        output.WriteLine($"test log-likelihood: {ll:F4} ± {se:F4} per event (training took {clock.Elapsed.TotalSeconds:F0} s)");

        var samples = flow.Sample(20_000, rng).Value;
        var report = BuildReport(dataset, all, nFit, nTrain, flow, samples, history, ll, se);
        report.Save(reportPath);
        output.WriteLine($"wrote {Path.GetFullPath(reportPath)} ({clock.Elapsed.TotalSeconds:F0} s in all)");
        return 0;
    }

    private static HtmlReport BuildReport(string dataset, Table all, int nFit, int nTrain, Flow<float> flow, Tensor<float> samples, TrainingHistory history, double ll, double se)
    {
        var test = Enumerable.Range(nTrain, all.Rows - nTrain);
        double[] dx = test.Select(r => all[r, 0]).ToArray(), dy = test.Select(r => all[r, 1]).ToArray();
        double[] sx = Enumerable.Range(0, samples.Dim(0)).Select(r => (double)samples[r, 0]).ToArray();
        double[] sy = Enumerable.Range(0, samples.Dim(0)).Select(r => (double)samples[r, 1]).ToArray();
        (double, double) xr = Range(dx), yr = Range(dy);
        const int grid = 90;
        var density = new double[grid, grid];
        var pts = Tensor<float>.Empty(grid * grid, 2);
        for (int i = 0; i < grid; i++)
            for (int j = 0; j < grid; j++)
            {
                pts[i * grid + j, 0] = (float)(xr.Item1 + (xr.Item2 - xr.Item1) * (i + 0.5) / grid);
                pts[i * grid + j, 1] = (float)(yr.Item1 + (yr.Item2 - yr.Item1) * (j + 0.5) / grid);
            }
        flow.Eval();
        using (GradMode.Disable())
        {
            var lp = flow.LogProb(new Var<float>(pts)).Value;
            for (int i = 0; i < grid; i++) for (int j = 0; j < grid; j++) density[i, j] = Math.Exp(lp[i * grid + j]);
        }
        var report = new HtmlReport($"nflow demo — neural spline flow on '{dataset}'");
        report.Section("Result").KeyValues(
        [
            ("data set", $"{dataset}: {nFit} training, {nTrain - nFit} validation (best epoch chosen on them), {all.Rows - nTrain} test events"),
            ("model", $"neural spline flow (5 rational-quadratic couplings, 8 bins), {flow.ParameterCount():N0} parameters"),
            ("test log-likelihood", $"{ll.ToString("F4", CultureInfo.InvariantCulture)} ± {se.ToString("F4", CultureInfo.InvariantCulture)} per event"),
            ("epochs", history.Epochs.Count.ToString(CultureInfo.InvariantCulture) + (history.BestEpoch is { } best ? $" (parameters of epoch {best.ToString(CultureInfo.InvariantCulture)}, the best on validation)" : "")),
        ]);
        report.Section("Data, samples and learned density").Figures(
            FlowPlots.Scatter("test data", dx, dy, FlowPlots.DataColor, "x0", "x1", xr, yr),
            FlowPlots.Scatter("flow samples", sx, sy, FlowPlots.ModelColor, "x0", "x1", xr, yr),
            FlowPlots.Density("learned density p(x)", density, xr, yr, "x0", "x1"));
        var (h0, r0) = FlowPlots.Marginal("x0", dx, sx);
        var (h1, r1) = FlowPlots.Marginal("x1", dy, sy);
        report.Section("Marginals (data vs model, ratio below)").Figures(h0, h1).Figures(r0, r1);
        report.Section("Training").Figures(FlowPlots.TrainingCurve(history));
        return report;
    }

    private static (double, double) Range(double[] v)
    {
        var s = v.OrderBy(e => e).ToArray();
        double lo = s[(int)(0.002 * (s.Length - 1))], hi = s[(int)(0.998 * (s.Length - 1))];
        double pad = 0.1 * (hi - lo);
        return (lo - pad, hi + pad);
    }

    private sealed class ConsoleProgress(TextWriter output) : IProgress<TrainingProgress>
    {
        public void Report(TrainingProgress p) => output.WriteLine(
            $"  epoch {p.Epoch,3}  step {p.Step,6}/{p.TotalSteps}  train log-lik {-p.Loss,8:F4}  validation {p.ValidationLogLikelihood,8:F4}  {p.StepsPerSecond,6:F0} steps/s");
    }
}
