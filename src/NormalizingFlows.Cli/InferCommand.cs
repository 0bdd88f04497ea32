using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using NormalizingFlows.Data;
using NormalizingFlows.Hep.Inference;
using NormalizingFlows.Nn.Embeddings;
using NormalizingFlows.Tensors;
using NormalizingFlows.Training;
using Table = NormalizingFlows.Data.Table;

namespace NormalizingFlows.Cli;

/// <summary><c>nflow infer</c>: amortised posterior estimation with a conditional flow: train, sample, calibrate.</summary>
internal static class InferCommand
{
    internal static readonly string[] Simulators = ["wlnu", "linear-gaussian", "bimodal"];

    public static Command Build(CliContext ctx)
    {
        var cmd = new Command("infer", "Posterior estimation with conditional flows (cINN): learn p(θ | x) from simulated (θ, x) pairs, sample posteriors for observations, check calibration.");
        cmd.Add(Train(ctx));
        cmd.Add(Sample(ctx));
        cmd.Add(Calibrate(ctx));
        return cmd;
    }

    private static ISimulator? BuiltIn(string name) => name switch
    {
        "wlnu" => new WlnuSimulator(),
        "linear-gaussian" => LinearGaussianSimulator.Default(),
        "bimodal" => new BimodalSimulator(),
        _ => null,
    };

    private static Option<string> SimulatorOption(bool required, string description)
    {
        var o = new Option<string>("--simulator") { Description = description, HelpName = "wlnu|linear-gaussian|bimodal|FILE" };
        o.Required = required;
        return o;
    }

    private static Command Train(CliContext ctx)
    {
        var simulator = SimulatorOption(true, "Training pairs: a built-in simulator (wlnu: W → ℓν neutrino momenta; linear-gaussian; bimodal) or a FILE (.csv/.npy/.parquet) of (θ, x) rows whose θ columns --parameters names");
        var parameters = new Option<string?>("--parameters") { Description = "With a FILE: the parameter (θ) columns, comma-separated; every other column is an observation feature", HelpName = "LIST" };
        var pairs = Commands.Count("Simulated training pairs (built-in simulators; default 100000)");
        var output = Commands.Output("Posterior model file to write", "posterior.nflow");
        var flow = new Option<string>("--flow") { Description = "Flow architecture: nsf, realnvp, maf, maf-rqs, glow", DefaultValueFactory = _ => "nsf" };
        Commands.OneOf(flow, "flow", ["nsf", "realnvp", "maf", "maf-rqs", "glow"]);
        var layers = new Option<int>("--layers") { Description = "Flow layers", DefaultValueFactory = _ => 5 };
        var hidden = new Option<int>("--hidden") { Description = "Hidden units of each conditioner", DefaultValueFactory = _ => 64 };
        var bins = new Option<int>("--bins") { Description = "Spline bins (nsf, maf-rqs)", DefaultValueFactory = _ => 8 };
        var bound = new Option<double>("--bound") { Description = "Spline interval [−B, B] in standardised units", DefaultValueFactory = _ => 4.0 };
        var summary = new Option<string>("--summary") { Description = "Summary network before the context: none, mlp, or sum-pooling (sets of --element-features features; NaN marks absent elements)", DefaultValueFactory = _ => "none" };
        Commands.OneOf(summary, "summary network", ["none", "mlp", "sum-pooling"]);
        var summaryFeatures = new Option<int>("--summary-features") { Description = "Output size of the summary network", DefaultValueFactory = _ => 16 };
        var elementFeatures = new Option<int>("--element-features") { Description = "Features per set element (sum-pooling)", DefaultValueFactory = _ => 0 };
        var epochs = new Option<int>("--epochs") { Description = "Passes over the training pairs", DefaultValueFactory = _ => 20 };
        var batch = new Option<int>("--batch") { Description = "Pairs per minibatch", DefaultValueFactory = _ => 512 };
        var lr = new Option<double>("--lr") { Description = "Adam learning rate (cosine decay to 0)", DefaultValueFactory = _ => 1e-3 };
        var val = new Option<double>("--val") { Description = "Fraction of the pairs held out for validation (best epoch kept)", DefaultValueFactory = _ => 0.1 };
        var patience = new Option<int>("--patience") { Description = "Stop after this many epochs without validation improvement (0: never)", DefaultValueFactory = _ => 0 };
        var seed = Commands.Seed("Seed of the simulation, initialisation and shuffling");
        var checkpoint = new Option<string?>("--checkpoint")
        {
            Description = "Checkpoint written at every epoch end and on SIGINT/SIGTERM (deleted after success); default: the --resume file, else OUTPUT.ckpt",
            HelpName = "FILE",
        };
        var resume = new Option<string?>("--resume") { Description = "Continue an interrupted run from its checkpoint (same simulator or file and options; checked)", HelpName = "CHECKPOINT" };
        foreach (var o in new[] { layers, hidden, bins, summaryFeatures, epochs, batch }) Commands.Positive(o);
        Commands.NonNegative(patience);
        Commands.NonNegative(elementFeatures);
        var device = DeviceOption.Create("the training (the posterior flow and its summary network)");
        var cmd = new Command("train", "Train a posterior estimator p(θ | x) on simulated pairs.")
        {
            simulator, parameters, pairs, output, flow, layers, hidden, bins, bound, summary, summaryFeatures, elementFeatures, epochs, batch, lr, val, patience, seed,
            checkpoint, resume, device,
        };
        cmd.SetAction(r =>
        {
            string deviceName = r.GetValue(device)!;
            using var accelerator = DeviceOption.Open(deviceName);
            return DeviceOption.Refusing(deviceName, () => Run(r, accelerator));
        });
        return cmd;

        int Run(ParseResult r, Cuda.ComputeDevice? accelerator)
        {
            string outPath = r.GetValue(output)!;
            string? resumeFrom = r.GetValue(resume);
            if (resumeFrom is not null && !File.Exists(resumeFrom)) throw new ArgumentException($"--resume: no checkpoint at {resumeFrom}");
            string ckpt = r.GetValue(checkpoint) ?? resumeFrom ?? outPath + ".ckpt";
            OutputPaths.CheckAll(("--output", outPath), ("--checkpoint", ckpt));
            string sim = r.GetValue(simulator)!;
            long s = r.GetValue(seed);
            double[] theta, x;
            string[] thetaNames, xNames;
            int n;
            var builtIn = BuiltIn(sim);
            if (builtIn is not null)
            {
                n = r.GetValue(pairs) ?? 100_000;
                (theta, x) = builtIn.Sample(n, new Rng(s ^ 0x51A1));
                thetaNames = builtIn.ParameterNames.ToArray();
                xNames = builtIn.ObservationNames.ToArray();
            }
            else
            {
                if (!File.Exists(sim)) throw new ArgumentException($"--simulator: '{sim}' is neither a built-in simulator ({string.Join(", ", Simulators)}) nor an existing file");
                string list = r.GetValue(parameters) ?? throw new UsageException("--parameters is required with a data file: name the θ columns");
                var table = DataIo.Read(ctx, sim, null, false);
                (theta, thetaNames, x, xNames) = SplitColumns(table, list, sim);
                n = table.Rows;
            }
            var kind = r.GetValue(summary) switch { "mlp" => SummaryKind.Mlp, "sum-pooling" => SummaryKind.SumPooling, _ => SummaryKind.None };
            var spec = new SummarySpec { Kind = kind, Features = r.GetValue(summaryFeatures), ElementFeatures = r.GetValue(elementFeatures) };
            string flowName = r.GetValue(flow)!;
            var model = PosteriorEstimator<float>.Create(thetaNames, xNames, flowName, r.GetValue(layers), r.GetValue(hidden),
                flowName is "nsf" or "maf-rqs" ? r.GetValue(bins) : null, r.GetValue(bound), spec, s);
            model.Metadata["simulator"] = builtIn is null ? Path.GetFileName(sim) : sim;
            ctx.Out.WriteLine($"nflow infer train: {n} pairs; θ = ({string.Join(", ", thetaNames)}), x = ({string.Join(", ", xNames)})");
            ctx.Out.WriteLine($"model: {model.Spec.Flow.Summary()}, summary {r.GetValue(summary)}, {model.ParameterCount():N0} parameters");
            var options = new TrainingOptions
            {
                Epochs = r.GetValue(epochs), BatchSize = r.GetValue(batch), LearningRate = r.GetValue(lr), Seed = s,
                ValidationFraction = r.GetValue(val), Patience = r.GetValue(patience), ReportEverySteps = ctx.SimulatedSignal is null ? 20 : 1,
                CheckpointPath = ckpt, RunSettings = RunSettings.Of(r, "--checkpoint", "--resume", "--output", "--device"), DataDescription = sim, // a run resumes on any device
                Device = accelerator,
            };
            ctx.Out.WriteLine("log-posteriors below are per pair, in standardised θ units (higher is better)");
            var clock = Stopwatch.StartNew();
            using var thetaT = Tensor<float>.FromDoubles(theta, n, thetaNames.Length).Untrack();
            using var xT = Tensor<float>.FromDoubles(x, n, xNames.Length).Untrack();
            if (resumeFrom is not null) ctx.Out.WriteLine($"resuming from {resumeFrom}");
            using var interruption = ctx.Listen();
            var progress = new TrainingJobProgress(new JobProgress(ctx, "nflow infer train", 0, "steps", interruption), new EpochLines(ctx.Out));
            var history = model.Fit(thetaT, xT, options, progress, interruption.Token, resumeFrom);
            if (history.Outcome == TrainingOutcome.Cancelled)
            {
                ctx.Err.WriteLine($"nflow: infer train interrupted by {interruption.SignalName} after {history.Steps} steps; checkpoint written to {ckpt}");
                ctx.Err.WriteLine($"continue with the same command plus: --resume {ckpt}");
                return interruption.ExitCode;
            }
            ctx.Out.WriteLine($"trained {history.Steps} steps in {clock.Elapsed.TotalSeconds:F1} s" + (history.BestEpoch is { } be ? $"; keeping epoch {be}" : ""));
            model.Save(outPath);
            if (File.Exists(ckpt)) File.Delete(ckpt);
            ctx.Out.WriteLine($"wrote {outPath}");
            return 0;
        }
    }

    private static Command Sample(CliContext ctx)
    {
        var model = new Argument<string>("MODEL") { Description = "Posterior model written by 'nflow infer train'" };
        var observations = new Option<string>("--observations") { Description = "Observations (.csv/.npy/.parquet) with the model's observation columns (extra columns are ignored when named)", HelpName = "FILE", Required = true };
        var n = Commands.Count("Posterior samples per observation (default 1000)");
        var output = Commands.Output("Output (.npy or .csv): columns 'observation' (0-based row of FILE) and the parameters; each observation's samples are consecutive rows");
        var seed = Commands.Seed("Seed of the sampling");
        var columns = Commands.Columns();
        var device = DeviceOption.Create("the posterior sampling (the flow and its summary network; on a device: the draws of its own counter-based generator from --seed)");
        var cmd = new Command("sample", "Draw posterior samples θ ~ p(θ | x) for every observation x of a file, in one batched pass.")
        {
            model, observations, n, output, seed, columns, device,
        };
        cmd.SetAction(r =>
        {
            OutputPaths.Check(r.GetValue(output), "--output", DataIo.CheckTableOutput);
            var m = Load(r.GetValue(model)!);
            string path = r.GetValue(observations)!;
            var table = DataIo.Read(ctx, path, r.GetValue(columns), false);
            var names = m.Spec.ObservationNames;
            if (table.Cols != names.Length && names.All(table.Columns.Contains)) table = table.SelectColumns(names);
            table = DataIo.MatchModel(table, names, path);
            int k = r.GetValue(n) ?? 1000, d = m.ParameterDimension;
            using var onDevice = OpenDevice(r.GetValue(device)!, m);
            var clock = Stopwatch.StartNew();
            var posterior = Posterior(m, onDevice, table, k, r.GetValue(seed), new Rng(r.GetValue(seed)));
            double seconds = clock.Elapsed.TotalSeconds;
            var values = new double[(long)table.Rows * k * (d + 1)];
            for (long i = 0; i < (long)table.Rows * k; i++)
            {
                values[i * (d + 1)] = i / k;
                Array.Copy(posterior, i * d, values, i * (d + 1) + 1, d);
            }
            var result = new Table(["observation", .. m.Spec.ParameterNames], values, table.Rows * k);
            DataIo.Write(r.GetValue(output)!, result);
            ctx.Out.WriteLine($"wrote {k} posterior samples for each of {table.Rows} observations to {r.GetValue(output)} (sampling took {seconds:F2} s)");
            return 0;
        });
        return cmd;
    }

    private static Command Calibrate(CliContext ctx)
    {
        var model = new Argument<string>("MODEL") { Description = "Posterior model written by 'nflow infer train'" };
        var simulator = SimulatorOption(false, "Where the (θ, x) test pairs come from: a built-in simulator (default: the one the model was trained with) or a FILE with the model's θ and x columns (held-out pairs)");
        var observations = new Option<int>("--observations") { Description = "Simulated observations for SBC and coverage", DefaultValueFactory = _ => 1000 };
        var samples = new Option<int>("--samples") { Description = "Posterior samples per observation (SBC ranks run 0 … samples)", DefaultValueFactory = _ => 99 };
        var bins = new Option<int>("--bins") { Description = "Rank-histogram bins", DefaultValueFactory = _ => 20 };
        var events = new Option<int>("--events") { Description = "W → ℓν models: held-out events for the comparison with the quadratic neutrino solution (0: skip)", DefaultValueFactory = _ => 100_000 };
        var eventSamples = new Option<int>("--event-samples") { Description = "W → ℓν models: posterior samples per held-out event", DefaultValueFactory = _ => 200 };
        var output = Commands.Output("HTML report to write", "calibration.html");
        var seed = Commands.Seed("Seed of the simulation and sampling");
        foreach (var o in new[] { observations, samples, bins, eventSamples }) Commands.Positive(o);
        Commands.NonNegative(events);
        var device = DeviceOption.Create("the SBC posterior sampling (the flow and its summary network; on a device: the draws of its own counter-based generator from --seed; the W → ℓν study samples on the CPU)");
        var cmd = new Command("calibrate", "Check a posterior estimator: simulation-based calibration (rank histograms, χ² test), coverage of credible intervals, posterior mean/σ versus truth; for W → ℓν, the comparison with the quadratic neutrino solution. Writes an HTML report.")
        {
            model, simulator, observations, samples, bins, events, eventSamples, output, seed, device,
        };
        cmd.SetAction(r =>
        {
            string modelPath = r.GetValue(model)!;
            OutputPaths.Check(r.GetValue(output), "--output", DataIo.CheckReportOutput);
            var m = Load(modelPath);
            var rng = new Rng(r.GetValue(seed) ^ 0xCA11B);
            string source = r.GetValue(simulator) ?? (m.Metadata.TryGetValue("simulator", out var stored) && BuiltIn(stored) is not null ? stored
                : throw new UsageException($"{modelPath} was not trained with a built-in simulator: give held-out pairs with --simulator FILE"));
            int nObs = r.GetValue(observations), l = r.GetValue(samples);
            if (r.GetValue(bins) > l + 1) throw new UsageException($"--bins ({r.GetValue(bins)}) must not exceed --samples + 1 ({l + 1})");
            var builtIn = BuiltIn(source);
            double[] theta, x;
            if (builtIn is not null)
            {
                m.CheckSimulator(builtIn);
                (theta, x) = builtIn.Sample(nObs, rng);
            }
            else
            {
                if (!File.Exists(source)) throw new ArgumentException($"--simulator: '{source}' is neither a built-in simulator ({string.Join(", ", Simulators)}) nor an existing file");
                var table = DataIo.Read(ctx, source, null, false);
                (theta, _, x, _) = SplitColumns(table, string.Join(",", m.Spec.ParameterNames), source, m.Spec.ObservationNames);
                nObs = Math.Min(nObs, table.Rows);
                theta = theta[..(nObs * m.ParameterDimension)];
                x = x[..(nObs * m.ObservationFeatures)];
            }
            using var onDevice = OpenDevice(r.GetValue(device)!, m);
            var postValues = Posterior(m, onDevice, new Table([.. m.Spec.ObservationNames], x, nObs), l, r.GetValue(seed) ^ 0xCA11B, rng);
            var cal = PosteriorCalibration.Evaluate(m.Spec.ParameterNames, theta, postValues, nObs, l, r.GetValue(bins));
            ctx.Out.WriteLine($"SBC on {nObs} observations × {l} samples:");
            foreach (var (rank, p) in cal.Ranks.Zip(cal.Parameters))
                ctx.Out.WriteLine($"  {p.Name,-10} χ² {Commands.F(rank.ChiSquare, "F1")}/{rank.DegreesOfFreedom}  p = {Commands.F(rank.PValue, "G3")}  " +
                    $"coverage {string.Join(" ", cal.Levels.Zip(p.Coverage).Select(t => $"{Commands.F(100 * t.First, "G4")}%:{Commands.F(t.Second, "F3")}"))}  " +
                    $"bias {Commands.F(p.Bias, "G4")}  rmse {Commands.F(p.Rmse, "G4")}  σ̄ {Commands.F(p.MeanPosteriorStd, "G4")}");
            int d = m.ParameterDimension;
            var examples = Enumerable.Range(0, Math.Min(4, nObs)).Select(i => new PosteriorExample(theta[(i * d)..((i + 1) * d)], postValues[(i * l * d)..((i + 1) * l * d)])).ToArray();

            NeutrinoStudyResult? study = null;
            if (builtIn is WlnuSimulator w && r.GetValue(events) > 0)
            {
                int ne = r.GetValue(events);
                ctx.Out.WriteLine($"W → ℓν: {ne} held-out events × {r.GetValue(eventSamples)} posterior samples …");
                study = NeutrinoStudy.Run(m, w, ne, r.GetValue(eventSamples), rng);
                ctx.Out.WriteLine($"  events without a real root: {Commands.F(100 * study.NoRealRootFraction, "F1")} %");
                ctx.Out.WriteLine($"  {"method",-42} {"events",-13} {"n",7} {"σ68",7} {"RMS",7} {"bias",6} {"cov68",6}");
                foreach (var row in study.Rows)
                    ctx.Out.WriteLine($"  {row.Method,-42} {row.Category,-13} {row.Events,7} {Commands.F(row.Sigma68, "F1"),7} {Commands.F(row.Rms, "F1"),7} {Commands.F(row.MedianBias, "F1"),6} {(double.IsNaN(row.Coverage68) ? "–" : Commands.F(row.Coverage68, "F3")),6}");
                ctx.Out.WriteLine($"  posterior sampling: {Commands.F(study.PosteriorsPerSecond, "F0")} posteriors/s, {Commands.F(study.SamplesPerSecond / 1e6, "F2")} M samples/s ({Commands.F(study.SampleSeconds, "F1")} s wall); {Commands.F(study.PosteriorsPerCpuSecond, "F0")} posteriors per CPU second ({Commands.F(study.SampleCpuSeconds, "F1")} CPU s, {Tensors.Kernels.WorkerPool.MaxThreads} threads)");
            }
            var report = CalibrationReport.Build($"nflow infer calibrate — {Path.GetFileName(modelPath)}",
                $"{m.Spec.Flow.Summary()}; summary {m.Spec.Summary.Kind}; trained on {(m.Metadata.TryGetValue("simulator", out var sname) ? sname : "?")}",
                m.Spec.ParameterNames, cal, examples, m.History, study);
            string outPath = r.GetValue(output)!;
            report.Save(outPath);
            ctx.Out.WriteLine($"wrote {outPath}");
            return 0;
        });
        return cmd;
    }

    private static PosteriorEstimator<float> Load(string path) => ModelKinds.Load(path, PosteriorEstimator<float>.Load);

    /// <summary>Null for <c>--device cpu</c>; otherwise the posterior's flow (and summary network) on the device.</summary>
    private static DeviceModel? OpenDevice(string device, PosteriorEstimator<float> m) => device == "cpu" ? null : DeviceModel.Open(device, m.Model);

    /// <summary>
    /// <paramref name="k"/> posterior samples of θ for each row of <paramref name="observations"/> (the model's
    /// observation columns), [rows·k, d] row-major, each observation's samples consecutive: on the device (its stream
    /// seeded by <paramref name="seed"/>) or with <see cref="PosteriorEstimator{T}.SamplePosterior"/> and <paramref name="rng"/>.
    /// </summary>
    private static double[] Posterior(PosteriorEstimator<float> m, DeviceModel? onDevice, Table observations, int k, long seed, Rng rng)
    {
        if (onDevice is null)
        {
            using var x = observations.ToTensor<float>().Untrack();
            using var post = m.SamplePosterior(x, k, rng);
            return post.ToDoubleArray();
        }
        if ((long)observations.Rows * k > int.MaxValue / Math.Max(1, m.ParameterDimension + m.ObservationFeatures))
            throw new ArgumentException($"{observations.Rows} observations × {k} samples is too many for one run; split the observations");
        var context = observations;
        if (m.Spec.Summary.Kind == SummaryKind.SumPooling)
        {
            // the sets in the layout the model reads (a presence flag before each element), as SamplePosterior does
            using var x = observations.ToTensor<float>().Untrack();
            using var flagged = SetEmbedding<float>.WithPresenceFlags(x, m.Spec.Summary.ElementFeatures).Untrack();
            context = new Table([.. m.Model.ContextColumns], flagged.ToDoubleArray(), observations.Rows);
        }
        var drawn = onDevice.Sample(k, seed, context: context); // θ, then the observation's columns
        int d = m.ParameterDimension, width = drawn.Cols;
        var theta = new double[(long)drawn.Rows * d];
        for (long i = 0; i < drawn.Rows; i++) Array.Copy(drawn.Values, i * width, theta, i * d, d);
        return theta;
    }

    /// <summary>Splits a table into θ (the listed columns) and x (the named observation columns, or all others).</summary>
    private static (double[] Theta, string[] ThetaNames, double[] X, string[] XNames) SplitColumns(Table table, string parameterList, string path, IReadOnlyList<string>? observationNames = null)
    {
        var thetaNames = parameterList.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        if (thetaNames.Length == 0) throw new UsageException("--parameters names no columns");
        foreach (var name in thetaNames)
            if (!table.Columns.Contains(name)) throw new ArgumentException($"{path} has no column '{name}' (columns: {string.Join(", ", table.Columns)})");
        var xNames = observationNames?.ToArray() ?? table.Columns.Where(c => !thetaNames.Contains(c)).ToArray();
        foreach (var name in xNames)
            if (!table.Columns.Contains(name)) throw new ArgumentException($"{path} has no observation column '{name}' (columns: {string.Join(", ", table.Columns)})");
        if (xNames.Length == 0) throw new ArgumentException($"{path}: no observation columns left besides the parameters");
        int n = table.Rows;
        var ti = thetaNames.Select(c => Array.IndexOf(table.Columns, c)).ToArray();
        var xi = xNames.Select(c => Array.IndexOf(table.Columns, c)).ToArray();
        var theta = new double[n * ti.Length];
        var x = new double[n * xi.Length];
        for (int i = 0; i < n; i++)
        {
            for (int j = 0; j < ti.Length; j++) theta[i * ti.Length + j] = table[i, ti[j]];
            for (int j = 0; j < xi.Length; j++) x[i * xi.Length + j] = table[i, xi[j]];
        }
        return (theta, thetaNames, x, xNames);
    }

    /// <summary>One line per epoch.</summary>
    private sealed class EpochLines(TextWriter output) : IProgress<TrainingProgress>
    {
        private int _lastEpoch;

        public void Report(TrainingProgress p)
        {
            if (!p.EndOfEpoch || p.Epoch == _lastEpoch) return;
            _lastEpoch = p.Epoch;
            string v = p.ValidationLogLikelihood is { } x ? Commands.F(x) : "–";
            output.WriteLine($"  epoch {p.Epoch,3}  step {p.Step,7}/{p.TotalSteps}  {p.StepsPerSecond,6:F0} steps/s  train log-posterior {Commands.F(-p.Loss),9}  validation {v,9}");
        }
    }
}
