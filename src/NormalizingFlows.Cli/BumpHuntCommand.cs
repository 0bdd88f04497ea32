using System.CommandLine;
using System.Globalization;
using System.Text;
using NormalizingFlows.Hep.AnomalyDetection;
using NormalizingFlows.IO;
using NormalizingFlows.Tensors;

namespace NormalizingFlows.Cli;

/// <summary>
/// <c>nflow bumphunt generate|run</c>: the synthetic LHCO-like dijet sample and the data-driven anomaly detection
/// study (ANODE, CATHODE, CWoLa hunting, idealized and supervised baselines) with SIC curves.
/// </summary>
internal static class BumpHuntCommand
{
    private static readonly string[] MethodNames = ["all", "cathode", "anode", "cwola", "idealized", "supervised", "random"];

    public static Command Build(CliContext ctx)
    {
        var cmd = new Command("bumphunt", "Resonance bump hunt with data-driven anomaly detection (ANODE, CATHODE, CWoLa) on a synthetic LHC-Olympics-like dijet sample");
        cmd.Add(Generate(ctx));
        cmd.Add(Run(ctx));
        return cmd;
    }

    private sealed record DataOptions(Option<int> Background, Option<int> Signal, Option<double> SrLow, Option<double> SrHigh)
    {
        public Option[] All => [Background, Signal, SrLow, SrHigh];

        public BumpHuntOptions Read(ParseResult r) => new()
        {
            BackgroundEvents = r.GetValue(Background), SignalEvents = r.GetValue(Signal),
            SignalRegionLow = r.GetValue(SrLow), SignalRegionHigh = r.GetValue(SrHigh),
        };
    }

    private static DataOptions MakeDataOptions()
    {
        var d = new BumpHuntOptions();
        var bkg = new Option<int>("--background") { Description = "Background (QCD dijet) events over the whole m_jj range", DefaultValueFactory = _ => d.BackgroundEvents };
        var sig = new Option<int>("--signal") { Description = "Injected signal events (W' → XY, 3.5 TeV); 0: signal-free", DefaultValueFactory = _ => d.SignalEvents };
        var lo = new Option<double>("--sr-low") { Description = "Lower edge of the signal region in m_jj (TeV)", DefaultValueFactory = _ => d.SignalRegionLow };
        var hi = new Option<double>("--sr-high") { Description = "Upper edge of the signal region in m_jj (TeV)", DefaultValueFactory = _ => d.SignalRegionHigh };
        Commands.NonNegative(bkg);
        Commands.NonNegative(sig);
        return new DataOptions(bkg, sig, lo, hi);
    }

    private static Command Generate(CliContext ctx)
    {
        var data = MakeDataOptions();
        var output = Commands.Output("Events to write (.csv, .npy or .parquet): columns mjj, mj1, dmj, tau21_j1, tau21_j2, label (1 = signal)", "bumphunt.csv");
        var seed = Commands.Seed("Seed of the sample");
        var cmd = new Command("generate", "Generate the synthetic dijet sample: smoothly falling m_jj (dijet function) with m_jj-correlated jet masses and τ21, plus a W' → X(qq) Y(qq) signal at 3.5 TeV")
        {
            output, seed,
        };
        foreach (var o in data.All) cmd.Add(o);
        cmd.SetAction(r =>
        {
            OutputPaths.Check(r.GetValue(output), "--output");
            var opts = data.Read(r);
            var gen = new BumpHuntGenerator(opts);
            var events = gen.Generate(new Rng(r.GetValue(seed)));
            string path = r.GetValue(output)!;
            DataIo.Write(path, events.ToTable());
            int inSr = events.RowsInside(opts.SignalRegionLow, opts.SignalRegionHigh).Length;
            int sigSr = events.RowsInside(opts.SignalRegionLow, opts.SignalRegionHigh).Count(i => events.IsSignal[i]);
            ctx.Out.WriteLine(FormattableString.Invariant(
                $"wrote {events.Count} events to {path}: signal region [{opts.SignalRegionLow}, {opts.SignalRegionHigh}] TeV holds {inSr - sigSr} background + {sigSr} signal (S/√B = {sigSr / Math.Sqrt(Math.Max(1, inSr - sigSr)):F2})"));
            return 0;
        });
        return cmd;
    }

    private static Command Run(CliContext ctx)
    {
        var data = MakeDataOptions();
        var input = new Option<string?>("--input") { Description = "Events from 'nflow bumphunt generate' (default: generate them per seed); the idealized detector then draws its perfect background from the generator with the same --background/--signal/--sr-* settings", HelpName = "FILE" };
        var method = new Option<string>("--method") { Description = "Methods, comma-separated: " + string.Join(", ", MethodNames), DefaultValueFactory = _ => "all" };
        method.Validators.Add(r =>
        {
            if (r.Tokens.Count != 1) return;
            foreach (var m in r.Tokens[0].Value.Split(',', StringSplitOptions.TrimEntries))
                if (!MethodNames.Contains(m)) r.AddError($"unknown method '{m}' for --method (choose from: {string.Join(", ", MethodNames)})");
        });
        var seeds = new Option<int>("--seeds") { Description = "Number of seeds (data realisation and trainings): seed, seed+1, …", DefaultValueFactory = _ => 3 };
        var seed = Commands.Seed("First seed");
        var flow = new Option<string>("--flow") { Description = "Density estimator: maf-rqs, maf, nsf, realnvp", DefaultValueFactory = _ => "maf-rqs" };
        Commands.OneOf(flow, "flow", ["maf-rqs", "maf", "nsf", "realnvp"]);
        var layers = new Option<int>("--flow-layers") { Description = "Flow layers", DefaultValueFactory = _ => 4 };
        var hidden = new Option<int>("--flow-hidden") { Description = "Hidden units per flow conditioner", DefaultValueFactory = _ => 64 };
        var flowEpochs = new Option<int>("--flow-epochs") { Description = "Maximum flow epochs (early stopping on a 20% validation split)", DefaultValueFactory = _ => 30 };
        var clfEpochs = new Option<int>("--clf-epochs") { Description = "Maximum classifier epochs (early stopping)", DefaultValueFactory = _ => 40 };
        var folds = new Option<int>("--folds") { Description = "Classifier folds (each event scored by models that did not see it)", DefaultValueFactory = _ => 5 };
        var members = new Option<int>("--members") { Description = "Classifier ensemble members per fold", DefaultValueFactory = _ => 1 };
        var over = new Option<int>("--oversampling") { Description = "Synthetic (CATHODE) and perfect (idealized) background events per SR data event", DefaultValueFactory = _ => 4 };
        var report = new Option<string?>("--report") { Description = "HTML report with the SIC curves of all methods", HelpName = "FILE" };
        var table = new Option<string?>("--table") { Description = "CSV of per-seed figures (seed, method, max SIC, AUC, rejections)", HelpName = "FILE" };
        foreach (var o in new[] { seeds, layers, hidden, flowEpochs, clfEpochs, members, over }) Commands.Positive(o);
        folds.Validators.Add(r =>
        {
            if (r.Tokens.Count == 1 && int.TryParse(r.Tokens[0].Value, CultureInfo.InvariantCulture, out int k) && k < 2) r.AddError($"--folds must be ≥ 2, got {k}");
        });
        var cmd = new Command("run", "Run the bump hunt: train the methods on the signal region / sidebands, score every SR event out of fold, print max SIC (mean ± spread over seeds)")
        {
            input, method, seeds, seed, flow, layers, hidden, flowEpochs, clfEpochs, folds, members, over, report, table,
        };
        foreach (var o in data.All) cmd.Add(o);
        cmd.SetAction(r =>
        {
            OutputPaths.CheckAll(("--report", r.GetValue(report)), ("--table", r.GetValue(table)));
            DataIo.CheckReportOutput(r.GetValue(report), "--report");
            if (r.GetValue(table) is { } tablePath && !tablePath.EndsWith(".csv", StringComparison.OrdinalIgnoreCase) && !tablePath.EndsWith(".txt", StringComparison.OrdinalIgnoreCase))
                throw new UsageException($"--table {tablePath}: the table is CSV, give a .csv or .txt file");
            var names = r.GetValue(method)!.Split(',', StringSplitOptions.TrimEntries);
            var methods = names.Contains("all") ? BumpHuntStudy.AllMethods.ToList() : names.Select(ParseMethod).Distinct().ToList();
            var baseClf = new EnsembleOptions();
            var settings = new BumpHuntSettings
            {
                Data = data.Read(r),
                Flow = new DensityEstimatorOptions { Builder = r.GetValue(flow)!, Layers = r.GetValue(layers), Hidden = r.GetValue(hidden), Epochs = r.GetValue(flowEpochs) },
                Classifier = baseClf with { Folds = r.GetValue(folds), Members = r.GetValue(members), Classifier = baseClf.Classifier with { Epochs = r.GetValue(clfEpochs) } },
                Oversampling = r.GetValue(over),
            };
            settings.Data.Validate();
            string? inputPath = r.GetValue(input);
            BumpHuntEvents? fixedEvents = inputPath is null ? null : BumpHuntEvents.FromTable(DataIo.Read(ctx, inputPath, null, false));
            var generator = new BumpHuntGenerator(settings.Data);
            long first = r.GetValue(seed);
            var runs = new List<BumpHuntRun>();
            // progress counts finished methods over all seeds; a signal stops the study at the next stage (nothing is written)
            using var interruption = ctx.Listen();
            var progress = new JobProgress(ctx, "nflow bumphunt run", (double)r.GetValue(seeds) * methods.Count, "methods", interruption);
            int finished = 0;
            void Log(string line)
            {
                ctx.Out.WriteLine(line);
                if (line.Contains("max SIC", StringComparison.Ordinal)) finished++;
                progress.Report(finished);
            }
            for (int k = 0; k < r.GetValue(seeds); k++)
            {
                long s = first + k;
                progress.Report(finished, $"seed {s}");
                var events = fixedEvents ?? generator.Generate(new Rng(s));
                runs.Add(BumpHuntStudy.Run(events, generator, settings, methods, s, Log));
            }
            progress.Complete(finished);
            var summary = BumpHuntStudy.Summarise(runs);
            ctx.Out.WriteLine();
            ctx.Out.WriteLine($"{"method",-11}{"max SIC",18}{"AUC",18}{"1/εB@εS=0.2",22}{"1/εB@εS=0.5",20}");
            foreach (var m in summary)
                ctx.Out.WriteLine(FormattableString.Invariant(
                    $"{m.Method,-11}{$"{m.MaxSic.Mean:F2} ± {m.MaxSic.Spread:F2}",18}{$"{m.Auc.Mean:F3} ± {m.Auc.Spread:F3}",18}{BumpHuntReport.FormatRejection(m.RejectionAt20, runs[0].SignalRegionBackground),22}  {BumpHuntReport.FormatRejection(m.RejectionAt50, runs[0].SignalRegionBackground),20}"));
            string commandLine = "nflow bumphunt run " + string.Join(' ', r.Tokens.Select(t => t.Value).SkipWhile(t => t is "bumphunt" or "run"));
            if (r.GetValue(report) is { } rp)
            {
                string? source = fixedEvents is null ? null : BumpHuntReport.DescribeInput(inputPath!, fixedEvents, settings.Data);
                BumpHuntReport.Build(runs, summary, settings, commandLine, source).Save(rp);
                ctx.Out.WriteLine($"report: {rp}");
            }
            if (r.GetValue(table) is { } tp)
            {
                var sb = new StringBuilder("seed,method,max_sic,auc,rejection_at_0.2,rejection_at_0.5,seconds\n");
                foreach (var run in runs)
                    foreach (var m in run.Methods)
                        sb.Append(CultureInfo.InvariantCulture, $"{run.Seed},{m.Method},{m.MaxSic:R},{m.Auc:R},{m.RejectionAt20:R},{m.RejectionAt50:R},{m.Seconds:F1}\n");
                var bytes = new UTF8Encoding(false).GetBytes(sb.ToString());
                AtomicFile.Write(tp, fs => fs.Write(bytes));
                ctx.Out.WriteLine($"table: {tp}");
            }
            return 0;
        });
        return cmd;
    }

    private static BumpHuntMethod ParseMethod(string name) => name switch
    {
        "cathode" => BumpHuntMethod.Cathode,
        "anode" => BumpHuntMethod.Anode,
        "cwola" => BumpHuntMethod.CWoLa,
        "idealized" => BumpHuntMethod.Idealized,
        "supervised" => BumpHuntMethod.Supervised,
        "random" => BumpHuntMethod.Random,
        _ => throw new ArgumentException($"unknown method '{name}'"),
    };
}
