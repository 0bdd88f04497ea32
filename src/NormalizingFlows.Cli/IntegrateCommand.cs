using System.CommandLine;
using System.Globalization;
using NormalizingFlows.Hep.Integration;
using NormalizingFlows.Hep.PhaseSpace;
using NormalizingFlows.Tensors;
using Table = NormalizingFlows.Data.Table;

namespace NormalizingFlows.Cli;

/// <summary><c>nflow integrate</c>: importance-sampling integration with plain Monte Carlo, VEGAS or an i-flow normalizing flow.</summary>
internal static class IntegrateCommand
{
    /// <summary>The comparison suite of <c>--suite</c>: (function, dimension).</summary>
    internal static readonly (string Name, int? Dim)[] Suite =
    [
        ("gaussian", 2), ("gaussian", 4), ("gaussian", 8), ("gaussian", 16),
        ("camel", 2), ("camel", 4), ("camel", 8), ("camel", 16),
        ("polynomial", 4), ("circles", null), ("annulus", null), ("box", null),
    ];

    public static Command Build(CliContext ctx)
    {
        var function = new Option<string>("--function", "-f")
        {
            Description = "Integrand: " + string.Join(", ", IntegrandCatalog.Names.Concat(PhysicsProcesses.Names).Distinct()) + " (ee-* are the physics processes, σ in pb)",
            DefaultValueFactory = _ => "camel",
        };
        var dim = new Option<int?>("--dim", "-d") { Description = "Dimension (default: the integrand's own; gaussian/camel/polynomial: 2)", CustomParser = Commands.WholeNumber };
        var method = new Option<string>("--method", "-m") { Description = "Integrator: flow, vegas or mc", DefaultValueFactory = _ => "flow" };
        Commands.OneOf(method, "method", IntegrationComparison.Methods);
        var calls = new Option<int>("--calls", "-c") { Description = "Total integrand calls, training included", DefaultValueFactory = _ => 200_000 };
        var trainFraction = new Option<double?>("--train-fraction") { Description = "Share of --calls spent training/adapting (default: flow 0.5, vegas 0.3, mc 0)" };
        var iterations = new Option<int>("--iterations") { Description = "Iterations of the final estimate, combined by inverse variance", DefaultValueFactory = _ => 5 };
        var loss = new Option<string>("--loss") { Description = "Flow training loss: variance (χ²), kl, exponential", DefaultValueFactory = _ => "variance" };
        Commands.OneOf(loss, "loss", ["variance", "kl", "exponential"]);
        var spline = new Option<string>("--spline") { Description = "Flow spline: rq (rational-quadratic), linear, quadratic", DefaultValueFactory = _ => "rq" };
        Commands.OneOf(spline, "spline", ["rq", "linear", "quadratic"]);
        var bins = new Option<int>("--bins") { Description = "Spline bins of the flow", DefaultValueFactory = _ => 16 };
        var hidden = new Option<int>("--hidden") { Description = "Hidden units of the flow's conditioners", DefaultValueFactory = _ => 32 };
        var blocks = new Option<int?>("--blocks") { Description = "Flow: repetitions of the 2⌈log₂ d⌉ binary-mask coupling layers (default: enough for 6 layers)", CustomParser = Commands.WholeNumber };
        var batch = new Option<int>("--batch") { Description = "Flow training: integrand calls per round (each round's sample is re-used for --steps-per-round steps)", DefaultValueFactory = _ => 2048 };
        var stepsPerRound = new Option<int>("--steps-per-round") { Description = "Flow training: gradient steps per stored sample", DefaultValueFactory = _ => 8 };
        var lr = new Option<double>("--lr") { Description = "Flow training: Adam learning rate (cosine decay to a tenth)", DefaultValueFactory = _ => 5e-3 };
        var anneal = new Option<double>("--anneal") { Description = "Flow: learn f^β first, β rising from this value to 1 over the first half of training (1: off)", DefaultValueFactory = _ => 0.1 };
        var buffer = new Option<int>("--buffer") { Description = "Flow: replay buffer of this many training events (f and the q they were drawn from); 0: off", DefaultValueFactory = _ => 0 };
        var bufferRounds = new Option<int>("--buffer-rounds") { Description = "Flow with --buffer: rounds on buffered events (no integrand calls) after each fresh round", DefaultValueFactory = _ => 1 };
        var pretrain = new Option<string>("--pretrain") { Description = "Flow: none, or vegas (adapt a VEGAS grid on --pretrain-share of the training calls first; it stays the flow's first, fixed layer)", DefaultValueFactory = _ => "none" };
        Commands.OneOf(pretrain, "pretraining", ["none", "vegas"]);
        var pretrainShare = new Option<double>("--pretrain-share") { Description = "With --pretrain vegas: share of the training calls that adapt the grid", DefaultValueFactory = _ => 0.3 };
        var multichannel = new Option<string?>("--multichannel") { Description = "ee-qqg, ee-qqgg: one channel-conditional flow over the mapping's channels, with its channel weights (fixed), weights learnt jointly (learned), the flow's own channel densities α_k ∝ N_k q_k (balance) or those corrected by the network (learned-balance), or the balance weights with the flow trained on the whole mixture's variance (mixture)" };
        Commands.OneOf(multichannel!, "multichannel", ["fixed", "learned", "balance", "learned-balance", "mixture"]);
        var allocation = new Option<string?>("--allocation") { Description = "With --multichannel: allocate each round's calls to the channels by the spread σ_k of their weights (sigma) or by their root mean square (rms: Kleiss–Pittau); default rms for mixture, sigma otherwise" };
        Commands.OneOf(allocation!, "allocation", ["sigma", "rms"]);
        var dropFloor = new Option<double>("--drop-floor") { Description = "With --multichannel: drop channels below this share of the integral after training (0: keep all)", DefaultValueFactory = _ => 0 };
        var vegasBins = new Option<int>("--vegas-bins") { Description = "VEGAS grid bins per dimension", DefaultValueFactory = _ => 64 };
        var alpha = new Option<double>("--alpha") { Description = "VEGAS damping exponent α", DefaultValueFactory = _ => 0.75 };
        var events = Commands.Count("Also generate this many unweighted events (accept/reject; overweights keep weight > 1) and write them to --output");
        var output = new Option<string?>("--output", "-o") { Description = "File for the unweighted events: .csv or .npy (columns x1..xd, weight); .lhe (Les Houches events) for the ee-* processes", HelpName = "FILE" };
        var sqrtS = new Option<double>("--sqrt-s") { Description = "Physics processes: centre-of-mass energy √s in GeV", DefaultValueFactory = _ => 91.2 };
        var yCut = new Option<double>("--ycut") { Description = "ee-qqg, ee-qqgg: cut y_ij = s_ij/s > ycut on every parton pair", DefaultValueFactory = _ => 0.01 };
        var compare = new Option<bool>("--compare") { Description = "Run mc, vegas and flow at the same --calls and print one table" };
        var suite = new Option<bool>("--suite") { Description = "With --compare: run the whole test suite (gaussian and camel in 2, 4, 8, 16-D, polynomial 4-D, circles, annulus, box) instead of --function" };
        var seed = Commands.Seed();
        var shard = Commands.ShardOption("the training (same seed) is repeated on every shard, the final integration calls and --events are split over the K shards");
        var result = new Option<string?>("--result") { Description = "Write the result as JSON (estimate, error, iterations, shard) for 'nflow merge', which combines shards by inverse variance; default: none", HelpName = "FILE.json" };
        var weighted = new Option<bool>("--weighted") { Description = "Write --events weighted events (columns x1..xd, weight = f/q) instead of unweighting them (a sharded run's events are unweighted after 'nflow merge --unweight'); default: false" };
        foreach (var o in new[] { calls, iterations, bins, hidden, batch, stepsPerRound, vegasBins }) Commands.Positive(o);
        dim.Validators.Add(r =>
        {
            if (Commands.TokenInt(r) is { } d && d < 1) r.AddError($"--dim must be at least 1, got {d}");
        });
        var cmd = new Command("integrate", "Integrate a function on the unit hypercube by importance sampling (flow = i-flow, vegas, mc); print estimate ± error, weight spread, unweighting efficiency and integrand calls; optionally write unweighted events.")
        {
            function, dim, method, calls, trainFraction, iterations, loss, spline, bins, hidden, blocks, batch, stepsPerRound, lr, anneal, buffer, bufferRounds, pretrain, pretrainShare, multichannel, dropFloor, allocation, vegasBins, alpha, events, output, sqrtS, yCut, compare, suite, seed, shard, result, weighted,
        };
        var device = DeviceOption.Create("the flow integrator's sampling and training");
        cmd.Add(device);
        cmd.SetAction(r =>
        {
            string deviceName = r.GetValue(device)!;
            if (deviceName != "cpu" && !r.GetValue(compare) && !r.GetValue(suite) && r.GetValue(method) != "flow")
                throw new UsageException($"--device {deviceName} runs the flow integrator (--method flow); {r.GetValue(method)} runs on the CPU: leave --device out");
            using var accelerator = DeviceOption.Open(deviceName);
            return DeviceOption.Refusing(deviceName, () => Run(r, accelerator));
        });
        return cmd;

        int Run(ParseResult r, NormalizingFlows.Cuda.ComputeDevice? accelerator)
        {
            long s = r.GetValue(seed);
            var physics = new PhysicsProcessOptions { SqrtS = r.GetValue(sqrtS), YCut = r.GetValue(yCut) };
            // the physics processes take this run's √s and y_cut; everything else comes from the catalog
            IIntegrand Resolve(string name, int? d)
            {
                if (!PhysicsProcesses.TryCreate(name, physics, out var process)) return IntegrandCatalog.Create(name, d);
                if (d is { } want && want != process.Dimensions) throw new ArgumentException($"{name} has {process.Dimensions} dimensions; --dim {want} does not apply");
                return process;
            }
            int budget = r.GetValue(calls), its = r.GetValue(iterations);
            double? tf = r.GetValue(trainFraction);
            if (tf is { } f0 && !(f0 >= 0 && f0 < 1)) throw new UsageException($"--train-fraction must lie in [0, 1), got {f0}");
            foreach (string m in r.GetValue(compare) || r.GetValue(suite) ? IntegrationComparison.Methods : [r.GetValue(method)!])
            {
                double share = tf ?? IntegrationComparison.DefaultTrainFraction(m);
                long left = budget - (long)(share * budget);
                if (left < 2L * its)
                    throw new UsageException($"--calls {budget} leaves {left} integrand calls for the {its} final iterations of {m} (training share {share}); " +
                        $"each iteration needs at least 2: raise --calls to at least {(long)Math.Ceiling(2.0 * its / (1 - share))}");
            }
            var flowOptions = new FlowIntegratorOptions
            {
                Loss = r.GetValue(loss) switch { "kl" => IntegrationLoss.KullbackLeibler, "exponential" => IntegrationLoss.Exponential, _ => IntegrationLoss.Variance },
                Spline = r.GetValue(spline) switch { "linear" => UnitSplineKind.PiecewiseLinear, "quadratic" => UnitSplineKind.PiecewiseQuadratic, _ => UnitSplineKind.RationalQuadratic },
                Bins = r.GetValue(bins), Hidden = r.GetValue(hidden), Blocks = r.GetValue(blocks), SamplesPerRound = r.GetValue(batch), StepsPerRound = r.GetValue(stepsPerRound),
                LearningRate = r.GetValue(lr), InitialExponent = r.GetValue(anneal),
                BufferSize = r.GetValue(buffer), BufferedRounds = r.GetValue(bufferRounds),
                VegasPretraining = r.GetValue(pretrain) == "vegas" ? r.GetValue(pretrainShare) : 0,
                Device = accelerator,
            };
            var vegasOptions = new VegasOptions { Bins = r.GetValue(vegasBins), Alpha = r.GetValue(alpha) };
            flowOptions.Validate();
            vegasOptions.Validate();
            int? n = r.GetValue(events);
            string? outPath = r.GetValue(output);
            if (n is not null && outPath is null) throw new UsageException("--events needs --output FILE (.csv, .npy or .parquet)");
            if (n is null && outPath is not null) throw new UsageException("--output needs --events N");
            OutputPaths.Check(outPath, "--output");
            var part = r.GetValue(shard) ?? Shard.Whole;
            string? resultPath = r.GetValue(result);
            bool weightedEvents = r.GetValue(weighted);
            if (resultPath is not null && !resultPath.EndsWith(".json", StringComparison.OrdinalIgnoreCase))
                throw new UsageException($"--result {resultPath}: the result file is JSON, give a .json file");
            OutputPaths.Check(resultPath, "--result");
            if (weightedEvents && n is null) throw new UsageException("--weighted needs --events N and --output FILE");
            if (part.Count > 1 && n is not null && !weightedEvents)
                throw new UsageException($"--shard {part} with --events: add --weighted (each shard writes weighted events; 'nflow merge --unweight' unweights them with one maximum weight for all shards)");
            if (n is { } wanted && part.Share(wanted) == 0) throw new UsageException($"--shard {part}: --events {wanted} leaves this shard no events (give --events ≥ {part.Count})");
            using var interruption = ctx.Listen();
            IIntegrand Watched(IIntegrand integrand, string method) =>
                new WatchedIntegrand(integrand, new JobProgress(ctx, $"nflow integrate: {integrand.Name} {method}", budget, "calls", interruption));

            if (r.GetValue(compare) || r.GetValue(suite))
            {
                if (n is not null) throw new UsageException("--events cannot be combined with --compare");
                if (r.GetValue(shard) is not null || resultPath is not null) throw new UsageException("--shard and --result cannot be combined with --compare");
                var targets = r.GetValue(suite) ? Suite : [(r.GetValue(function)!, r.GetValue(dim))];
                var runs = new List<IntegrationRun>();
                foreach (var (name, d) in targets)
                {
                    var integrand = Resolve(name, d);
                    double? reference = IntegrandCatalog.Reference(integrand);
                    foreach (string m in IntegrationComparison.Methods)
                    {
                        if (m == "flow" && integrand.Dimensions < 2) continue;
                        var integrator = IntegrationComparison.Create(m, Watched(integrand, m), s, flowOptions, vegasOptions);
                        var run = IntegrationComparison.Run(integrator, budget, tf ?? IntegrationComparison.DefaultTrainFraction(m), its, reference);
                        ((WatchedIntegrand)integrator.Integrand).Finish();
                        (integrator as IDisposable)?.Dispose();
                        runs.Add(run);
                        ctx.Err.WriteLine($"nflow integrate: {integrand.Name} {integrand.Dimensions}-D {m}: done in {run.Seconds:F1} s");
                    }
                }
                ctx.Out.WriteLine($"nflow integrate --compare: {budget:N0} integrand calls per method (training/adaptation included), {its} final iterations, seed {s}");
                ctx.Out.Write(IntegrationComparison.FormatTable(runs));
                return 0;
            }

            var f = Resolve(r.GetValue(function)!, r.GetValue(dim));
            if (r.GetValue(multichannel) is { } mc)
            {
                if (n is not null) throw new UsageException("--events cannot be combined with --multichannel");
                if (flowOptions.BufferSize > 0 || flowOptions.VegasPretraining > 0) throw new UsageException("--multichannel trains without --buffer and --pretrain");
                if (part.Count > 1 || resultPath is not null) throw new UsageException("--multichannel runs on one machine: it takes neither --shard nor --result");
                if (f is not PhaseSpaceProcess { Mapping: IMultichannelMapping } process)
                    throw new UsageException($"--multichannel needs a process on a multichannel mapping (ee-qqg, ee-qqgg), not '{f.Name}'");
                var options = new MultichannelOptions { Flow = flowOptions, LearnChannelWeights = mc.StartsWith("learned", StringComparison.Ordinal), BalanceWeights = mc is "mixture" || mc.EndsWith("balance", StringComparison.Ordinal), MixtureLoss = mc is "mixture", SecondMomentAllocation = (r.GetValue(allocation) ?? (mc is "mixture" ? "rms" : "sigma")) is "rms", DropFloor = r.GetValue(dropFloor) };
                options.Validate();
                var clock = System.Diagnostics.Stopwatch.StartNew();
                using var multi = new MultichannelFlowIntegrator(new PhaseSpaceChannels(process), options, s);
                multi.Train((long)((tf ?? IntegrationComparison.DefaultTrainFraction("flow")) * budget));
                long trained = multi.FunctionCalls;
                var mres = multi.Integrate(budget - trained, its);
                PrintResult(ctx, $"{f.Name} ({multi.Integrand.Channels} channels × {multi.Integrand.Dimensions}-D) with the {mc} multichannel flow", mres, IntegrandCatalog.Reference(f), trained, clock.Elapsed.TotalSeconds);
                foreach (var ch in multi.Channels)
                    ctx.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"channel {ch.Channel}: {ch.Estimate:G6} ± {ch.Error:G2}, σ_k/I {Math.Sqrt(ch.Variance) / mres.Estimate:F4}, calls {ch.Calls:N0}{(ch.Active ? "" : " (dropped)")}"));
                return 0;
            }
            bool lhe = outPath is not null && Path.GetExtension(outPath).Equals(".lhe", StringComparison.OrdinalIgnoreCase);
            if (lhe && weightedEvents) throw new UsageException("--weighted writes .csv or .npy (Les Houches files here hold unweighted events)");
            if (lhe && f is not IPhaseSpaceProcess)
                throw new UsageException($"a .lhe file needs a physics process (one of {string.Join(", ", PhysicsProcesses.Names)}), not '{f.Name}'");
            if (outPath is not null && !lhe) DataIo.CheckTableOutput(outPath);
            string mname = r.GetValue(method)!;
            var watched = new WatchedIntegrand(f, new JobProgress(ctx, $"nflow integrate: {f.Name} {mname}", budget, "calls", interruption));
            var integ = IntegrationComparison.Create(mname, watched, s, flowOptions, vegasOptions);
            using var disposeIntegrator = integ as IDisposable;
            double? refValue = IntegrandCatalog.Reference(f);
            var job = IntegrationComparison.Run(integ, budget, tf ?? IntegrationComparison.DefaultTrainFraction(mname), its, refValue, part);
            watched.Finish();
            var res = job.Result;
            var c = CultureInfo.InvariantCulture;
            PrintResult(ctx, $"{f.Name} ({f.Dimensions}-D) with {mname}{(part.Count > 1 ? $", shard {part}" : "")}", res, refValue, job.TrainingCalls, job.Seconds);
            if (resultPath is not null)
            {
                IntegrationShardResult.Of(job, s, part).Write(resultPath);
                ctx.Out.WriteLine($"wrote {resultPath}");
            }
            if (n is { } all && weightedEvents)
            {
                int count = (int)part.Share(all);
                watched.Progress = new JobProgress(ctx, $"nflow integrate: {count:N0} weighted events", count, "calls", interruption);
                var we = integ.GenerateWeighted(count);
                watched.Finish();
                DataIo.Write(outPath!, EventTable(XNames(f.Dimensions), we.Events, we.Weights));
                ctx.Out.WriteLine(string.Create(c, $"weighted: {we.Count:N0} events (weight = f/q); total integrand calls {integ.FunctionCalls:N0}"));
                ctx.Out.WriteLine($"wrote {outPath}");
            }
            else if (n is { } count)
            {
                // unweighting draws weighted events until enough are accepted: the number of calls is not known beforehand
                watched.Progress = new JobProgress(ctx, $"nflow integrate: unweighting {count:N0} events", 0, "calls", interruption);
                var u = integ.GenerateUnweighted(count);
                watched.Finish();
                if (lhe)
                {
                    int written = LesHouchesWriter.WriteUnweighted(outPath!, (IPhaseSpaceProcess)f, u.Events.AsSpan(0, u.Count * f.Dimensions), res.Estimate, res.Error, new Rng(s + 1));
                    ctx.Out.WriteLine(string.Create(c, $"Les Houches events: {written:N0} (σ = {res.Estimate:G6} ± {res.Error:G3} pb in the init block)"));
                }
                else
                    DataIo.Write(outPath!, EventTable(XNames(f.Dimensions), u.Events, u.EventWeights));
                ctx.Out.WriteLine(string.Create(c, $"unweighted: {u.Count:N0} events from {u.Trials:N0} weighted ones (efficiency {u.Efficiency:F4}, max weight {u.MaxWeight:G4}, {u.OverweightEventFraction:P2} overweight); total integrand calls {integ.FunctionCalls:N0}"));
                ctx.Out.WriteLine($"wrote {outPath}");
            }
            return 0;
        }
    }

    /// <summary>Prints an integration result: estimate ± error, pull from the reference, χ²/dof, weight spread, unweighting efficiency, calls.</summary>
    private static void PrintResult(CliContext ctx, string label, IntegrationResult res, double? refValue, long trainingCalls, double seconds)
    {
        var c = CultureInfo.InvariantCulture;
        ctx.Out.WriteLine(string.Create(c, $"{label}: {res.Estimate:G8} ± {res.Error:G3} (relative error {res.RelativeError:0.00E+0})"));
        if (refValue is { } rv) ctx.Out.WriteLine(string.Create(c, $"reference: {rv:G10}; pull (estimate − reference)/error: {res.Pull(rv):+0.00;-0.00}"));
        if (res.Iterations.Count > 1) ctx.Out.WriteLine(string.Create(c, $"iterations: {res.Iterations.Count}, χ²/dof {res.ChiSquaredPerDof:F2}"));
        var w = res.Weights;
        ctx.Out.WriteLine(string.Create(c, $"weights: relative std {w.RelativeStandardDeviation:F4}, effective sample size {w.EffectiveSampleSize:F0} of {w.Count} ({w.EffectiveSampleSize / w.Count:P1})"));
        ctx.Out.WriteLine(string.Create(c, $"unweighting efficiency: {w.UnweightingEfficiency:F4} (⟨w⟩/max w), {w.RobustUnweightingEfficiency:F4} with the {w.RobustQuantile:P1} quantile as maximum ({w.OverweightFraction:P2} of the integral in overweights)"));
        ctx.Out.WriteLine(string.Create(c, $"integrand calls: {res.TotalCalls:N0} ({trainingCalls:N0} training, {res.Calls:N0} integration); {seconds:F1} s"));
    }

    /// <summary>The events as a table: columns <paramref name="names"/> and "weight".</summary>
    internal static Table EventTable(string[] names, double[] events, double[] weights)
    {
        int d = names.Length, cols = d + 1;
        var values = new double[(long)weights.Length * cols];
        for (int i = 0; i < weights.Length; i++)
        {
            Array.Copy(events, (long)i * d, values, (long)i * cols, d);
            values[(long)i * cols + d] = weights[i];
        }
        return new Table([.. names, WeightColumn], values, weights.Length);
    }

    /// <summary>x1 … xd, the coordinate columns of the event files.</summary>
    internal static string[] XNames(int d) => [.. Enumerable.Range(1, d).Select(j => "x" + j.ToString(CultureInfo.InvariantCulture))];

    /// <summary>The name of the event-weight column of the event files.</summary>
    internal const string WeightColumn = "weight";

    /// <summary>The integrand with progress reports (calls done, rate, ETA) and a stop on SIGINT/SIGTERM between batches.</summary>
    private sealed class WatchedIntegrand(IIntegrand inner, JobProgress progress) : IIntegrand
    {
        private long _calls, _base;
        private JobProgress _progress = progress;

        /// <summary>The current reporter; a new one counts from the calls made so far.</summary>
        public JobProgress Progress
        {
            get => _progress;
            set
            {
                _progress = value;
                _base = _calls;
            }
        }

        /// <summary>Prints the final line with every call counted.</summary>
        public void Finish() => _progress.Complete(_calls - _base);

        public string Name => inner.Name;

        public int Dimensions => inner.Dimensions;

        public double? AnalyticValue => inner.AnalyticValue;

        public void Evaluate(ReadOnlySpan<double> x, Span<double> values)
        {
            _progress.Report(_calls - _base);
            inner.Evaluate(x, values);
            _calls += values.Length;
        }
    }
}
