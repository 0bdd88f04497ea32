using System.Numerics;
using System.CommandLine;
using NormalizingFlows.Hep.Evaluation;
using NormalizingFlows.Hep.Reports;
using NormalizingFlows.Models;

namespace NormalizingFlows.Cli;

/// <summary><c>nflow eval</c>: HTML evaluation report of a model on test events.</summary>
internal static class EvalCommand
{
    public static Command Build(CliContext ctx)
    {
        var model = Commands.ModelArgument();
        var test = new Argument<string>("TEST") { Description = "Held-out test events (.csv, .npy or .parquet) with the model's columns (and a conditional model's context columns: the samples are drawn at the test events' contexts)" };
        var output = Commands.Output("HTML report to write (self-contained, inline SVG)");
        var n = Commands.Count("Model samples to compare with (default: as many as test events; for a conditional model: per test event, default 1)");
        var seed = Commands.Seed("Random seed of the sampling and the classifier");
        var columns = Commands.Columns();
        var drop = Commands.DropInvalid();
        var device = DeviceOption.Create("the model's sampling and scoring (the classifiers run on the CPU)");
        var cmd = new Command("eval", "Evaluate a model on test data: HTML report with the test log-likelihood, marginals with ratio panels, pairwise densities, the training curve and a classifier two-sample test by an MLP and gradient-boosted trees on the same folds (both AUCs ± σ; the larger is the headline).")
        { model, test, output, n, seed, columns, drop, device };
        cmd.SetAction(r =>
        {
            string modelPath = r.GetValue(model)!, path = r.GetValue(test)!;
            OutputPaths.Check(r.GetValue(output), "--output", DataIo.CheckReportOutput);
            var info = Commands.ReadModel(modelPath);
            return Commands.IsDoubleModel(info) ? Run(Commands.LoadModel<double>(info)) : Run(Commands.LoadModel<float>(info));

            // the model computes in its own precision (float64 models in double)
            int Run<T>(FlowModel<T> m) where T : unmanaged, IFloatingPointIeee754<T>
            {
                using var onDevice = DeviceModel.Open(r.GetValue(device)!, m);
                var (table, context) = Commands.ReadEvents(ctx, m, path, r.GetValue(columns), r.GetValue(drop));
                long s = r.GetValue(seed);
                // a conditional model is sampled at the test events' contexts (-n per test event, default 1) and judged on (x, context)
                int count = r.GetValue(n) ?? (context is null ? table.Rows : 1);
                var samples = onDevice?.Sample(count, s, context: context) ?? FlowModelTables.Sample(m, count, new Tensors.Rng(s), context: context);
                double[][] testColumns = [.. table.ToColumns(), .. context?.ToColumns() ?? []], sampleColumns = samples.ToColumns();
                ctx.Out.WriteLine($"classifier two-sample test: {table.Rows} test events against {samples.Rows} samples …");
                var c2st = ClassifierTwoSampleTest.RunBoth(testColumns, sampleColumns, new ClassifierOptions { Seed = s });
                var ll = DataIo.Summarise(onDevice?.LogProb(table, context) ?? FlowModelTables.LogProb(m, table, context), "test log-likelihood");
                var report = EvaluationReport.Build([.. m.Columns, .. m.ContextColumns], testColumns, sampleColumns, ll.Outside == table.Rows ? null : (ll.Mean, ll.StandardError), m.History, c2st, new EvaluationReportOptions
                {
                    Title = $"nflow eval — {Path.GetFileName(modelPath)} on {Path.GetFileName(path)}",
                    ModelDescription = $"{m.Spec.Summary()}, {m.ParameterCount():N0} parameters ({Path.GetFileName(modelPath)})",
                    OutsideDomain = ll.Outside,
                });
                report.Save(r.GetValue(output)!);
                ctx.Out.WriteLine(ll.Line);
                ctx.Out.WriteLine($"classifier AUC: {Commands.F(c2st.Auc)} ± {Commands.F(c2st.AucError)} ({c2st.Headline.Judge}, the larger of two judges; " +
                    $"MLP {Commands.F(c2st.Mlp.Auc)} ± {Commands.F(c2st.Mlp.AucError)}, GBDT {Commands.F(c2st.Trees.Auc)} ± {Commands.F(c2st.Trees.AucError)}; 0.5: indistinguishable)");
                ctx.Out.WriteLine($"wrote {r.GetValue(output)}");
                return 0;
            }
        });
        return cmd;
    }
}
