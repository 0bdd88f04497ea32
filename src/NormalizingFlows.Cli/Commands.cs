using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using NormalizingFlows.Data;
using NormalizingFlows.Hep.Evaluation;
using NormalizingFlows.Hep.Reports;
using NormalizingFlows.IO;
using NormalizingFlows.Models;
using NormalizingFlows.Tensors.Kernels;

namespace NormalizingFlows.Cli;

/// <summary>The verbs of <c>nflow</c>: each a few lines over library calls.</summary>
internal static class Commands
{
    internal static readonly string[] TrainableFlows = [.. FlowSpec.TrainableBuilders];

    public static RootCommand BuildRoot(CliContext ctx)
    {
        var threads = new Option<int>("--threads")
        {
            Description = "Worker threads for the tensor kernels (0: all cores)",
            DefaultValueFactory = _ => 0,
            Recursive = true,
        };
        NonNegative(threads);
        var progressEvery = new Option<double>(ProgressEveryName)
        {
            Description = "Seconds between progress lines of long jobs when stderr is not a terminal (a log, a batch job); on a terminal one live line is redrawn",
            DefaultValueFactory = _ => 10.0,
            Recursive = true,
            HelpName = "SECONDS",
        };
        progressEvery.Validators.Add(r =>
        {
            double v = r.GetValueOrDefault<double>();
            if (!(v >= 0) || !double.IsFinite(v)) r.AddError($"{ProgressEveryName} must be a number of seconds ≥ 0, got {v}");
        });
        var simulateSignal = new Option<string?>(SimulateSignalName) { Description = "Testing: act as if SIGNAL (SIGINT or SIGTERM) arrived at the job's N-th progress point", Hidden = true, Recursive = true, HelpName = "SIGNAL@N" };
        var root = new RootCommand("nflow — normalizing flows for .NET: generate toy data, train a flow on a CSV/NPY table, sample from it, score events, evaluate and reweight.")
        {
            threads, progressEvery, simulateSignal,
        };
        root.Add(Toy(ctx));
        root.Add(TrainCommand.Build(ctx));
        root.Add(Sample(ctx));
        root.Add(LogProb(ctx));
        root.Add(Info(ctx));
        root.Add(Eval(ctx));
        root.Add(Reweight(ctx));
        root.Add(DemoCommand(ctx));
        root.Add(IntegrateCommand.Build(ctx));
        root.Add(InferCommand.Build(ctx));
        root.Add(BumpHuntCommand.Build(ctx));
        root.Add(CaloCommand.Build(ctx));
        root.SetAction(r =>
        {
            // no verb is a usage error: say what the verbs are (on stderr) and exit 2, so scripts notice
            ctx.Err.WriteLine("Usage: nflow VERB [options]   (nflow VERB --help lists a verb's options)");
            ctx.Err.WriteLine("Verbs:");
            foreach (var c in root.Subcommands.Where(c => !c.Hidden))
            {
                string d = c.Description ?? "";
                int end = d.IndexOfAny(['.', ':', ';']);
                ctx.Err.WriteLine($"  {c.Name,-10} {(end > 0 ? d[..end] : d)}");
            }
            return Program.ExitUsage;
        });
        return root;
    }

    // ---- shared options ------------------------------------------------------------------------------------------

    internal const string ProgressEveryName = "--progress-every";
    internal const string SimulateSignalName = "--simulate-signal";

    internal static Option<string> Output(string description, string? defaultValue = null)
    {
        var o = new Option<string>("--output", "-o") { Description = description, HelpName = "FILE" };
        if (defaultValue is null) o.Required = true;
        else o.DefaultValueFactory = _ => defaultValue;
        return o;
    }

    internal static Option<long> Seed(string description = "Random seed") =>
        new("--seed") { Description = description, DefaultValueFactory = _ => 0L };

    internal static Option<string?> Columns() => new("--columns")
    {
        Description = "Columns to use, comma-separated, optionally renamed as new=old (e.g. \"pt1,eta1\" or \"a=pt1,b=eta1\"); default: all columns",
        HelpName = "LIST",
    };

    internal static Option<bool> DropInvalid() => new("--drop-invalid")
    {
        Description = "Drop rows with non-numeric or non-finite values (and ragged rows) instead of failing; default: false",
    };

    internal static Option<int?> Count(string description)
    {
        var o = new Option<int?>("-n", "--events") { Description = description, HelpName = "N", CustomParser = WholeNumber };
        o.Validators.Add(r =>
        {
            if (TokenInt(r) is { } n && n < 1) r.AddError($"-n must be a positive number of events, got {n}");
        });
        return o;
    }

    internal static void Positive(Option<int> o) => o.Validators.Add(r =>
    {
        if (TokenInt(r) is { } v && v < 1) r.AddError($"{o.Name} must be positive, got {v}");
    });

    internal static void NonNegative(Option<int> o) => o.Validators.Add(r =>
    {
        if (TokenInt(r) is { } v && v < 0) r.AddError($"{o.Name} must be ≥ 0, got {v}");
    });

    /// <summary>Parses a whole number with a one-line error naming the option.</summary>
    internal static int? WholeNumber(ArgumentResult r)
    {
        if (r.Tokens.Count == 0) return null;
        string t = r.Tokens[0].Value;
        if (int.TryParse(t, NumberStyles.Integer, CultureInfo.InvariantCulture, out int v)) return v;
        string name = r.Parent is OptionResult o ? o.Option.Name : r.Argument.Name;
        if (System.Numerics.BigInteger.TryParse(t, NumberStyles.Integer, CultureInfo.InvariantCulture, out var big))
            r.AddError($"{name} {t} is out of range (at most {int.MaxValue:N0}{(big < 0 ? $", at least {int.MinValue:N0}" : "")})");
        else r.AddError($"{name} must be a whole number, got '{t}'");
        return null;
    }

    /// <summary>The option's integer value when it was given and parses (conversion errors are reported by the parser).</summary>
    internal static long? TokenInt(OptionResult r) =>
        r.Tokens.Count == 1 && long.TryParse(r.Tokens[0].Value, NumberStyles.Integer, CultureInfo.InvariantCulture, out long v) ? v : null;

    /// <summary>Restricts a string option to <paramref name="allowed"/> with a one-line error listing them.</summary>
    internal static void OneOf(Option<string> o, string what, IReadOnlyList<string> allowed) => o.Validators.Add(r =>
    {
        if (r.Tokens.Count == 1 && !allowed.Contains(r.Tokens[0].Value))
            r.AddError($"unknown {what} '{r.Tokens[0].Value}' for {o.Name} (choose one of: {string.Join(", ", allowed)})");
    });

    /// <summary>Restricts a string argument to <paramref name="allowed"/> with a one-line error listing them.</summary>
    internal static void OneOf(Argument<string> a, string what, IReadOnlyList<string> allowed) => a.Validators.Add(r =>
    {
        if (r.Tokens.Count == 1 && !allowed.Contains(r.Tokens[0].Value, StringComparer.OrdinalIgnoreCase))
            r.AddError($"unknown {what} '{r.Tokens[0].Value}' (choose one of: {string.Join(", ", allowed)})");
    });

    /// <summary>Loads a model (float or double file) as float, with a one-line error for a missing file or a file of another kind.</summary>
    internal static FlowModel<float> LoadModel(string path) => ModelKinds.Load(path, p => ModelFile.Load<float>(p, convert: true));

    internal static Argument<string> ModelArgument() => new("MODEL") { Description = "Model file written by 'nflow train' (.nflow)" };

    internal static string F(double v, string format = "F4") => v.ToString(format, CultureInfo.InvariantCulture);

    // ---- verbs ---------------------------------------------------------------------------------------------------

    private static Command Toy(CliContext ctx)
    {
        var name = new Argument<string>("NAME") { Description = "Data set: " + string.Join(", ", ToyDatasets.Names) };
        OneOf(name, "toy data set", ToyDatasets.Names);
        var n = Count("Number of events (default: 10000)");
        var output = Output("Output file; .npy writes NumPy float32, anything else CSV with a header (x0, x1, …)");
        var seed = Seed();
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

    private static Command Sample(CliContext ctx)
    {
        var model = ModelArgument();
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
        var output = Output("Output file; .npy writes NumPy float32, anything else CSV; '-' writes CSV to stdout; columns named as in training, values in the original units");
        var seed = Seed("Random seed of the sampling");
        var clamp = new Option<bool>("--clamp")
        {
            Description = "Clamp every column into its training range (off by default: samples follow the model's density; clamping turns the tails into point masses at the range's ends)",
        };
        var cmd = new Command("sample", "Draw events from a trained model, streamed to the output in blocks.") { model, n, output, seed, clamp };
        cmd.SetAction(r =>
        {
            OutputPaths.Check(r.GetValue(output), "--output");
            var m = LoadModel(r.GetValue(model)!);
            long count = r.GetValue(n) ?? 10_000;
            string path = r.GetValue(output)!;
            var rng = new Tensors.Rng(r.GetValue(seed));
            bool clamped = r.GetValue(clamp);
            string what = $"{count} samples ({string.Join(", ", m.Columns)})" + (clamped ? ", clamped into the training range" : "");
            using var interruption = ctx.Listen();
            var progress = new JobProgress(ctx, "nflow sample", count, "events", interruption);
            var report = new CallbackProgress<long>(done => progress.Report(done));
            if (path == "-")
            {
                SampleStream.WriteCsv(m, count, rng, ctx.Out, clamped, report);
                progress.Complete(count);
                ctx.Err.WriteLine($"wrote {what} to stdout");
                return 0;
            }
            if (path.EndsWith(".npy", StringComparison.OrdinalIgnoreCase))
                AtomicFile.Write(path, fs => SampleStream.WriteNpy(m, count, rng, fs, clamped, report));
            else
                AtomicFile.Write(path, fs =>
                {
                    using var w = new StreamWriter(fs, new System.Text.UTF8Encoding(false), 1 << 16, leaveOpen: true);
                    SampleStream.WriteCsv(m, count, rng, w, clamped, report);
                });
            progress.Complete(count);
            ctx.Out.WriteLine($"wrote {what} to {path}");
            return 0;
        });
        return cmd;
    }

    private static Command LogProb(CliContext ctx)
    {
        var model = ModelArgument();
        var data = new Argument<string>("DATA") { Description = "Events to score (.csv or .npy) with the model's columns" };
        var output = new Option<string?>("--output", "-o") { Description = "File (.csv, or .npy by extension) with one column 'log_prob' (log p per event, original units, −∞ outside the model's domain); default: none, only the mean is printed", HelpName = "FILE" };
        var columns = Columns();
        var drop = DropInvalid();
        var cmd = new Command("logprob", "Score events: log p(x) per event and the mean log-likelihood ± its standard error.") { model, data, output, columns, drop };
        cmd.SetAction(r =>
        {
            OutputPaths.Check(r.GetValue(output), "--output");
            var m = LoadModel(r.GetValue(model)!);
            string path = r.GetValue(data)!;
            var table = DataIo.MatchModel(DataIo.Read(ctx, path, r.GetValue(columns), r.GetValue(drop)), m.Columns, path, ctx.Err);
            var lp = DataIo.LogProb(m, table);
            if (r.GetValue(output) is { } o) DataIo.Write(o, new Table(["log_prob"], lp, lp.Length));
            ctx.Out.WriteLine(DataIo.Summarise(lp, "mean log-likelihood").Line);
            if (r.GetValue(output) is { } written) ctx.Out.WriteLine($"wrote {written}");
            return 0;
        });
        return cmd;
    }

    private static Command Info(CliContext ctx)
    {
        var model = ModelArgument();
        var cmd = new Command("info", "Describe a model file: architecture, preprocessing, columns, training history, metadata.") { model };
        cmd.SetAction(r =>
        {
            ctx.Out.WriteLine(ModelKinds.Load(r.GetValue(model)!, ModelFile.Describe));
            return 0;
        });
        return cmd;
    }

    private static Command Eval(CliContext ctx)
    {
        var model = ModelArgument();
        var test = new Argument<string>("TEST") { Description = "Held-out test events (.csv or .npy) with the model's columns" };
        var output = Output("HTML report to write (self-contained, inline SVG)");
        var n = Count("Model samples to compare with (default: as many as test events)");
        var seed = Seed("Random seed of the sampling and the classifier");
        var columns = Columns();
        var drop = DropInvalid();
        var cmd = new Command("eval", "Evaluate a model on test data: HTML report with the test log-likelihood, marginals with ratio panels, pairwise densities, the training curve and a classifier two-sample test by an MLP and gradient-boosted trees on the same folds (both AUCs ± σ; the larger is the headline).")
        { model, test, output, n, seed, columns, drop };
        cmd.SetAction(r =>
        {
            string modelPath = r.GetValue(model)!, path = r.GetValue(test)!;
            OutputPaths.Check(r.GetValue(output), "--output", DataIo.CheckReportOutput);
            var m = LoadModel(modelPath);
            var table = DataIo.MatchModel(DataIo.Read(ctx, path, r.GetValue(columns), r.GetValue(drop)), m.Columns, path, ctx.Err);
            long s = r.GetValue(seed);
            var samples = DataIo.Sample(m, r.GetValue(n) ?? table.Rows, s);
            double[][] testColumns = table.ToColumns(), sampleColumns = samples.ToColumns();
            ctx.Out.WriteLine($"classifier two-sample test: {table.Rows} test events against {samples.Rows} samples …");
            var c2st = ClassifierTwoSampleTest.RunBoth(testColumns, sampleColumns, new ClassifierOptions { Seed = s });
            var ll = DataIo.Summarise(DataIo.LogProb(m, table), "test log-likelihood");
            var report = EvaluationReport.Build([.. m.Columns], testColumns, sampleColumns, ll.Outside == table.Rows ? null : (ll.Mean, ll.StandardError), m.History, c2st, new EvaluationReportOptions
            {
                Title = $"nflow eval — {Path.GetFileName(modelPath)} on {Path.GetFileName(path)}",
                ModelDescription = $"{m.Spec.Summary()}, {m.ParameterCount():N0} parameters ({Path.GetFileName(modelPath)})",
                OutsideDomain = ll.Outside,
            });
            report.Save(r.GetValue(output)!);
            ctx.Out.WriteLine(ll.Line);
            ctx.Out.WriteLine($"classifier AUC: {F(c2st.Auc)} ± {F(c2st.AucError)} ({c2st.Headline.Judge}, the larger of two judges; " +
                $"MLP {F(c2st.Mlp.Auc)} ± {F(c2st.Mlp.AucError)}, GBDT {F(c2st.Trees.Auc)} ± {F(c2st.Trees.AucError)}; 0.5: indistinguishable)");
            ctx.Out.WriteLine($"wrote {r.GetValue(output)}");
            return 0;
        });
        return cmd;
    }

    private static Command Reweight(CliContext ctx)
    {
        var model = ModelArgument();
        var data = new Argument<string>("DATA") { Description = "Reference (data) events (.csv or .npy) with the model's columns" };
        var output = Output("CSV file of the GENERATED events: the model's columns followed by a 'weight' column");
        var n = Count("Events to generate and weight (default: as many as DATA events)");
        var seed = Seed("Random seed of the sampling and the classifier");
        var minW = new Option<double>("--min-weight") { Description = "Weights below this are raised to it", DefaultValueFactory = _ => 0.01 };
        var maxW = new Option<double>("--max-weight") { Description = "Weights above this are lowered to it", DefaultValueFactory = _ => 100.0 };
        var columns = Columns();
        var drop = DropInvalid();
        var cmd = new Command("reweight",
            "DCTR reweighting: generates N events from the model, trains a classifier of DATA (label 1) against them (label 0, " +
            "5-fold cross-fitted; MLP, with gradient-boosted trees as a second judge of the AUC), and writes the generated events with weights w(x) = D/(1 − D) ≈ p_data(x)/p_model(x), clipped " +
            "to [--min-weight, --max-weight] and normalised to mean 1. The weights belong to the generated events in the output " +
            "file (not to DATA): weighting them makes the model's sample look like DATA.")
        { model, data, output, n, seed, minW, maxW, columns, drop };
        cmd.SetAction(r =>
        {
            OutputPaths.Check(r.GetValue(output), "--output");
            var m = LoadModel(r.GetValue(model)!);
            string path = r.GetValue(data)!;
            var table = DataIo.MatchModel(DataIo.Read(ctx, path, r.GetValue(columns), r.GetValue(drop)), m.Columns, path, ctx.Err);
            long s = r.GetValue(seed);
            var generated = DataIo.Sample(m, r.GetValue(n) ?? table.Rows, s);
            var result = Reweighting.Dctr(table.ToColumns(), generated.ToColumns(), new ReweightingOptions
            {
                Classifier = new ClassifierOptions { Seed = s },
                MinWeight = r.GetValue(minW),
                MaxWeight = r.GetValue(maxW),
            });
            int d = generated.Cols;
            var values = new double[generated.Rows * (d + 1)];
            for (int i = 0; i < generated.Rows; i++)
            {
                for (int j = 0; j < d; j++) values[i * (d + 1) + j] = generated[i, j];
                values[i * (d + 1) + d] = result.Weights[i];
            }
            string[] names = [.. generated.Columns, generated.Columns.Contains("weight") ? "dctr_weight" : "weight"];
            Csv.Write(r.GetValue(output)!, new Table(names, values, generated.Rows));
            var v = result.Verdict!;
            ctx.Out.WriteLine($"classifier AUC (data vs model, before weighting): {F(v.Auc)} ± {F(v.AucError)} ({v.Headline.Judge}, the larger of two judges; " +
                $"MLP {F(v.Mlp.Auc)} ± {F(v.Mlp.AucError)}, GBDT {F(v.Trees.Auc)} ± {F(v.Trees.AucError)}); the weights come from the MLP");
            ctx.Out.WriteLine($"weights: {result.Clipped} clipped, effective sample size {F(result.EffectiveSampleSize, "F0")} of {generated.Rows}");
            ctx.Out.WriteLine($"wrote {generated.Rows} generated events with weights to {r.GetValue(output)}");
            return 0;
        });
        return cmd;
    }

    private static Command DemoCommand(CliContext ctx)
    {
        var data = new Option<string>("--data") { Description = "Toy data set", DefaultValueFactory = _ => "moons" };
        OneOf(data, "toy data set", [.. ToyDatasets.Names.Where(x => x != "tab18")]);
        var epochs = new Option<int>("--epochs") { Description = "Training epochs", DefaultValueFactory = _ => 40 };
        Positive(epochs);
        var output = Output("HTML report to write", "demo-report.html");
        var seed = Seed();
        var cmd = new Command("demo", "Train a neural spline flow on a toy data set and write an HTML report (data vs samples, learned density, marginals, training curve).")
        { data, epochs, output, seed };
        cmd.SetAction(r =>
        {
            OutputPaths.Check(r.GetValue(output), "--output", DataIo.CheckReportOutput);
            return Demo.Run(r.GetValue(data)!, r.GetValue(output)!, r.GetValue(epochs), r.GetValue(seed), ctx.Out);
        });
        return cmd;
    }
}
