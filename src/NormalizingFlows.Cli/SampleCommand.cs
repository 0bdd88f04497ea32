using System.CommandLine;
using System.Globalization;
using System.Numerics;
using NormalizingFlows.Data;
using NormalizingFlows.IO;
using NormalizingFlows.Models;

namespace NormalizingFlows.Cli;

/// <summary><c>nflow sample</c>: streams events drawn from a trained model to a file or stdout.</summary>
internal static class SampleCommand
{
    public static Command Build(CliContext ctx)
    {
        var model = Commands.ModelArgument();
        var n = new Option<long?>("-n", "--events")
        {
            Description = "Number of events to generate, per context row for a conditional model (default: 10000, or 1 per row of a --context FILE; any 64-bit count: written in blocks, memory stays bounded)",
            HelpName = "N",
            CustomParser = r =>
            {
                if (r.Tokens.Count == 0) return null;
                string t = r.Tokens[0].Value;
                if (!long.TryParse(t, NumberStyles.Integer, CultureInfo.InvariantCulture, out long v))
                    r.AddError(System.Numerics.BigInteger.TryParse(t, NumberStyles.Integer, CultureInfo.InvariantCulture, out _)
                        ? $"-n {t} is out of range (at most {long.MaxValue:N0})" : $"-n must be a whole number, got '{t}'");
                else if (v < 1) r.AddError($"-n must be a positive number of events, got {v}");
                else return v;
                return null;
            },
        };
        var output = Commands.Output("Output file; .npy writes NumPy float32, .parquet Parquet float32, anything else CSV; '-' writes CSV to stdout; columns named as in training, values in the original units");
        var seed = Commands.Seed("Random seed of the sampling");
        var clamp = new Option<bool>("--clamp")
        {
            Description = "Clamp every column into its training range (off by default: samples follow the model's density; clamping turns the tails into point masses at the range's ends)",
        };
        var withLogProb = new Option<bool>("--with-logprob")
        {
            Description = $"Write each event's log p (the model's log-density of the event as written, what 'nflow logprob' gives) as a last column '{SampleStream.LogProbColumn}'; default: false",
        };
        var context = new Option<string?>("--context")
        {
            Description = "The context of a conditional model (trained with --context): a FILE (.csv, .npy or .parquet) with its context columns (matched by name; N events per row, in row order), or values NAME=VALUE[,NAME=VALUE…] for all events; the output carries the context columns after the events; default: none (unconditional models)",
            HelpName = "FILE|NAME=VALUE,…",
        };
        var shard = Commands.ShardOption("-n is the total over the K shards, this shard writes its share");
        var device = DeviceOption.Create("the sampling (on a device: the draws of the device's own counter-based generator from --seed, streamed in blocks through reused device buffers; --with-logprob scores each block on the device)");
        var cmd = new Command("sample", "Draw events from a trained model, streamed to the output in blocks.") { model, n, output, seed, clamp, withLogProb, context, shard, device };
        cmd.SetAction(r =>
        {
            OutputPaths.Check(r.GetValue(output), "--output");
            string modelPath = r.GetValue(model)!;
            var info = Commands.ReadModel(modelPath);
            return Commands.IsDoubleModel(info) ? Run(Commands.LoadModel<double>(info)) : Run(Commands.LoadModel<float>(info));

            int Run<T>(FlowModel<T> m) where T : unmanaged, IFloatingPointIeee754<T>
            {
                using var onDevice = DeviceModel.Open(r.GetValue(device)!, m);
                var (given, fromFile) = Context(ctx, m, r.GetValue(context));
                long count = r.GetValue(n) ?? (fromFile ? 1 : 10_000), requested = count;
                var part = r.GetValue(shard) ?? Tensors.Shard.Whole;
                if (part.Share(count) == 0)
                    throw new UsageException($"--shard {part}: -n {count} leaves shard {part} no events (" + (given is null ? "" : "-n counts per context row; ") + $"give -n ≥ {part.Count})");
                count = part.Share(count);
                long total = given is null ? count : SampleStream.Total(count, given);
                string path = r.GetValue(output)!;
                // the CPU draws the shard's own stream; a device draws the shard's rows of the stream of --seed (its share
                // of each context row's -n), so the shards together hold the rows of the unsharded run
                var source = onDevice is null ? SampleStream.Draws(m, part.Rng(r.GetValue(seed)))
                    : (ISampleSource<T>)onDevice.Source(r.GetValue(seed), count, requested, part.Offset(requested));
                bool clamped = r.GetValue(clamp), lp = r.GetValue(withLogProb);
                var columns = SampleStream.Columns(m, lp);
                string what = (part.Count > 1 ? $"shard {part}: " : "") + $"{total} samples" + (onDevice is null ? "" : " drawn on the device") + $" ({string.Join(", ", columns)})" + (fromFile ? $", {count} per context row" : "") + (clamped ? ", clamped into the training range" : "");
                using var interruption = ctx.Listen();
                var progress = new JobProgress(ctx, "nflow sample", total, "events", interruption);
                var report = new CallbackProgress<long>(done => progress.Report(done));
                if (path == "-")
                {
                    SampleStream.WriteCsv(m, count, source, ctx.Out, clamped, report, withLogProb: lp, context: given);
                    progress.Complete(total);
                    ctx.Err.WriteLine($"wrote {what} to stdout");
                    return 0;
                }
                if (path.EndsWith(".npy", StringComparison.OrdinalIgnoreCase))
                    AtomicFile.Write(path, fs => SampleStream.WriteNpy(m, count, source, fs, clamped, report, withLogProb: lp, context: given));
                else if (ParquetTable.IsParquetPath(path))
                    AtomicFile.Write(path, fs => SampleStream.WriteParquet(m, count, source, fs, clamped, report, withLogProb: lp, context: given));
                else
                    AtomicFile.Write(path, fs =>
                    {
                        using var w = new StreamWriter(fs, new System.Text.UTF8Encoding(false), 1 << 16, leaveOpen: true);
                        SampleStream.WriteCsv(m, count, source, w, clamped, report, withLogProb: lp, context: given);
                    });
                progress.Complete(total);
                ctx.Out.WriteLine($"wrote {what} to {path}");
                return 0;
            }
        });
        return cmd;
    }

    /// <summary>
    /// The context table of <c>--context</c> for <paramref name="m"/>: a file's context columns, or one row of
    /// NAME=VALUE pairs (every context column once, numbers); null for an unconditional model without one; and whether
    /// it came from a file. Refuses a conditional model without a context and an unconditional one with one.
    /// </summary>
    private static (Table? Context, bool FromFile) Context<T>(CliContext ctx, FlowModel<T> m, string? text) where T : unmanaged, IFloatingPointIeee754<T>
    {
        string expected = string.Join(",", m.ContextColumns.Select(c => c + "=VALUE"));
        if (m.ContextFeatures == 0)
        {
            if (text is not null) throw new UsageException($"--context {text}: the model is unconditional (trained without --context); leave --context out");
            return (null, false);
        }
        if (text is null)
            throw new UsageException($"the model is conditional on ({string.Join(", ", m.ContextColumns)}): give --context FILE (with those columns) or --context {expected}");
        if (File.Exists(text) || !text.Contains('='))
            return (Commands.ContextOf(m, DataIo.Read(ctx, text, null, dropInvalid: false), $"--context {text}"), true);
        var values = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (var pair in text.Split(',', StringSplitOptions.TrimEntries))
        {
            var kv = pair.Split('=', 2, StringSplitOptions.TrimEntries);
            if (kv.Length != 2 || kv[0].Length == 0)
                throw new UsageException($"--context: '{pair}' is not NAME=VALUE (expected {expected}, or a file)");
            if (!m.ContextColumns.Contains(kv[0]))
                throw new UsageException($"--context: '{kv[0]}' is not a context column of the model (its context columns: {string.Join(", ", m.ContextColumns)})");
            if (!double.TryParse(kv[1], NumberStyles.Float, CultureInfo.InvariantCulture, out double v) || !double.IsFinite(v))
                throw new UsageException($"--context {kv[0]}={kv[1]}: the value is not a finite number");
            if (!values.TryAdd(kv[0], v)) throw new UsageException($"--context gives '{kv[0]}' twice");
        }
        var absent = m.ContextColumns.Where(c => !values.ContainsKey(c)).ToList();
        if (absent.Count > 0) throw new UsageException($"--context lacks a value for {string.Join(", ", absent)} (expected {expected})");
        return (new Table([.. m.ContextColumns], [.. m.ContextColumns.Select(c => values[c])], 1), false);
    }
}
