using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Numerics;
using NormalizingFlows.Data;
using NormalizingFlows.Distributed;
using NormalizingFlows.Data.Preprocessing;
using NormalizingFlows.Hep.Evaluation;
using NormalizingFlows.Models;
using NormalizingFlows.Nn.Embeddings;
using NormalizingFlows.Tensors;
using NormalizingFlows.Training;
using Spectre.Console;
using Table = NormalizingFlows.Data.Table;

namespace NormalizingFlows.Cli;

/// <summary><c>nflow train</c>: fit a flow by maximum likelihood, with checkpoints, resumption and optional DiscFlow refinement.</summary>
internal static class TrainCommand
{
    public static Command Build(CliContext console)
    {
        var data = new Argument<string>("DATA") { Description = "Training events (.csv with a header, .npy or .parquet)" };
        var output = Commands.Output("Model file to write (atomically, at the end)", "model.nflow");
        var flow = new Option<string>("--flow") { Description = "Flow architecture: " + string.Join(", ", Commands.TrainableFlows), DefaultValueFactory = _ => "nsf" };
        Commands.OneOf(flow, "flow", Commands.TrainableFlows);
        var layers = new Option<int>("--layers") { Description = "Layers (coupling/autoregressive steps; glow steps; planar maps)", DefaultValueFactory = _ => 5 };
        var hidden = new Option<int>("--hidden") { Description = "Hidden units of each conditioner network", DefaultValueFactory = _ => 128 };
        var bins = new Option<int>("--bins") { Description = "Spline bins (nsf, maf-rqs)", DefaultValueFactory = _ => 8 };
        var bound = new Option<double>("--bound") { Description = "Spline interval [−B, B] in standardised units (nsf, maf-rqs); linear tails outside", DefaultValueFactory = _ => 3.0, HelpName = "B" };
        bound.Validators.Add(r =>
        {
            if (r.Tokens.Count == 1 && double.TryParse(r.Tokens[0].Value, NumberStyles.Float, CultureInfo.InvariantCulture, out double b) && !(b > 0 && double.IsFinite(b)))
                r.AddError($"--bound must be a positive finite number, got {r.Tokens[0].Value}");
        });
        var bounds = new Option<string[]>("--bounds")
        {
            Description = "Known domain of a column, COLUMN=LOW:HIGH (an end may be empty: pt=15: bounds only below); repeat or comma-separate; overrides the automatic choice; the model's density is zero outside; default: none",
            HelpName = "COL=LO:HI",
            AllowMultipleArgumentsPerToken = false,
        };
        var periodic = new Option<string[]>("--periodic")
        {
            Description = "Angle columns, COLUMN or COLUMN=LOW:HIGH (the period; default [-pi, pi)); repeat or comma-separate; each is mapped onto [-pi, pi) and modelled on the circle by circular splines (nsf and maf-rqs; values outside the period are wrapped into it); needs --preprocess auto; default: none",
            HelpName = "COL[=LO:HI]",
            AllowMultipleArgumentsPerToken = false,
        };
        var epochs = new Option<int>("--epochs") { Description = "Passes over the training set", DefaultValueFactory = _ => 20 };
        var batch = new Option<int>("--batch") { Description = "Events per minibatch", DefaultValueFactory = _ => 512 };
        var lr = new Option<double>("--lr") { Description = "Adam learning rate (cosine decay to 0 over the run)", DefaultValueFactory = _ => 1e-3 };
        var val = new Option<string>("--val")
        {
            Description = "Validation: a FRACTION in [0, 1) of DATA held out at random (0: none), or a FILE of validation events; the best validation epoch's parameters are kept",
            DefaultValueFactory = _ => "0.1",
            HelpName = "FRACTION|FILE",
        };
        var patience = new Option<int>("--patience") { Description = "Stop after this many epochs without validation improvement (0: never)", DefaultValueFactory = _ => 0 };
        var seed = Commands.Seed("Seed of the initialisation, validation split, shuffling and dequantization noise");
        var columns = Commands.Columns();
        var drop = Commands.DropInvalid();
        var preprocess = new Option<string>("--preprocess")
        {
            Description = "Preprocessing in front of the flow, fitted on the training split: auto (per column: dequantize integers; a sharp edge bounds only its own side — both ends: minmax-logit, one end: a log open on the other side; log for skewed positive columns; else standardize), standardize, or none",
            DefaultValueFactory = _ => "auto",
        };
        Commands.OneOf(preprocess, "preprocessing", ["auto", "none", "standardize"]);
        var checkpoint = new Option<string?>("--checkpoint")
        {
            Description = "Checkpoint written at every epoch end and on Ctrl-C (deleted after success); default: the --resume file, else OUTPUT.ckpt",
            HelpName = "FILE",
        };
        var resume = new Option<string?>("--resume")
        {
            Description = "Continue an interrupted run from its checkpoint (give the same DATA and options); default: start fresh",
            HelpName = "CHECKPOINT",
        };
        var refine = new Option<int?>("--refine-with-classifier")
        {
            Description = "After training, run ROUNDS DiscFlow rounds (classifier of data vs samples → per-event weights → weighted retraining for --epochs) and print the AUC before and after; default: off, 1 round when given without a value",
            HelpName = "ROUNDS",
            Arity = ArgumentArity.ZeroOrOne,
            CustomParser = Commands.WholeNumber,
        };
        refine.Validators.Add(r =>
        {
            if (r.Tokens.Count == 1 && int.TryParse(r.Tokens[0].Value, CultureInfo.InvariantCulture, out int k) && k < 1)
                r.AddError($"--refine-with-classifier must be ≥ 1 round, got {k}");
        });
        var weights = new Option<string?>("--weights")
        {
            Description = "Column of DATA (and of a --val FILE) holding per-event weights, negative ones allowed: the likelihood is weighted by them and the column is not modelled; default: unweighted",
            HelpName = "COL",
        };
        var context = new Option<string?>("--context")
        {
            Description = "Columns of DATA (and of a --val FILE) to condition on: trains p(x | context) (a conditional flow); they are not modelled, and are standardised on the training split; sample and logprob then need them; default: unconditional",
            HelpName = "COL[,COL…]",
        };
        var embedding = new Option<string?>("--embedding")
        {
            Description = "A summary network of the context, trained with the flow: mlp:FEATURES[:HIDDEN[:LAYERS]] (defaults 64 hidden units, 2 layers); needs --context; default: none (the flow reads the context directly)",
            HelpName = "mlp:F[:H[:L]]",
        };
        var clip = new Option<double>("--clip")
        {
            Description = "Gradient-norm clipping: each step's gradient is scaled down to a global norm of at most NORM (0: no clipping)",
            DefaultValueFactory = _ => 10.0,
            HelpName = "NORM",
        };
        Commands.NonNegative(clip, "a gradient norm > 0, or 0 for no clipping");
        var weightDecay = new Option<double>("--weight-decay")
        {
            Description = "Decoupled weight decay per step (AdamW) when > 0; 0: plain Adam",
            DefaultValueFactory = _ => 0.0,
            HelpName = "LAMBDA",
        };
        Commands.NonNegative(weightDecay, "a finite number ≥ 0");
        var dtype = new Option<string>("--dtype")
        {
            Description = "Precision of the model's parameters and arithmetic: float32 or float64 (slower; sample and logprob then compute in float64 too)",
            DefaultValueFactory = _ => "float32",
        };
        Commands.OneOf(dtype, "dtype", ["float32", "float64"]);
        var distributed = new Option<bool>("--distributed")
        {
            Description = "Data-parallel training over MPI (Open MPI): start as 'mpirun -np N nflow train … --distributed'; every rank reads DATA and trains on its share of each --batch, the gradients are summed before each step (the model of a single-process run, to rounding); rank 0 prints, checkpoints and writes the model; --resume works on any number of ranks; default: one process",
        };
        var device = DeviceOption.Create("training");
        var cancelAfter = new Option<long?>("--cancel-after-steps") { Description = "Testing: act as if Ctrl-C was pressed after this many steps", Hidden = true };
        foreach (var o in new[] { layers, hidden, bins, epochs, batch }) Commands.Positive(o);
        Commands.NonNegative(patience);
        var cmd = new Command("train", "Train a normalizing flow on a table of events by maximum likelihood. Shows a live progress bar on a terminal (plain lines otherwise); Ctrl-C writes a checkpoint that --resume continues from.")
        {
            data, output, flow, layers, hidden, bins, bound, bounds, periodic, epochs, batch, lr, val, patience, seed, columns, drop, preprocess, weights, context, embedding, clip, weightDecay, dtype,
            checkpoint, resume, refine, distributed, device, cancelAfter,
        };
        cmd.SetAction(r =>
        {
            var ctx = console;
            string dataPath = r.GetValue(data)!, outPath = r.GetValue(output)!;
            string? resumeFrom = r.GetValue(resume);
            if (resumeFrom is not null && !File.Exists(resumeFrom)) throw new ArgumentException($"--resume: no checkpoint at {resumeFrom}");
            string ckpt = r.GetValue(checkpoint) ?? resumeFrom ?? outPath + ".ckpt";
            OutputPaths.CheckAll(("--output", outPath), ("--checkpoint", ckpt));
            var periods = r.GetValue(periodic) is { Length: > 0 } angles ? ParsePeriods(angles) : null;
            if (periods is not null && r.GetValue(preprocess) != "auto")
                throw new UsageException($"--periodic needs --preprocess auto (it sets the preprocessing of the angle columns), got --preprocess {r.GetValue(preprocess)}");
            if (periods is not null && r.GetValue(flow) is not ("nsf" or "maf-rqs"))
                throw new UsageException($"--periodic needs circular splines: use --flow nsf or --flow maf-rqs, not {r.GetValue(flow)}");
            var given = r.GetValue(bounds) is { Length: > 0 } b ? ParseBounds(b) : null;
            if (given is not null && r.GetValue(preprocess) != "auto")
                throw new UsageException($"--bounds needs --preprocess auto (it sets the preprocessing of the bounded columns), got --preprocess {r.GetValue(preprocess)}");
            var contextColumns = ContextColumns(r.GetValue(context), r.GetValue(weights), r.GetValue(columns));
            var embeddingSpec = r.GetValue(embedding) is { } e ? Embedding(e, contextColumns) : null;
            if (contextColumns.Length > 0 && r.GetResult(refine) is not null)
                throw new UsageException("--refine-with-classifier works on unconditional flows only: leave out --context or the refinement");
            MpiGroup? group = null;
            if (r.GetValue(distributed))
            {
                if (r.GetResult(refine) is not null) throw new UsageException("--refine-with-classifier runs in one process: leave out --distributed or the refinement");
                try { group = MpiGroup.Start(Environment.GetEnvironmentVariable(MpiLibraryVariable)); }
                catch (NotSupportedException missing)
                {
                    ctx.Err.WriteLine($"nflow: error: --distributed: {missing.Message}");
                    return Program.ExitError;
                }
                // the other ranks compute what rank 0 computes: rank 0 alone speaks and writes
                if (group.Rank != 0) ctx = new CliContext(TextWriter.Null, console.Err) { ProgressInterval = console.ProgressInterval, SimulatedSignal = console.SimulatedSignal };
            }
            string deviceName = r.GetValue(device)!;
            if (deviceName != "cpu" && r.GetValue(dtype) == "float64")
                throw new UsageException($"--device {deviceName} trains in float32: leave out --dtype float64 or --device");
            using var accelerator = DeviceOption.Open(deviceName);
            using (group)
            {
                try { return DeviceOption.Refusing(deviceName, () => r.GetValue(dtype) == "float64" ? Train<double>() : Train<float>()); }
                catch (Exception failure) when (group is { Size: > 1 })
                {
                    // one rank failing alone would leave the others waiting in a gradient sum: end the whole job
                    console.Err.WriteLine($"nflow: error on rank {group.Rank} of {group.Size}: {Program.UserMessage(failure)}");
                    group.Abort(Program.ExitError);
                    throw;
                }
            }

            int Train<T>() where T : unmanaged, IFloatingPointIeee754<T>
            {
                long s = r.GetValue(seed);
                string? weightColumn = r.GetValue(weights);
                string? columnList = WithColumns(r.GetValue(columns), [.. weightColumn is null ? Array.Empty<string>() : [weightColumn], .. contextColumns]);
                bool dropInvalid = r.GetValue(drop);
                Table Read(string path)
                {
                    var t = DataIo.Read(ctx, path, columnList, dropInvalid);
                    if (weightColumn is not null && !t.Columns.Contains(weightColumn))
                        throw new ArgumentException($"--weights {weightColumn}: {path} has no such column (columns: {string.Join(", ", t.Columns)})");
                    if (contextColumns.FirstOrDefault(c => !t.Columns.Contains(c)) is { } missing)
                        throw new ArgumentException($"--context {missing}: {path} has no such column (columns: {string.Join(", ", t.Columns)})");
                    return typeof(T) == typeof(float) ? TrainingChecks.FloatRange(ctx, t, path, dropInvalid) : t;
                }
                var table = Read(dataPath);
                var (fraction, validationTable) = Validation(r.GetValue(val)!, table, Read, ctx.Err);
                string[] apart = [.. weightColumn is null ? Array.Empty<string>() : [weightColumn], .. contextColumns];
                if (table.Columns.All(apart.Contains))
                    throw new UsageException($"{dataPath}: every column is a weight or context column ({string.Join(", ", apart)}): no column is left to model");
                var events = apart.Length == 0 ? table : table.SelectColumns([.. table.Columns.Where(c => !apart.Contains(c))]);
                TrainingChecks.Degenerate(ctx, events, dataPath);

                var spec = new FlowSpec
                {
                    Builder = r.GetValue(flow)!, Features = events.Cols, Layers = r.GetValue(layers), Hidden = r.GetValue(hidden),
                    Bins = r.GetValue(flow) is "nsf" or "maf-rqs" ? r.GetValue(bins) : null, Bound = r.GetValue(bound), Seed = s, DType = FlowSpec.DTypeOf<T>(),
                };
                var options = new TrainingOptions
                {
                    Epochs = r.GetValue(epochs), BatchSize = r.GetValue(batch), LearningRate = r.GetValue(lr), Seed = s,
                    Patience = r.GetValue(patience), CheckpointPath = ckpt, ValidationFraction = fraction, ReportEverySteps = ReportEvery(ctx, r.GetValue(cancelAfter)),
                    ClipNorm = r.GetValue(clip) is > 0 and var c ? c : null, WeightDecay = r.GetValue(weightDecay),
                    RunSettings = RunSettings.Of(r, "--checkpoint", "--resume", "--output", "--cancel-after-steps", "--refine-with-classifier", "--device"), // a run resumes on any device
                    DataDescription = Path.GetFileName(dataPath), DataParallel = group, Device = accelerator,
                };
                FlowModelTrainer<T> fit;
                try
                {
                    fit = new FlowModelTrainer<T>(spec, table, new FlowFitOptions
                    {
                        Training = options, Bounds = given, Periodic = periods, WeightColumn = weightColumn, ContextColumns = contextColumns, Embedding = embeddingSpec,
                        Preprocessing = r.GetValue(preprocess) switch { "none" => FlowPreprocessing.None, "standardize" => FlowPreprocessing.Standardize, _ => FlowPreprocessing.Auto },
                    }, validationTable);
                }
                catch (ArgumentException ex) when (ex.ParamName == "data") { throw new ArgumentException($"{dataPath}: {Program.UserMessage(ex)}", ex); }
                var model = fit.Model;
                if (fit.ValidationOutsideDomain > 0)
                    ctx.Err.WriteLine($"nflow: {fit.ValidationOutsideDomain} of {fit.ValidationOutsideDomain + (fit.ValidationData?.Rows ?? 0)} validation event(s) lie outside the preprocessing's domain fitted on the training split " +
                        "(beyond a bounded side of a column: density zero); they are left out of the validation log-likelihood");
                ctx.Out.WriteLine($"nflow train: {fit.TrainingData.Rows} training" + (fit.ValidationData is null ? "" : $" and {fit.ValidationData.Rows} validation") +
                    $" events, {events.Cols} columns ({string.Join(", ", events.Columns)})" + (weightColumn is null ? "" : $", weighted by '{weightColumn}'") +
                    (contextColumns.Length == 0 ? "" : $", conditioned on ({string.Join(", ", contextColumns)})"));
                ctx.Out.WriteLine($"model: {model.Spec.Summary()}, {model.ParameterCount():N0} parameters; preprocessing: {Describe(model.Preprocessing)}" +
                    (contextColumns.Length == 0 ? "" : $"; context preprocessing: {Describe(model.ContextPreprocessing)}" + (embeddingSpec is null ? "" : $"; embedding {embeddingSpec.Kind} → {embeddingSpec.Features}")));
                if (resumeFrom is not null) ctx.Out.WriteLine($"resuming from {resumeFrom}");
                if (accelerator is not null) ctx.Out.WriteLine($"training on {accelerator.Name} ({deviceName})");
                if (group is not null) ctx.Out.WriteLine($"data-parallel over {group.Size} MPI rank(s): each trains on its share of every batch of {options.BatchSize}");

                using var interruption = ctx.Listen();
                var history = Fit(ctx, fit, interruption, resumeFrom, r.GetValue(cancelAfter));
                if (history.Outcome == TrainingOutcome.Cancelled)
                {
                    ctx.Err.WriteLine($"nflow: training interrupted by {interruption.SignalName} after {history.Steps} steps; checkpoint written to {ckpt}");
                    ctx.Err.WriteLine($"continue with the same command plus: --resume {ckpt}");
                    return interruption.ExitCode;
                }
                if (history.Epochs.Count > 0)
                    ctx.Out.WriteLine($"training {history.Outcome.ToString().ToLowerInvariant()} after {history.Epochs.Count} epoch(s), {history.Steps} steps" +
                        (history.BestEpoch is { } be && fit.ValidationData is not null ? $"; keeping epoch {be} (best validation log-likelihood)" : ""));
                if (fit.EvaluateValidation() is var (mean, se))
                    ctx.Out.WriteLine($"validation log-likelihood: {Commands.F(mean)} ± {Commands.F(se)} per event");

                if (r.GetResult(refine) is not null)
                {
                    int rounds = r.GetValue(refine) ?? 1;
                    ctx.Out.WriteLine($"DiscFlow refinement: {rounds} round(s) …");
                    var result = DiscFlowRefinement.Run(model.Flow, fit.TrainingData,
                        (f, round) => new MaximumLikelihoodTrainer<T>(f, options with { CheckpointPath = null, Patience = 0, ValidationFraction = 0, ReportEverySteps = int.MaxValue })
                        {
                            Progress = new PlainProgress(ctx.Out, $"  round {round}: "),
                        },
                        new DiscFlowOptions { Rounds = rounds, Seed = s, Classifier = new ClassifierOptions { Seed = s } }, trainFirst: false);
                    foreach (var round in result.Rounds)
                        ctx.Out.WriteLine($"  round {round.Round}: classifier {round.Verdict!.Describe()}");
                    ctx.Out.WriteLine($"classifier AUC before refinement: {Commands.F(result.VerdictBefore!.Auc)}, after: {Commands.F(result.VerdictAfter!.Auc)} " +
                        $"(the larger of MLP and GBDT; MLP {Commands.F(result.AucBefore)} → {Commands.F(result.AucAfter)}, " +
                        $"GBDT {Commands.F(result.VerdictBefore.Trees.Auc)} → {Commands.F(result.VerdictAfter.Trees.Auc)}; 0.5: indistinguishable)");
                    model.Metadata["cli.discflow.auc"] = string.Join(" ", result.Rounds.Select(x => Commands.F(x.Verdict!.Auc)));
                    model.Metadata["cli.discflow.auc.mlp"] = string.Join(" ", result.Rounds.Select(x => Commands.F(x.Auc)));
                    model.Metadata["cli.discflow.auc.gbdt"] = string.Join(" ", result.Rounds.Select(x => Commands.F(x.Verdict!.Trees.Auc)));
                }

                model.History = history;
                model.Metadata["cli.data"] = Path.GetFileName(dataPath);
                if (weightColumn is not null) model.Metadata["cli.weights"] = weightColumn;
                if (group is { Rank: not 0 }) return 0;
                ModelFile.Save(outPath, model);
                if (File.Exists(ckpt)) File.Delete(ckpt);
                ctx.Out.WriteLine($"wrote {outPath}");
                return 0;
            }
        });
        return cmd;
    }

    /// <summary>The environment variable naming the MPI library <c>--distributed</c> loads (default: Open MPI's libmpi.so.40).</summary>
    internal const string MpiLibraryVariable = "NFLOW_MPI_LIBRARY";

    /// <summary>Steps between progress reports: every step when testing interruptions, 10 on a terminal, else epoch ends only.</summary>
    private static int ReportEvery(CliContext ctx, long? cancelAfter) =>
        cancelAfter is not null || ctx.SimulatedSignal is not null ? 1 : ctx.IsInteractive ? 10 : int.MaxValue;

    private static TrainingHistory Fit<T>(CliContext ctx, FlowModelTrainer<T> fit, Interruption interruption, string? resumeFrom, long? cancelAfter)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        bool interactive = ctx.IsInteractive;
        bool testing = cancelAfter is not null || ctx.SimulatedSignal is not null;
        // the trainer stops at its next step once a signal arrived, writing its checkpoint first
        IProgress<TrainingProgress> Hook(IProgress<TrainingProgress> inner) => !testing ? inner
            : new CallbackProgress<TrainingProgress>(p =>
            {
                inner.Report(p);
                interruption.Poll();
                if (p.Step >= cancelAfter) interruption.Request(System.Runtime.InteropServices.PosixSignal.SIGINT);
            });
        if (!interactive)
        {
            fit.Progress = Hook(new PlainProgress(ctx.Out, ""));
            return fit.Fit(interruption.Token, resumeFrom);
        }
        TrainingHistory? history = null;
        AnsiConsole.Progress()
            .AutoClear(false)
            .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn(), new SpinnerColumn())
            .Start(p =>
            {
                var task = p.AddTask("starting …", maxValue: 1);
                fit.Progress = Hook(new CallbackProgress<TrainingProgress>(r =>
                {
                    task.MaxValue = r.TotalSteps;
                    task.Value = r.Step;
                    string v = r.ValidationLogLikelihood is { } x ? Commands.F(x) : "–";
                    task.Description = Markup.Escape($"epoch {r.Epoch} · {r.StepsPerSecond:F0} steps/s · train log-lik {Commands.F(-r.Loss)} · val {v}");
                }));
                history = fit.Fit(interruption.Token, resumeFrom);
                task.StopTask();
            });
        return history!;
    }

    /// <summary>
    /// The validation of <c>--val</c>: a fraction of DATA held out at random (the library splits), or the events of a
    /// file read with <paramref name="read"/> and matched to <paramref name="table"/>'s columns.
    /// </summary>
    private static (double Fraction, Table? File) Validation(string val, Table table, Func<string, Table> read, TextWriter err)
    {
        if (double.TryParse(val, NumberStyles.Float, CultureInfo.InvariantCulture, out double fraction) && !File.Exists(val))
        {
            if (!(fraction >= 0 && fraction < 1)) throw new UsageException($"--val must be a fraction in [0, 1) or a file, got {val}");
            return (fraction, null);
        }
        return (0, DataIo.MatchModel(read(val), table.Columns, val, err));
    }

    /// <summary>The <c>--columns</c> list with the <c>--weights</c> and <c>--context</c> columns added when the list leaves them out (null: all columns).</summary>
    private static string? WithColumns(string? columns, string[] added)
    {
        if (columns is null) return columns;
        var listed = ListedColumns(columns);
        return string.Join(",", [columns, .. added.Where(c => !listed.Contains(c))]);
    }

    // the names a --columns list gives its columns (new=old: new)
    private static HashSet<string> ListedColumns(string columns) =>
        columns.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).Select(c => c.Split('=', 2)[0].Trim()).ToHashSet(StringComparer.Ordinal);

    /// <summary>
    /// The <c>--context</c> columns (empty: unconditional), refused when empty, repeated, the <c>--weights</c> column,
    /// or also listed in <c>--columns</c> (a column is modelled or a context, not both).
    /// </summary>
    private static string[] ContextColumns(string? context, string? weightColumn, string? columns)
    {
        if (context is null) return [];
        var names = context.Split(',', StringSplitOptions.TrimEntries);
        if (names.Any(n => n.Length == 0)) throw new UsageException($"--context must list column names separated by commas, got '{context}'");
        if (names.GroupBy(n => n, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1) is { } twice)
            throw new UsageException($"--context names '{twice.Key}' twice");
        if (weightColumn is not null && names.Contains(weightColumn))
            throw new UsageException($"--context {weightColumn}: it is the --weights column; a column is a weight or a context, not both");
        if (columns is not null && names.FirstOrDefault(ListedColumns(columns).Contains) is { } both)
            throw new UsageException($"--context {both}: it is also listed in --columns as a data column; a column is modelled or a context, not both (leave it out of --columns: context columns are read anyway)");
        return names;
    }

    /// <summary>Parses <c>--embedding mlp:FEATURES[:HIDDEN[:LAYERS]]</c> (needs <c>--context</c>).</summary>
    private static EmbeddingSpec Embedding(string text, string[] contextColumns)
    {
        if (contextColumns.Length == 0) throw new UsageException($"--embedding {text} needs --context (it summarises the context)");
        var parts = text.Split(':');
        if (parts[0] != EmbeddingSpec.Mlp || parts.Length is < 2 or > 4)
            throw new UsageException($"--embedding must be mlp:FEATURES[:HIDDEN[:LAYERS]] (e.g. mlp:8 or mlp:8:64:2), got '{text}'");
        var sizes = new int[parts.Length - 1];
        string[] what = ["FEATURES", "HIDDEN", "LAYERS"];
        for (int i = 0; i < sizes.Length; i++)
            if (!int.TryParse(parts[i + 1], NumberStyles.None, CultureInfo.InvariantCulture, out sizes[i]) || sizes[i] < 1)
                throw new UsageException($"--embedding {text}: {what[i]} must be a positive whole number, got '{parts[i + 1]}'");
        var spec = new EmbeddingSpec { Kind = EmbeddingSpec.Mlp, Features = sizes[0] };
        if (sizes.Length > 1) spec = spec with { Hidden = sizes[1] };
        if (sizes.Length > 2) spec = spec with { Layers = sizes[2] };
        return spec;
    }

    private static Dictionary<string, ColumnBounds> ParseBounds(string[] entries)
    {
        try { return ColumnBounds.Parse(entries); }
        catch (FormatException ex) { throw new UsageException("--bounds: " + ex.Message); }
    }

    private static Dictionary<string, ColumnBounds> ParsePeriods(string[] entries)
    {
        try { return ColumnBounds.ParsePeriods(entries); }
        catch (FormatException ex) { throw new UsageException("--periodic: " + ex.Message); }
    }

    private static string Describe<T>(PreprocessingPipeline<T>? p) where T : unmanaged, IFloatingPointIeee754<T> => p is null ? "none"
        : string.Join(", ", p.Spec.Columns.Select(c => $"{c.Name}: {PreprocessingSpec.KindName(c.Kind)}"));

    /// <summary>One line per report: epoch, step, throughput, train and validation log-likelihood, ETA.</summary>
    private sealed class PlainProgress(TextWriter output, string prefix) : IProgress<TrainingProgress>
    {
        public void Report(TrainingProgress p)
        {
            double eta = p.StepsPerSecond > 0 ? (p.TotalSteps - p.Step) / p.StepsPerSecond : double.NaN;
            string v = p.ValidationLogLikelihood is { } x ? Commands.F(x) : "–";
            output.WriteLine($"{prefix}epoch {p.Epoch,3}  step {p.Step,6}/{p.TotalSteps}  {p.StepsPerSecond,6:F0} steps/s  train log-lik {Commands.F(-p.Loss),8}  validation {v,8}  ETA {Eta(eta)}");
        }

        private static string Eta(double seconds) => double.IsFinite(seconds) ? TimeSpan.FromSeconds(Math.Round(seconds)).ToString(@"h\:mm\:ss", CultureInfo.InvariantCulture) : "–";
    }
}
