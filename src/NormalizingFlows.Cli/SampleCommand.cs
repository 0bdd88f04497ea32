using System.CommandLine;
using System.Globalization;
using System.Numerics;
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
            Description = "Number of events to generate (default: 10000; any 64-bit count: written in blocks, memory stays bounded)",
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
        var output = Commands.Output("Output file; .npy writes NumPy float32, anything else CSV; '-' writes CSV to stdout; columns named as in training, values in the original units");
        var seed = Commands.Seed("Random seed of the sampling");
        var clamp = new Option<bool>("--clamp")
        {
            Description = "Clamp every column into its training range (off by default: samples follow the model's density; clamping turns the tails into point masses at the range's ends)",
        };
        var withLogProb = new Option<bool>("--with-logprob")
        {
            Description = $"Write each event's log p (the model's log-density of the event as written, what 'nflow logprob' gives) as a last column '{SampleStream.LogProbColumn}'; default: false",
        };
        var cmd = new Command("sample", "Draw events from a trained model, streamed to the output in blocks.") { model, n, output, seed, clamp, withLogProb };
        cmd.SetAction(r =>
        {
            OutputPaths.Check(r.GetValue(output), "--output");
            string modelPath = r.GetValue(model)!;
            return Commands.IsDoubleModel(modelPath) ? Run(Commands.LoadModel<double>(modelPath)) : Run(Commands.LoadModel<float>(modelPath));

            int Run<T>(FlowModel<T> m) where T : unmanaged, IFloatingPointIeee754<T>
            {
                long count = r.GetValue(n) ?? 10_000;
                string path = r.GetValue(output)!;
                var rng = new Tensors.Rng(r.GetValue(seed));
                bool clamped = r.GetValue(clamp), lp = r.GetValue(withLogProb);
                var columns = SampleStream.Columns(m, lp);
                string what = $"{count} samples ({string.Join(", ", columns)})" + (clamped ? ", clamped into the training range" : "");
                using var interruption = ctx.Listen();
                var progress = new JobProgress(ctx, "nflow sample", count, "events", interruption);
                var report = new CallbackProgress<long>(done => progress.Report(done));
                if (path == "-")
                {
                    SampleStream.WriteCsv(m, count, rng, ctx.Out, clamped, report, withLogProb: lp);
                    progress.Complete(count);
                    ctx.Err.WriteLine($"wrote {what} to stdout");
                    return 0;
                }
                if (path.EndsWith(".npy", StringComparison.OrdinalIgnoreCase))
                    AtomicFile.Write(path, fs => SampleStream.WriteNpy(m, count, rng, fs, clamped, report, withLogProb: lp));
                else
                    AtomicFile.Write(path, fs =>
                    {
                        using var w = new StreamWriter(fs, new System.Text.UTF8Encoding(false), 1 << 16, leaveOpen: true);
                        SampleStream.WriteCsv(m, count, rng, w, clamped, report, withLogProb: lp);
                    });
                progress.Complete(count);
                ctx.Out.WriteLine($"wrote {what} to {path}");
                return 0;
            }
        });
        return cmd;
    }
}
