using System.Numerics;
using System.CommandLine;
using NormalizingFlows.Data;
using NormalizingFlows.Models;

namespace NormalizingFlows.Cli;

/// <summary><c>nflow logprob</c>: log p per event of a table under a trained model.</summary>
internal static class LogProbCommand
{
    public static Command Build(CliContext ctx)
    {
        var model = Commands.ModelArgument();
        var data = new Argument<string>("DATA") { Description = "Events to score (.csv, .npy or .parquet) with the model's columns (and, for a conditional model, its context columns: log p(x | context))" };
        var output = new Option<string?>("--output", "-o") { Description = "File (.csv, or .npy by extension) with one column 'log_prob' (log p per event, original units, −∞ outside the model's domain); default: none, only the mean is printed", HelpName = "FILE" };
        var columns = Commands.Columns();
        var drop = Commands.DropInvalid();
        var device = DeviceOption.Create("the scoring");
        var cmd = new Command("logprob", "Score events: log p(x) per event and the mean log-likelihood ± its standard error.") { model, data, output, columns, drop, device };
        cmd.SetAction(r =>
        {
            OutputPaths.Check(r.GetValue(output), "--output");
            string modelPath = r.GetValue(model)!, path = r.GetValue(data)!;
            var info = Commands.ReadModel(modelPath);
            var lp = Commands.IsDoubleModel(info) ? Score(Commands.LoadModel<double>(info)) : Score(Commands.LoadModel<float>(info));
            if (r.GetValue(output) is { } o) DataIo.Write(o, new Table(["log_prob"], lp, lp.Length));
            ctx.Out.WriteLine(DataIo.Summarise(lp, "mean log-likelihood").Line);
            if (r.GetValue(output) is { } written) ctx.Out.WriteLine($"wrote {written}");
            return 0;

            double[] Score<T>(FlowModel<T> m) where T : unmanaged, IFloatingPointIeee754<T>
            {
                using var onDevice = DeviceModel.Open(r.GetValue(device)!, m);
                var (events, context) = Commands.ReadEvents(ctx, m, path, r.GetValue(columns), r.GetValue(drop));
                return onDevice?.LogProb(events, context) ?? FlowModelTables.LogProb(m, events, context);
            }
        });
        return cmd;
    }
}
