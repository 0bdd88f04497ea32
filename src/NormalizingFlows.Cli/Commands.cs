using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using System.Numerics;
using NormalizingFlows.Data;
using NormalizingFlows.Hep.Evaluation;
using NormalizingFlows.Hep.Reports;
using NormalizingFlows.IO;
using NormalizingFlows.Models;
using NormalizingFlows.Tensors.Kernels;

namespace NormalizingFlows.Cli;

/// <summary>The root command of <c>nflow</c> and the options its verbs share (each verb has its own file).</summary>
internal static class Commands
{
    /// <summary>The builders <c>train --flow</c> offers, default first (<see cref="FlowSpec.TrainableBuilders"/>).</summary>
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
        NonNegative(progressEvery, "a number of seconds ≥ 0");
        var simulateSignal = new Option<string?>(SimulateSignalName) { Description = "Testing: act as if SIGNAL (SIGINT or SIGTERM) arrived at the job's N-th progress point", Hidden = true, Recursive = true, HelpName = "SIGNAL@N" };
        var root = new RootCommand("nflow — normalizing flows for .NET: generate toy data, train a flow on a CSV/NPY table, sample from it, score events, evaluate and reweight.")
        {
            threads, progressEvery, simulateSignal,
        };
        // one file per verb
        foreach (var verb in new Func<CliContext, Command>[]
        {
            ToyCommand.Build, TrainCommand.Build, SampleCommand.Build, LogProbCommand.Build, InfoCommand.Build, EvalCommand.Build, ReweightCommand.Build, ExportCommand.Build,
            Demo.Build, IntegrateCommand.Build, InferCommand.Build, BumpHuntCommand.Build, CaloCommand.Build, MergeCommand.Build,
        })
            root.Add(verb(ctx));
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

    /// <summary>
    /// <c>--shard k/K</c>: this job is shard k (from 0) of K, with its share of the total count and its own random
    /// stream (<see cref="Tensors.Shard"/>); null when not given.
    /// </summary>
    internal static Option<Tensors.Shard?> ShardOption(string what) => new("--shard")
    {
        Description = $"Run shard k of K (k = 0 … K−1, e.g. a batch array task): {what}, on random stream k of --seed; 'nflow merge' combines the K outputs; default: the whole run (0/1)",
        HelpName = "k/K",
        CustomParser = r =>
        {
            if (r.Tokens.Count == 0) return null;
            try { return Tensors.Shard.Parse(r.Tokens[0].Value); }
            catch (FormatException e) { r.AddError($"--shard: {e.Message}"); return null; }
        },
    };

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

    /// <summary>Refuses a negative or non-finite value with "OPTION must be <paramref name="rule"/>, got V".</summary>
    internal static void NonNegative(Option<double> o, string rule) => o.Validators.Add(r =>
    {
        double v = r.GetValueOrDefault<double>();
        if (!(v >= 0) || !double.IsFinite(v)) r.AddError($"{o.Name} must be {rule}, got {F(v, "G")}");
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

    /// <summary>Reads and checks a model file once, with a one-line error for a missing file or a file of another kind.</summary>
    internal static ModelFileInfo ReadModel(string path) => ModelKinds.Load(path, ModelFile.ReadInfo);

    /// <summary>The model of <paramref name="info"/> in element type <typeparamref name="T"/> (converted if the file holds the other one).</summary>
    internal static FlowModel<T> LoadModel<T>(ModelFileInfo info) where T : unmanaged, IFloatingPointIeee754<T> =>
        ModelKinds.Load(info.Path, _ => ModelFile.Load<T>(info, convert: true));

    /// <summary>True when <paramref name="info"/> describes a float64 model (its verbs then compute in double).</summary>
    internal static bool IsDoubleModel(ModelFileInfo info) => info.Spec.DType == "float64";

    /// <summary>
    /// Reads the events of <paramref name="path"/> for <paramref name="m"/>: the model's columns matched by name
    /// (<see cref="DataIo.MatchModel"/>) and, for a conditional model, its context columns from the same table (a
    /// table lacking one is refused, naming it).
    /// </summary>
    internal static (Table Events, Table? Context) ReadEvents<T>(CliContext ctx, FlowModel<T> m, string path, string? columns, bool dropInvalid)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var table = DataIo.Read(ctx, path, columns, dropInvalid);
        if (m.ContextFeatures == 0) return (DataIo.MatchModel(table, m.Columns, path, ctx.Err), null);
        // a headerless .npy (the sample verb's output) of the model's width is taken by position: the events, then the context
        if (m.ContextColumns.Any(c => !table.Columns.Contains(c)) && table.Cols == m.Features + m.ContextFeatures)
            table = DataIo.MatchModel(table, [.. m.Columns, .. m.ContextColumns], path, ctx.Err);
        var context = ContextOf(m, table, path);
        var events = table.SelectColumns([.. table.Columns.Where(c => !m.ContextColumns.Contains(c))]);
        return (DataIo.MatchModel(events, m.Columns, path, ctx.Err), context);
    }

    /// <summary>The conditional model's context columns of <paramref name="table"/>, in the model's order; a missing one is an error naming it and <paramref name="source"/>.</summary>
    internal static Table ContextOf<T>(FlowModel<T> m, Table table, string source) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var missing = m.ContextColumns.Where(c => !table.Columns.Contains(c)).ToList();
        if (missing.Count > 0)
            throw new ArgumentException($"{source} lacks the context column(s) {string.Join(", ", missing)} of the conditional model (conditioned on {string.Join(", ", m.ContextColumns)}; the file has: {string.Join(", ", table.Columns)})");
        return table.SelectColumns(m.ContextColumns);
    }

    internal static Argument<string> ModelArgument() => new("MODEL") { Description = "Model file written by 'nflow train' (.nflow)" };

    internal static string F(double v, string format = "F4") => v.ToString(format, CultureInfo.InvariantCulture);
}
