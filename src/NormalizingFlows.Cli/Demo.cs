using System.Diagnostics;
using System.Globalization;
using System.CommandLine;
using NormalizingFlows.Data;
using NormalizingFlows.Hep.Reports;
using NormalizingFlows.Models;
using NormalizingFlows.Tensors;
using NormalizingFlows.Training;

namespace NormalizingFlows.Cli;

/// <summary>
/// <c>nflow demo</c>: trains a neural-spline flow on a built-in 2-D data set (with the library's
/// <see cref="FlowModelTrainer{T}"/>, as a C# user would), samples from it, and writes an HTML report with data vs
/// samples, the learned density, marginals with ratio panels and the training curve.
/// </summary>
public static class Demo
{
    /// <summary>The <c>demo</c> verb.</summary>
    internal static Command Build(CliContext ctx)
    {
        var data = new Option<string>("--data") { Description = "Toy data set", DefaultValueFactory = _ => "moons" };
        Commands.OneOf(data, "toy data set", [.. ToyDatasets.Names.Where(x => x != "tab18")]);
        var epochs = new Option<int>("--epochs") { Description = "Training epochs", DefaultValueFactory = _ => 40 };
        Commands.Positive(epochs);
        var output = Commands.Output("HTML report to write", "demo-report.html");
        var seed = Commands.Seed();
        var cmd = new Command("demo", "Train a neural spline flow on a toy data set and write an HTML report (data vs samples, learned density, marginals, training curve).")
        { data, epochs, output, seed };
        cmd.SetAction(r =>
        {
            OutputPaths.Check(r.GetValue(output), "--output", DataIo.CheckReportOutput);
            return Run(r.GetValue(data)!, r.GetValue(output)!, r.GetValue(epochs), r.GetValue(seed), ctx.Out);
        });
        return cmd;
    }

    /// <summary>Runs the demo on <paramref name="dataset"/> (a toy data set name), writing <paramref name="reportPath"/>.</summary>
    public static int Run(string dataset = "moons", string reportPath = "demo-report.html", int epochs = 40, long seed = 0, TextWriter? output = null)
    {
        output ??= Console.Out;
        var clock = Stopwatch.StartNew();
        var all = ToyDatasets.Generate(dataset, 25_000, seed);
        // rows 0 … 17 999 train, 18 000 … 19 999 validate (the best epoch is chosen on them), 20 000 … 24 999 test
        // (touched once, at the end, so the reported test log-likelihood is not biased by the choice of epoch)
        int nTrain = 20_000, nFit = 18_000;
        var validation = all.SelectRows(Enumerable.Range(nFit, nTrain - nFit).ToArray());
        var test = all.SelectRows(Enumerable.Range(nTrain, all.Rows - nTrain).ToArray());
        output.WriteLine($"nflow demo: {dataset}, {nFit} training, {nTrain - nFit} validation and {test.Rows} test events (2-D)");

        // standardised inside the flow (fitted on the training rows), so log p is the density of the original units
        var spec = new FlowSpec { Builder = "nsf", Features = 2, Layers = 5, Hidden = 128, Bins = 8, Bound = 4, Seed = seed };
        var fit = new FlowModelTrainer<float>(spec, all.Head(nFit), new FlowFitOptions
        {
            Preprocessing = FlowPreprocessing.Standardize,
            Training = new TrainingOptions { Epochs = epochs, BatchSize = 512, LearningRate = 2e-3, Seed = seed, ReportEverySteps = int.MaxValue },
        }, validation)
        {
            Progress = new ConsoleProgress(output),
        };
        var model = fit.Model;
        output.WriteLine($"model: neural spline flow, 5 rational-quadratic coupling layers, 8 bins, {model.ParameterCount():N0} parameters");

        var history = fit.Fit();
        var (ll, se) = MaximumLikelihoodTrainer<float>.Evaluate(model.Flow, new TrainingData<float>(test.ToTensor<float>()));
        output.WriteLine($"test log-likelihood: {ll:F4} ± {se:F4} per event (training took {clock.Elapsed.TotalSeconds:F0} s)");

        var samples = FlowModelTables.Sample(model, 20_000, new Rng(unchecked(seed + 1)));
        var report = BuildReport(dataset, all, nFit, nTrain, model, samples, history, ll, se);
        report.Save(reportPath);
        output.WriteLine($"wrote {Path.GetFullPath(reportPath)} ({clock.Elapsed.TotalSeconds:F0} s in all)");
        return 0;
    }

    private static HtmlReport BuildReport(string dataset, Table all, int nFit, int nTrain, FlowModel<float> model, Table samples, TrainingHistory history, double ll, double se)
    {
        var test = Enumerable.Range(nTrain, all.Rows - nTrain);
        double[] dx = test.Select(r => all[r, 0]).ToArray(), dy = test.Select(r => all[r, 1]).ToArray();
        var sampleColumns = samples.ToColumns();
        double[] sx = sampleColumns[0], sy = sampleColumns[1];
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
        var lp = model.LogProb(pts);
        for (int i = 0; i < grid; i++) for (int j = 0; j < grid; j++) density[i, j] = Math.Exp(lp[i * grid + j]);
        var report = new HtmlReport($"nflow demo — neural spline flow on '{dataset}'");
        report.Section("Result").KeyValues(
        [
            ("data set", $"{dataset}: {nFit} training, {nTrain - nFit} validation (best epoch chosen on them), {all.Rows - nTrain} test events"),
            ("model", $"neural spline flow (5 rational-quadratic couplings, 8 bins), {model.ParameterCount():N0} parameters"),
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
