using System.CommandLine;
using System.Globalization;
using NormalizingFlows.Data;
using NormalizingFlows.Hep.Integration;
using NormalizingFlows.Tensors;

namespace NormalizingFlows.Cli;

/// <summary>
/// <c>nflow merge</c>: combines the outputs of the K shards of a sharded job (<c>--shard k/K</c>): integration
/// results (.json) by inverse variance, event files (.csv/.npy) by concatenation in the order given, optionally
/// unweighting the merged weighted events with one maximum weight.
/// </summary>
internal static class MergeCommand
{
    public static Command Build(CliContext ctx)
    {
        var inputs = new Argument<string[]>("FILES") { Description = "The shards' outputs: all .json results of 'nflow integrate --result', or all event files (.csv/.npy) of 'nflow sample' or 'nflow integrate --weighted'", Arity = ArgumentArity.OneOrMore };
        var output = new Option<string?>("--output", "-o") { Description = "The merged file: .json for results (optional), .csv or .npy for events (required); default: none", HelpName = "FILE" };
        var unweight = new Option<bool>("--unweight") { Description = "Events: unweight the merged weighted events (column 'weight'; the last column of .npy files) by accept/reject against one maximum weight for all shards; accepted overweights keep weight w/max; default: false" };
        var quantile = new Option<double>("--max-quantile") { Description = "With --unweight: the maximum weight is this quantile of the merged weights (1: the largest weight, no overweights)", DefaultValueFactory = _ => 0.999 };
        var seed = Commands.Seed("Random seed of the unweighting");
        var cmd = new Command("merge", "Merge the outputs of sharded runs: integration results by inverse variance, event files by concatenation (optionally unweighting them).") { inputs, output, unweight, quantile, seed };
        cmd.SetAction(r =>
        {
            var files = r.GetValue(inputs)!;
            string? outPath = r.GetValue(output);
            OutputPaths.Check(outPath, "--output");
            foreach (var f in files)
                if (!File.Exists(f)) throw new UsageException($"{f}: no such file");
            int json = files.Count(f => f.EndsWith(".json", StringComparison.OrdinalIgnoreCase));
            if (json > 0 && json < files.Length) throw new UsageException("merge either integration results (.json) or event files (.csv/.npy), not both");
            var c = CultureInfo.InvariantCulture;
            if (json > 0)
            {
                if (r.GetValue(unweight)) throw new UsageException("--unweight applies to event files, not to integration results");
                if (outPath is not null && !outPath.EndsWith(".json", StringComparison.OrdinalIgnoreCase))
                    throw new UsageException($"--output {outPath}: merged integration results are written as .json");
                IntegrationShardResult merged;
                try { merged = IntegrationShardResult.Merge([.. files.Select(IntegrationShardResult.Read)]); }
                catch (ArgumentException e) { throw new UsageException(e.Message); }
                ctx.Out.WriteLine(string.Create(c, $"{merged.Integrand} ({merged.Dimensions}-D) with {merged.Method}, {files.Length} shards: {merged.Estimate:G8} ± {merged.Error:G3} (relative error {merged.Error / Math.Abs(merged.Estimate):0.00E+0})"));
                if (merged.Iterations.Count > 1) ctx.Out.WriteLine(string.Create(c, $"iterations: {merged.Iterations.Count}, χ²/dof {merged.ChiSquaredPerDof:F2}"));
                ctx.Out.WriteLine(string.Create(c, $"integrand calls: {merged.Calls:N0} integration, {merged.TrainingCalls:N0} training on each shard"));
                if (outPath is not null)
                {
                    merged.Write(outPath);
                    ctx.Out.WriteLine($"wrote {outPath}");
                }
                return 0;
            }
            if (outPath is null) throw new UsageException("merging event files needs --output FILE (.csv or .npy)");
            DataIo.CheckTableOutput(outPath);
            var table = Concat(files, [.. files.Select(f => DataIo.Read(ctx, f, null, dropInvalid: false))]);
            if (r.GetValue(unweight))
            {
                double q = r.GetValue(quantile);
                if (!(q > 0 && q <= 1)) throw new UsageException($"--max-quantile must lie in (0, 1], got {q.ToString(c)}");
                int wc = Array.IndexOf(table.Columns, IntegrateCommand.WeightColumn);
                // a .npy file has no column names: the weight is its last column, as integrate --weighted writes it
                if (wc < 0 && table.Columns.SequenceEqual(Table.DefaultNames(table.Cols)) && files.All(f => f.EndsWith(".npy", StringComparison.OrdinalIgnoreCase)))
                {
                    wc = table.Cols - 1;
                    table = new Table([.. IntegrateCommand.XNames(wc), IntegrateCommand.WeightColumn], table.Values, table.Rows);
                }
                if (wc < 0) throw new UsageException($"--unweight needs a '{IntegrateCommand.WeightColumn}' column (the events of 'nflow integrate --weighted'); the files have: {string.Join(", ", table.Columns)}");
                var names = table.Columns.Where((_, j) => j != wc).ToArray();
                var events = table.SelectColumns(names);
                var weighted = new WeightedEvents { Events = events.Values, Dimensions = names.Length, Weights = [.. Enumerable.Range(0, table.Rows).Select(i => table[i, wc])] };
                var u = weighted.Unweight(new Rng(r.GetValue(seed)), quantile: q);
                table = IntegrateCommand.EventTable(names, u.Events, u.EventWeights);
                ctx.Out.WriteLine(string.Create(c, $"weighted: {weighted.Count:N0} events, ⟨w⟩ = {weighted.Weights.Average():G8}"));
                ctx.Out.WriteLine(string.Create(c, $"unweighted: {u.Count:N0} events (efficiency {u.Efficiency:F4}, max weight {u.MaxWeight:G4} = the {q} quantile, {u.OverweightEventFraction:P2} overweight)"));
            }
            DataIo.Write(outPath, table);
            ctx.Out.WriteLine($"wrote {table.Rows:N0} events from {files.Length} files to {outPath}");
            return 0;
        });
        return cmd;
    }

    /// <summary>The tables one after the other; every file must have the first one's columns.</summary>
    private static Table Concat(string[] files, Table[] parts)
    {
        var cols = parts[0].Columns;
        for (int i = 1; i < parts.Length; i++)
            if (!parts[i].Columns.SequenceEqual(cols))
                throw new UsageException($"{files[i]} has columns ({string.Join(", ", parts[i].Columns)}), {files[0]} has ({string.Join(", ", cols)}): merge outputs of one run");
        long rows = parts.Sum(p => (long)p.Rows);
        if (rows * cols.Length > Array.MaxLength) throw new UsageException($"the {files.Length} files hold {rows:N0} rows, more than one table holds: merge fewer at a time");
        var values = new double[rows * cols.Length];
        long at = 0;
        foreach (var p in parts)
        {
            Array.Copy(p.Values, 0, values, at, (long)p.Rows * cols.Length);
            at += (long)p.Rows * cols.Length;
        }
        return new Table(cols, values, (int)rows);
    }
}
