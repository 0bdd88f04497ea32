using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using NormalizingFlows.Data;
using NormalizingFlows.Data.Preprocessing;
using NormalizingFlows.Hep.Evaluation;
using NormalizingFlows.Models;
using NormalizingFlows.Tensors;
using NormalizingFlows.Training;
using Spectre.Console;
using Table = NormalizingFlows.Data.Table;

namespace NormalizingFlows.Cli;

/// <summary><c>nflow train</c>: fit a flow by maximum likelihood, with checkpoints, resumption and optional DiscFlow refinement.</summary>
internal static class TrainCommand
{
    public static Command Build(CliContext ctx)
    {
        var data = new Argument<string>("DATA") { Description = "Training events (.csv with a header, or .npy)" };
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
            Description = "Reserved for angle columns (a circular domain); not implemented yet: refused with a hint to use --bounds; default: none",
            HelpName = "COLUMNS",
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
        var cancelAfter = new Option<long?>("--cancel-after-steps") { Description = "Testing: act as if Ctrl-C was pressed after this many steps", Hidden = true };
        foreach (var o in new[] { layers, hidden, bins, epochs, batch }) Commands.Positive(o);
        Commands.NonNegative(patience);
        var cmd = new Command("train", "Train a normalizing flow on a table of events by maximum likelihood. Shows a live progress bar on a terminal (plain lines otherwise); Ctrl-C writes a checkpoint that --resume continues from.")
        {
            data, output, flow, layers, hidden, bins, bound, bounds, periodic, epochs, batch, lr, val, patience, seed, columns, drop, preprocess, checkpoint, resume, refine, cancelAfter,
        };
        cmd.SetAction(r =>
        {
            string dataPath = r.GetValue(data)!, outPath = r.GetValue(output)!;
            string? resumeFrom = r.GetValue(resume);
            if (resumeFrom is not null && !File.Exists(resumeFrom)) throw new ArgumentException($"--resume: no checkpoint at {resumeFrom}");
            string ckpt = r.GetValue(checkpoint) ?? resumeFrom ?? outPath + ".ckpt";
            OutputPaths.CheckAll(("--output", outPath), ("--checkpoint", ckpt));
            long s = r.GetValue(seed);
            if (r.GetValue(periodic) is { Length: > 0 } angles)
                throw new UsageException($"--periodic ({string.Join(",", angles)}) is reserved for angle columns and not implemented yet (it needs circular splines); give the domain instead, e.g. --bounds {angles[0].Split(',')[0]}=-3.1416:3.1416");
            var given = r.GetValue(bounds) is { Length: > 0 } b ? ParseBounds(b) : null;
            if (given is not null && r.GetValue(preprocess) != "auto")
                throw new UsageException($"--bounds needs --preprocess auto (it sets the preprocessing of the bounded columns), got --preprocess {r.GetValue(preprocess)}");
            var table = TrainingChecks.FloatRange(ctx, DataIo.Read(ctx, dataPath, r.GetValue(columns), r.GetValue(drop)), dataPath, r.GetValue(drop));
            var (train, validation) = Split(ctx, table, r.GetValue(val)!, s, r.GetValue(columns), r.GetValue(drop));
            if (train.Rows == 0) throw new ArgumentException($"{dataPath}: no training events left after the validation split");
            TrainingChecks.Degenerate(ctx, table, dataPath);

            // preprocessing is fitted on the training split only; validation events outside its domain are reported
            PreprocessingPipeline<float>? pipeline = r.GetValue(preprocess) switch
            {
                "none" => null,
                "standardize" => PreprocessingPipeline.Fit<float>(train, PreprocessingSpec.Uniform(train.Columns, PreprocessingKind.Standardize)),
                _ => PreprocessingPipeline.Fit<float>(train, PreprocessingSpec.Auto(train, given)),
            };
            var spec = new FlowSpec
            {
                Builder = r.GetValue(flow)!, Features = table.Cols, Layers = r.GetValue(layers), Hidden = r.GetValue(hidden),
                Bins = r.GetValue(flow) is "nsf" or "maf-rqs" ? r.GetValue(bins) : null, Bound = r.GetValue(bound), Seed = s,
            };
            validation = TrainingChecks.InsideDomain(ctx, pipeline, validation);
            var model = new FlowModel<float>(spec, pipeline, table.Columns);
            var rng = new Rng(s);
            var trainData = model.MakeTrainingData(train.ToTensor<float>(), rng);
            var valData = validation is null ? null : model.MakeTrainingData(validation.ToTensor<float>(), rng);

            var options = new TrainingOptions
            {
                Epochs = r.GetValue(epochs), BatchSize = r.GetValue(batch), LearningRate = r.GetValue(lr), Seed = s,
                Patience = r.GetValue(patience), CheckpointPath = ckpt,
                RunSettings = RunSettings.Of(r, "--checkpoint", "--resume", "--output", "--cancel-after-steps", "--refine-with-classifier"),
                DataDescription = Path.GetFileName(dataPath),
            };
            ctx.Out.WriteLine($"nflow train: {train.Rows} training" + (validation is null ? "" : $" and {validation.Rows} validation") +
                $" events, {table.Cols} columns ({string.Join(", ", table.Columns)})");
            ctx.Out.WriteLine($"model: {spec.Summary()}, {model.ParameterCount():N0} parameters; preprocessing: {Describe(pipeline)}");
            if (resumeFrom is not null) ctx.Out.WriteLine($"resuming from {resumeFrom}");

            using var interruption = ctx.Listen();
            var history = Fit(ctx, model, options, trainData, valData, interruption, resumeFrom, r.GetValue(cancelAfter));
            if (history.Outcome == TrainingOutcome.Cancelled)
            {
                ctx.Err.WriteLine($"nflow: training interrupted by {interruption.SignalName} after {history.Steps} steps; checkpoint written to {ckpt}");
                ctx.Err.WriteLine($"continue with the same command plus: --resume {ckpt}");
                return interruption.ExitCode;
            }
            if (history.Epochs.Count > 0)
            {
                var last = history.Epochs[^1];
                ctx.Out.WriteLine($"training {history.Outcome.ToString().ToLowerInvariant()} after {history.Epochs.Count} epoch(s), {history.Steps} steps" +
                    (history.BestEpoch is { } be && valData is not null ? $"; keeping epoch {be} (best validation log-likelihood)" : ""));
            }
            if (valData is not null)
            {
                var (mean, se) = MaximumLikelihoodTrainer<float>.Evaluate(model.Flow, valData);
                ctx.Out.WriteLine($"validation log-likelihood: {Commands.F(mean)} ± {Commands.F(se)} per event");
            }

            if (r.GetResult(refine) is not null)
            {
                int rounds = r.GetValue(refine) ?? 1;
                ctx.Out.WriteLine($"DiscFlow refinement: {rounds} round(s) …");
                var result = DiscFlowRefinement.Run(model.Flow, trainData,
                    (f, round) => new MaximumLikelihoodTrainer<float>(f, options with { CheckpointPath = null, Patience = 0, ValidationFraction = 0, ReportEverySteps = int.MaxValue })
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
            ModelFile.Save(outPath, model);
            if (File.Exists(ckpt)) File.Delete(ckpt);
            ctx.Out.WriteLine($"wrote {outPath}");
            return 0;
        });
        return cmd;
    }

    private static TrainingHistory Fit(CliContext ctx, FlowModel<float> model, TrainingOptions options, TrainingData<float> train, TrainingData<float>? validation,
        Interruption interruption, string? resumeFrom, long? cancelAfter)
    {
        bool interactive = ctx.IsInteractive;
        bool testing = cancelAfter is not null || ctx.SimulatedSignal is not null;
        options = options with { ReportEverySteps = testing ? 1 : interactive ? 10 : int.MaxValue };
        var trainer = new MaximumLikelihoodTrainer<float>(model.Flow, options);
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
            trainer.Progress = Hook(new PlainProgress(ctx.Out, ""));
            return trainer.Fit(train, validation, interruption.Token, resumeFrom);
        }
        TrainingHistory? history = null;
        AnsiConsole.Progress()
            .AutoClear(false)
            .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn(), new SpinnerColumn())
            .Start(p =>
            {
                var task = p.AddTask("starting …", maxValue: 1);
                trainer.Progress = Hook(new CallbackProgress<TrainingProgress>(r =>
                {
                    task.MaxValue = r.TotalSteps;
                    task.Value = r.Step;
                    string v = r.ValidationLogLikelihood is { } x ? Commands.F(x) : "–";
                    task.Description = Markup.Escape($"epoch {r.Epoch} · {r.StepsPerSecond:F0} steps/s · train log-lik {Commands.F(-r.Loss)} · val {v}");
                }));
                history = trainer.Fit(train, validation, interruption.Token, resumeFrom);
                task.StopTask();
            });
        return history!;
    }

    /// <summary>Splits off the validation set: a random fraction of <paramref name="table"/>, or the events of a file.</summary>
    private static (Table Train, Table? Validation) Split(CliContext ctx, Table table, string val, long seed, string? columns, bool drop)
    {
        if (double.TryParse(val, NumberStyles.Float, CultureInfo.InvariantCulture, out double fraction) && !File.Exists(val))
        {
            if (!(fraction >= 0 && fraction < 1)) throw new UsageException($"--val must be a fraction in [0, 1) or a file, got {val}");
            int nVal = (int)Math.Round(table.Rows * fraction);
            if (nVal == 0) return (table, null);
            var perm = new Rng(unchecked(seed ^ 0x5EED)).Permutation(table.Rows);
            return (Rows(table, perm.AsSpan(nVal)), Rows(table, perm.AsSpan(0, nVal)));
        }
        var v = TrainingChecks.FloatRange(ctx, DataIo.MatchModel(DataIo.Read(ctx, val, columns, drop), table.Columns, val, ctx.Err), val, drop);
        return (table, new Table(table.Columns, v.Values, v.Rows));
    }

    /// <summary>The given rows of <paramref name="t"/>, in that order, as a new table.</summary>
    internal static Table Rows(Table t, ReadOnlySpan<int> rows)
    {
        var values = new double[rows.Length * t.Cols];
        for (int i = 0; i < rows.Length; i++) Array.Copy(t.Values, rows[i] * t.Cols, values, i * t.Cols, t.Cols);
        return new Table(t.Columns, values, rows.Length);
    }

    private static Dictionary<string, ColumnBounds> ParseBounds(string[] entries)
    {
        try { return ColumnBounds.Parse(entries); }
        catch (FormatException ex) { throw new UsageException("--bounds: " + ex.Message); }
    }

    private static string Describe(PreprocessingPipeline<float>? p) => p is null ? "none"
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
