using System.CommandLine;
using NormalizingFlows.Data;

namespace NormalizingFlows.Cli;

/// <summary><c>nflow toy</c>: writes a built-in toy data set.</summary>
internal static class ToyCommand
{
    public static Command Build(CliContext ctx)
    {
        var name = new Argument<string>("NAME") { Description = "Data set: " + string.Join(", ", ToyDatasets.Names) };
        Commands.OneOf(name, "toy data set", ToyDatasets.Names);
        var n = Commands.Count("Number of events (default: 10000)");
        var output = Commands.Output("Output file; .npy writes NumPy float32, anything else CSV with a header (x0, x1, …)");
        var seed = Commands.Seed();
        var cmd = new Command("toy", "Generate a built-in toy data set (2-D shapes, or the 18-column tab18 table).") { name, n, output, seed };
        cmd.SetAction(r =>
        {
            OutputPaths.Check(r.GetValue(output), "--output");
            var table = ToyDatasets.Generate(r.GetValue(name)!, r.GetValue(n) ?? 10_000, r.GetValue(seed));
            DataIo.Write(r.GetValue(output)!, table);
            ctx.Out.WriteLine($"wrote {table.Rows} events × {table.Cols} columns of '{r.GetValue(name)}' to {r.GetValue(output)}");
            return 0;
        });
        return cmd;
    }
}
