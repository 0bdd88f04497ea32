using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using NormalizingFlows.Data;
using NormalizingFlows.Hep.Calorimeter;
using NormalizingFlows.Hep.Evaluation;
using NormalizingFlows.Hep.Reports;
using NormalizingFlows.Training;
using NormalizingFlows.IO;

namespace NormalizingFlows.Cli;

/// <summary>
/// <c>nflow calo</c>: fast calorimeter simulation. <c>simulate</c> runs the toy CaloGAN calorimeter; <c>train</c> fits
/// CaloFlow's flow I and the MAF teacher; <c>distill</c> trains the IAF student; <c>generate</c> samples showers;
/// <c>eval</c> compares teacher and student with the simulator (classifier AUC, histograms, timing, HTML report).
/// </summary>
internal static class CaloCommand
{
    private static readonly string[] Particles = ["eplus", "gamma", "piplus"];

    public static Command Build(CliContext ctx)
    {
        var cmd = new Command("calo", "Fast calorimeter simulation (CaloFlow): toy CaloGAN calorimeter, flow I + MAF teacher, IAF student by density distillation, evaluation.");
        // calo train, distill, generate and eval take --device; the simulator runs on the CPU
        static Command OnTheCpu(Command sub, string why)
        {
            sub.Add(DeviceOption.CpuOnly($"calo {sub.Name}", why + "; calo train, distill, generate and eval take --device"));
            return sub;
        }
        foreach (var sub in new[]
        {
            OnTheCpu(Simulate(ctx), "the toy calorimeter runs on the CPU"), Train(ctx),
            Distill(ctx), Generate(ctx), Eval(ctx),
        })
            cmd.Add(sub);
        return cmd;
    }

    private static Option<string> ParticleOption(bool required)
    {
        var o = new Option<string>("--particle", "-p") { Description = "Particle: eplus, gamma or piplus", HelpName = "PARTICLE" };
        if (required) o.Required = true;
        else o.DefaultValueFactory = _ => "";
        o.Validators.Add(r =>
        {
            if (r.Tokens.Count == 1 && !Particles.Contains(r.Tokens[0].Value.ToLowerInvariant()))
                r.AddError($"unknown particle '{r.Tokens[0].Value}' for --particle (choose one of: {string.Join(", ", Particles)})");
        });
        return o;
    }

    /// <summary>Showers from .npy or .parquet (505 columns: voxels in GeV, then E_inc in GeV) or HDF5 (CaloGAN / CaloChallenge layout).</summary>
    internal static CaloShowers ReadShowers(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"no such file: {path}", path);
        return CaloHdf5.IsHdf5Path(path) ? CaloHdf5.Read(path)
            : ParquetTable.IsParquetPath(path) ? CaloShowers.FromTable(ParquetTable.Read(path), path)
            : CaloShowers.LoadNpy(path);
    }

    /// <summary>Refuses (exit 2) a shower output that is neither .npy nor HDF5, before any work is done.</summary>
    internal static void CheckShowerOutput(string path, string option = "--output")
    {
        if (IsShowerPath(path)) return;
        string ext = Path.GetExtension(path);
        throw new UsageException($"{option} {path}: showers are written as .npy or .parquet (504 voxels + E_inc) or .h5/.hdf5 (CaloGAN or CaloChallenge layout), not '{(ext.Length == 0 ? "(no extension)" : ext)}'");
    }

    internal static void WriteShowers(string path, CaloShowers showers, CaloHdf5Layout layout = CaloHdf5Layout.CaloGan, bool compress = false)
    {
        CheckShowerOutput(path);
        if (CaloHdf5.IsHdf5Path(path)) CaloHdf5.Write(path, showers, layout, compress);
        else if (ParquetTable.IsParquetPath(path)) ParquetTable.Write(path, showers.ToTable());
        else showers.SaveNpy(path);
    }

    /// <summary>The <c>--layout</c> and <c>--compress</c> options of a verb that writes showers to HDF5.</summary>
    private static (Option<string> Layout, Option<bool> Compress) Hdf5Options()
    {
        var layout = new Option<string>("--layout") { Description = "HDF5 layout of an .h5 output: calogan (energy, layer_0..2) or calochallenge (incident_energies, showers [N, 504])", DefaultValueFactory = _ => "calogan" };
        Commands.OneOf(layout, "layout", ["calogan", "calochallenge"]);
        var compress = new Option<bool>("--compress") { Description = "Deflate-compress the datasets of an .h5 output" };
        return (layout, compress);
    }

    private static CaloHdf5Layout Layout(string name) => name == "calochallenge" ? CaloHdf5Layout.CaloChallenge : CaloHdf5Layout.CaloGan;

    private static Command Simulate(CliContext ctx)
    {
        var particle = ParticleOption(required: true);
        var count = Commands.Count("Number of showers");
        var output = Commands.Output("Shower file: .npy (504 voxels + E_inc, GeV) or .h5 (see --layout)");
        var (layout, compress) = Hdf5Options();
        var seed = Commands.Seed();
        var noise = new Option<double>("--noise") { Description = "Electronic noise per voxel (GeV)", DefaultValueFactory = _ => new ToyCalorimeterOptions().NoiseSigma };
        var threshold = new Option<double>("--threshold") { Description = "Readout threshold (GeV)", DefaultValueFactory = _ => new ToyCalorimeterOptions().Threshold };
        var cmd = new Command("simulate", "Simulate showers with the toy CaloGAN calorimeter (E_inc uniform in [1, 100] GeV, centred, perpendicular); deterministic for a seed.")
        {
            particle, count, output, layout, compress, seed, noise, threshold,
        };
        cmd.SetAction(r =>
        {
            OutputPaths.Check(r.GetValue(output), "--output", CheckShowerOutput);
            var p = ToyCalorimeter.ParseParticle(r.GetValue(particle)!);
            int n = r.GetValue(count) ?? 10_000;
            var sim = new ToyCalorimeter(new ToyCalorimeterOptions { NoiseSigma = r.GetValue(noise), Threshold = r.GetValue(threshold) });
            var clock = Stopwatch.StartNew();
            var showers = sim.Simulate(p, n, r.GetValue(seed));
            double seconds = clock.Elapsed.TotalSeconds;
            WriteShowers(r.GetValue(output)!, showers, Layout(r.GetValue(layout)!), r.GetValue(compress));
            ctx.Out.WriteLine($"nflow calo simulate: {n} {ToyCalorimeter.ParticleName(p)} showers in {seconds:F2} s ({CaloEvaluation.FormatTime(seconds / Math.Max(1, n))} per shower) → {r.GetValue(output)}");
            return 0;
        });
        return cmd;
    }

    private static Command Train(CliContext ctx)
    {
        var data = new Argument<string>("DATA") { Description = "Training showers (.npy from `nflow calo simulate`, or a CaloGAN/CaloChallenge .h5)" };
        var particle = ParticleOption(required: false);
        var output = Commands.Output("Model file to write", "caloflow.nflow");
        var f1Layers = new Option<int>("--flow1-layers") { Description = "Flow I: MAF layers", DefaultValueFactory = _ => 6 };
        var f1Hidden = new Option<int>("--flow1-hidden") { Description = "Flow I: MADE hidden units", DefaultValueFactory = _ => 64 };
        var f1Bins = new Option<int>("--flow1-bins") { Description = "Flow I: spline bins (0: affine)", DefaultValueFactory = _ => 8 };
        var f1Epochs = new Option<int>("--flow1-epochs") { Description = "Flow I: epochs", DefaultValueFactory = _ => 40 };
        var layers = new Option<int>("--layers") { Description = "Flow II teacher: MAF layers (MADE blocks)", DefaultValueFactory = _ => 8 };
        var hidden = new Option<int>("--hidden") { Description = "Flow II teacher: MADE hidden units", DefaultValueFactory = _ => 504 };
        var bins = new Option<int>("--bins") { Description = "Flow II teacher: rational-quadratic bins (0: affine MADE blocks)", DefaultValueFactory = _ => 8 };
        var epochs = new Option<int>("--epochs") { Description = "Flow II teacher: epochs", DefaultValueFactory = _ => 40 };
        var batch = new Option<int>("--batch") { Description = "Showers per minibatch", DefaultValueFactory = _ => 256 };
        var lr = new Option<double>("--lr") { Description = "Adam learning rate (cosine decay)", DefaultValueFactory = _ => 1e-3 };
        var threshold = new Option<double>("--threshold") { Description = "Readout threshold applied to generated showers (GeV)", DefaultValueFactory = _ => 0.002 };
        var noise = new Option<double?>("--noise") { Description = "Width of the uniform noise added to every voxel before normalisation (GeV; default: a quarter of the threshold, 1e-6 without one)" };
        var seed = Commands.Seed();
        var checkpoint = new Option<string?>("--checkpoint")
        {
            Description = "Checkpoint written at every epoch end and on SIGINT/SIGTERM (FILE, and FILE.flow1 once flow I is trained; deleted after success); default: the --resume file, else OUTPUT.ckpt",
            HelpName = "FILE",
        };
        var resume = new Option<string?>("--resume") { Description = "Continue an interrupted run from its checkpoint (same DATA and options; checked)", HelpName = "CHECKPOINT" };
        foreach (var o in new[] { f1Layers, f1Hidden, f1Epochs, layers, hidden, epochs, batch }) Commands.Positive(o);
        noise.Validators.Add(res =>
        {
            double? v = res.GetValueOrDefault<double?>();
            if (v is { } w && (!(w > 0) || !double.IsFinite(w))) res.AddError($"--noise must be a positive width in GeV, got {w}");
        });
        Commands.NonNegative(f1Bins); Commands.NonNegative(bins);
        var device = DeviceOption.Create("the training of flow I and the teacher");
        var cmd = new Command("train", "Train CaloFlow's flow I (layer energies | E_inc) and flow II teacher (MAF on normalised voxels | E_i, E_inc) by maximum likelihood.")
        {
            data, particle, output, f1Layers, f1Hidden, f1Bins, f1Epochs, layers, hidden, bins, epochs, batch, lr, threshold, noise, seed, checkpoint, resume, device,
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
            if (resumeFrom is not null && !File.Exists(resumeFrom) && !File.Exists(resumeFrom + ".flow1")) throw new ArgumentException($"--resume: no checkpoint at {resumeFrom}");
            string ckpt = r.GetValue(checkpoint) ?? resumeFrom ?? outPath + ".ckpt";
            OutputPaths.CheckAll(("--output", outPath), ("--checkpoint", ckpt), ("--checkpoint", ckpt + ".flow1"));
            var showers = ReadShowers(r.GetValue(data)!);
            long s = r.GetValue(seed);
            var config = new CaloFlowConfig
            {
                Particle = r.GetValue(particle) is { Length: > 0 } p ? ToyCalorimeter.ParticleName(ToyCalorimeter.ParseParticle(p)) : "unknown",
                Flow1Layers = r.GetValue(f1Layers), Flow1Hidden = r.GetValue(f1Hidden), Flow1Bins = r.GetValue(f1Bins),
                Flow2Layers = r.GetValue(layers), Flow2Hidden = r.GetValue(hidden), Flow2Bins = r.GetValue(bins),
                Preprocessing = r.GetValue(noise) is { } width
                    ? new CaloFlowPreprocessing { Threshold = r.GetValue(threshold), Noise = width }
                    : new CaloFlowPreprocessing { Threshold = r.GetValue(threshold) },
            };
            var model = CaloFlow.Create(config, showers, s);
            var (d1, d2) = model.TrainingData(showers, s);
            var counts = model.ParameterCounts();
            ctx.Out.WriteLine($"nflow calo train: {showers.Count} showers; flow I {counts.Flow1:N0} parameters, teacher {counts.Teacher:N0} parameters");
            // two phases, each checkpointed by its trainer in ckpt; flow I's parameters go to ckpt.flow1 when it is done
            var settings = RunSettings.Of(r, "--checkpoint", "--resume", "--output", "--device"); // a run resumes on any device
            using var interruption = ctx.Listen();
            TrainingOptions Options(int ep, string phase) => new()
            {
                Epochs = ep, BatchSize = r.GetValue(batch), LearningRate = r.GetValue(lr), Seed = s, CheckpointPath = ckpt,
                RunSettings = new Dictionary<string, string>(settings) { ["phase"] = phase }, DataDescription = Path.GetFileName(r.GetValue(data)),
                ReportEverySteps = ctx.SimulatedSignal is null ? 50 : 1, Device = accelerator,
            };
            IProgress<TrainingProgress> Progress(string phase) => new TrainingJobProgress(new JobProgress(ctx, $"nflow calo train: {phase}", 0, "steps", interruption), Plain(ctx, phase));
            int Stopped(string phase, TrainingHistory h)
            {
                ctx.Err.WriteLine($"nflow: calo train interrupted by {interruption.SignalName} while training {phase}, after {h.Steps} steps; checkpoint written to {ckpt}" +
                    (File.Exists(ckpt + ".flow1") ? $" (and flow I to {ckpt}.flow1)" : ""));
                ctx.Err.WriteLine($"continue with the same command plus: --resume {ckpt}");
                return interruption.ExitCode;
            }
            if (resumeFrom is not null) ctx.Out.WriteLine($"resuming from {resumeFrom}");
            var clock = Stopwatch.StartNew();
            bool flow1Done = resumeFrom is not null && File.Exists(resumeFrom + ".flow1");
            if (flow1Done)
            {
                model.Flow1.Load(resumeFrom + ".flow1");
                model.Flow1.Eval();
                ctx.Out.WriteLine($"flow I: restored from {resumeFrom}.flow1");
                if (resumeFrom + ".flow1" != ckpt + ".flow1") File.Copy(resumeFrom + ".flow1", ckpt + ".flow1", overwrite: true);
            }
            else
            {
                var h1 = model.TrainFlow1(d1, Options(r.GetValue(f1Epochs), "flow I"), Progress("flow I"), interruption.Token,
                    resumeFrom is not null && File.Exists(resumeFrom) ? resumeFrom : null);
                if (h1.Outcome == TrainingOutcome.Cancelled) return Stopped("flow I", h1);
                ctx.Out.WriteLine($"flow I: final loss {h1.Epochs[^1].TrainLoss:F4} after {h1.Steps} steps ({clock.Elapsed.TotalSeconds:F1} s)");
                model.Flow1.Save(ckpt + ".flow1");
                if (File.Exists(ckpt)) File.Delete(ckpt); // flow I's trainer checkpoint: the teacher's takes its place
            }
            clock.Restart();
            var h2 = model.TrainTeacher(d2, Options(r.GetValue(epochs), "teacher"), Progress("teacher"), interruption.Token,
                flow1Done && File.Exists(resumeFrom) ? resumeFrom : null);
            if (h2.Outcome == TrainingOutcome.Cancelled) return Stopped("the teacher", h2);
            ctx.Out.WriteLine($"teacher: final loss {h2.Epochs[^1].TrainLoss:F2} after {h2.Steps} steps ({clock.Elapsed.TotalSeconds:F1} s)");
            model.Save(outPath);
            foreach (var f in new[] { ckpt, ckpt + ".flow1" }) if (File.Exists(f)) File.Delete(f);
            ctx.Out.WriteLine($"wrote {outPath}");
            return 0;
        }
    }

    private static Command Distill(CliContext ctx)
    {
        var modelArg = new Argument<string>("MODEL") { Description = "CaloFlow model from `nflow calo train`" };
        var data = new Argument<string>("DATA") { Description = "The teacher's training showers (.npy or .h5)" };
        var output = new Option<string?>("--output", "-o") { Description = "Model file to write (default: overwrite MODEL)", HelpName = "FILE" };
        var steps = new Option<int>("--steps") { Description = "Distillation steps (each a z-pass and an x-pass)", DefaultValueFactory = _ => 5000 };
        var batch = new Option<int>("--batch") { Description = "Rows per pass", DefaultValueFactory = _ => 256 };
        var lr = new Option<double>("--lr") { Description = "Adam learning rate (cosine decay)", DefaultValueFactory = _ => 1e-3 };
        var seed = Commands.Seed();
        var checkpoint = new Option<string?>("--checkpoint")
        {
            Description = "Checkpoint written on SIGINT/SIGTERM (student, optimizer, steps done; deleted after success); default: the --resume file, else OUTPUT.ckpt",
            HelpName = "FILE",
        };
        var resume = new Option<string?>("--resume") { Description = "Continue an interrupted distillation from its checkpoint (same MODEL, DATA and options; checked)", HelpName = "CHECKPOINT" };
        Commands.Positive(steps); Commands.Positive(batch);
        var device = DeviceOption.Create("the distillation (the frozen teacher, the student's steps and Adam; the base draws come from the CPU's random stream)");
        var cmd = new Command("distill", "Train the IAF student from the frozen MAF teacher by probability density distillation (MSE on z, x, intermediate layers and θ).")
        {
            modelArg, data, output, steps, batch, lr, seed, checkpoint, resume, device,
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
            string path = r.GetValue(modelArg)!;
            string outPath = r.GetValue(output) ?? path;
            string? resumeFrom = r.GetValue(resume);
            if (resumeFrom is not null && !File.Exists(resumeFrom)) throw new ArgumentException($"--resume: no checkpoint at {resumeFrom}");
            string ckpt = r.GetValue(checkpoint) ?? resumeFrom ?? outPath + ".ckpt";
            OutputPaths.CheckAll((r.GetValue(output) is null ? "MODEL" : "--output", outPath), ("--checkpoint", ckpt));
            var model = LoadModel(path);
            var showers = ReadShowers(r.GetValue(data)!);
            long s = r.GetValue(seed);
            var (_, d2) = model.TrainingData(showers, s);
            var clock = Stopwatch.StartNew();
            // progress with rate and ETA on stderr; a signal stops the distillation at its next step, writing a checkpoint
            using var interruption = ctx.Listen();
            var job = new JobProgress(ctx, "nflow calo distill", r.GetValue(steps), "steps", interruption);
            var options = new DistillationOptions
            {
                Steps = r.GetValue(steps), BatchSize = r.GetValue(batch), LearningRate = r.GetValue(lr), Seed = s, ReportEverySteps = ctx.SimulatedSignal is null ? 100 : 1,
                CheckpointPath = ckpt, RunSettings = RunSettings.Of(r, "--checkpoint", "--resume", "--output", "--device"), DataDescription = Path.GetFileName(r.GetValue(data)),
                Device = accelerator, // a run resumes on any device
            };
            var trainer = model.Distiller(options, new CallbackProgress<DistillationProgress>(p =>
                {
                    ctx.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"distill step {p.Step}/{p.TotalSteps}: loss {p.Loss.Total:G4} (z {p.Loss.Z:G3}, x {p.Loss.X:G3}, z_i {p.Loss.IntermediateZ:G3}, x_i {p.Loss.IntermediateX:G3}, θ_z {p.Loss.ParametersZ:G3}, θ_x {p.Loss.ParametersX:G3}), {p.StepsPerSecond:F1} steps/s"));
                    job.Report(p.Step, string.Create(CultureInfo.InvariantCulture, $"loss {p.Loss.Total:G4}"), checkInterruption: false);
                }), s);
            if (resumeFrom is not null) ctx.Out.WriteLine($"resuming from {resumeFrom}");
            var loss = trainer.Fit(d2, interruption.Token, resumeFrom);
            if (trainer.StepsDone < r.GetValue(steps))
            {
                ctx.Err.WriteLine($"nflow: calo distill interrupted by {interruption.SignalName} after {trainer.StepsDone} of {r.GetValue(steps)} steps; checkpoint written to {ckpt}; {outPath} was not written");
                ctx.Err.WriteLine($"continue with the same command plus: --resume {ckpt}");
                return interruption.ExitCode;
            }
            job.Complete(r.GetValue(steps));
            ctx.Out.WriteLine($"distillation: final loss {loss.Total:G4} after {r.GetValue(steps)} steps ({clock.Elapsed.TotalSeconds:F1} s)");
            model.Save(outPath);
            if (File.Exists(ckpt)) File.Delete(ckpt);
            ctx.Out.WriteLine($"wrote {outPath} (with student)");
            return 0;
        }
    }

    private static Command Generate(CliContext ctx)
    {
        var modelArg = new Argument<string>("MODEL") { Description = "CaloFlow model" };
        var count = Commands.Count("Number of showers (E_inc uniform in [1, 100] GeV) unless --energies is given");
        var energies = new Option<string?>("--energies") { Description = "Take E_inc from this shower file (.npy or .h5) instead", HelpName = "FILE" };
        var sampler = new Option<string>("--sampler") { Description = "student (one pass) or teacher (sequential)", DefaultValueFactory = _ => "student" };
        Commands.OneOf(sampler, "sampler", ["student", "teacher"]);
        var output = Commands.Output("Shower file: .npy or .h5 (see --layout)");
        var (layout, compress) = Hdf5Options();
        var batch = new Option<int>("--batch") { Description = "Showers per generation batch", DefaultValueFactory = _ => 10_000 };
        var seed = Commands.Seed();
        var device = DeviceOption.Create("flow I and flow II's sampling (the same base draws as on the CPU)");
        Commands.Positive(batch);
        var cmd = new Command("generate", "Generate showers with CaloFlow (flow I, then the student or the teacher), post-processed with the readout threshold.")
        {
            modelArg, count, energies, sampler, output, layout, compress, batch, seed, device,
        };
        cmd.SetAction(r =>
        {
            OutputPaths.Check(r.GetValue(output), "--output", CheckShowerOutput);
            string deviceName = r.GetValue(device)!;
            var model = LoadModel(r.GetValue(modelArg)!);
            var which = r.GetValue(sampler) == "teacher" ? CaloSampler.Teacher : CaloSampler.Student;
            if (which == CaloSampler.Student && model.Student is null)
                throw new ArgumentException($"{r.GetValue(modelArg)} has no student yet: run `nflow calo distill` first, or use --sampler teacher");
            long s = r.GetValue(seed);
            double[] e;
            if (r.GetValue(energies) is { } ePath) e = ReadShowers(ePath).IncidentEnergies;
            else
            {
                var rng = new Tensors.Rng(s ^ 0xE17C);
                e = Enumerable.Range(0, r.GetValue(count) ?? 10_000).Select(_ => 1 + 99 * rng.NextDouble()).ToArray();
            }
            using var accelerator = DeviceOption.Open(deviceName);
            using var flows = accelerator is null ? null : model.OnDevice(accelerator);
            var clock = Stopwatch.StartNew();
            var showers = DeviceOption.Refusing(deviceName, () => model.Generate(e, which, s, r.GetValue(batch), flows));
            double seconds = clock.Elapsed.TotalSeconds;
            WriteShowers(r.GetValue(output)!, showers, Layout(r.GetValue(layout)!), r.GetValue(compress));
            ctx.Out.WriteLine($"nflow calo generate: {e.Length} showers with the {which.ToString().ToLowerInvariant()}{(accelerator is null ? "" : $" on {accelerator.Name}")} in {seconds:F2} s ({CaloEvaluation.FormatTime(seconds / Math.Max(1, e.Length))} per shower) → {r.GetValue(output)}");
            return 0;
        });
        return cmd;
    }

    private static Command Eval(CliContext ctx)
    {
        var modelArg = new Argument<string>("MODEL") { Description = "CaloFlow model (with a student for the student row), or generated showers (.npy or .h5, CaloGAN or CaloChallenge layout) to compare with REFERENCE directly" };
        var reference = new Argument<string>("REFERENCE") { Description = "Held-out simulator showers (.npy or .h5; a CaloChallenge file of data set 1, 2 or 3 when MODEL is such a file)" };
        var particle = ParticleOption(required: false);
        var count = Commands.Count("Compare at most this many showers (default: all of REFERENCE)");
        var timingBatch = new Option<int>("--timing-batch") { Description = "Batch size of the generation-time measurement", DefaultValueFactory = _ => 10_000 };
        var fullBatch = new Option<int>("--full-pass-batch") { Description = "Batch size for timing the teacher sampled with 504 full MADE passes per layer (as CaloFlow v1; 0: skip)", DefaultValueFactory = _ => 1000 };
        var repeats = new Option<int>("--repeats") { Description = "Repeat each timing this many times and keep the fastest run", DefaultValueFactory = _ => 3 };
        var timingOnly = new Option<bool>("--timing-only") { Description = "Measure the generation times only (no classifier tests, no report)" };
        var report = new Option<string?>("--report") { Description = "Write an HTML report here", HelpName = "FILE" };
        var folds = new Option<int>("--folds") { Description = "Classifier cross-fitting folds", DefaultValueFactory = _ => CaloEvaluation.DefaultClassifier.Folds };
        var kpdBatch = new Option<int>("--kpd-batch") { Description = "Events per KPD batch (at most the smaller sample)", DefaultValueFactory = _ => new PhysicsDistanceOptions().KpdBatchSize };
        var seed = Commands.Seed();
        var device = DeviceOption.Create("the generation of teacher and student showers (and its timing; the simulator, metrics and classifiers run on the CPU)");
        Commands.Positive(kpdBatch);
        Commands.Positive(timingBatch);
        Commands.NonNegative(fullBatch);
        Commands.Positive(repeats);
        folds.Validators.Add(r => { if (r.Tokens.Count == 1 && int.TryParse(r.Tokens[0].Value, CultureInfo.InvariantCulture, out int k) && k < 2) r.AddError($"--folds must be ≥ 2, got {k}"); });
        var cmd = new Command("eval", "Compare teacher and student showers with the simulator: classifier AUCs of an MLP and gradient-boosted trees on raw, layer-normalised, log(E/E_inc) and high-level inputs, the CaloChallenge metrics (separation power per high-level feature, FPD, KPD), generation time per shower of teacher, student and simulator, histograms and average images in an HTML report. With a shower file for MODEL: the CaloChallenge metrics and high- and low-level classifier AUCs of those showers against REFERENCE.")
        {
            modelArg, reference, particle, count, timingBatch, fullBatch, repeats, timingOnly, report, folds, kpdBatch, seed, device,
        };
        cmd.SetAction(r =>
        {
            OutputPaths.Check(r.GetValue(report), "--report", DataIo.CheckReportOutput);
            var distances = new PhysicsDistanceOptions { KpdBatchSize = r.GetValue(kpdBatch) };
            string deviceName = r.GetValue(device)!;
            if (IsShowerPath(r.GetValue(modelArg)!) && deviceName != "cpu")
                throw new ArgumentException($"{DeviceOption.Name} {deviceName}: calo eval of two shower files generates nothing; its metrics and classifiers run on the CPU: leave {DeviceOption.Name} out");
            if (IsShowerPath(r.GetValue(modelArg)!))
                return CompareFiles(ctx, r.GetValue(modelArg)!, r.GetValue(reference)!, r.GetValue(count), CaloEvaluation.DefaultClassifier with { Folds = r.GetValue(folds), Seed = r.GetValue(seed) },
                    distances, r.GetValue(report));
            var model = LoadModel(r.GetValue(modelArg)!);
            var refShowers = ReadShowers(r.GetValue(reference)!);
            if (r.GetValue(count) is { } n) refShowers = refShowers.Head(n);
            string pName = (r.GetValue(particle) is { Length: > 0 } pn ? pn : model.Config.Particle).ToLowerInvariant(); // --particle is case-insensitive
            if (!Particles.Contains(pName)) throw new ArgumentException($"the model does not say which particle it was trained on ('{pName}'): give --particle");
            var p = ToyCalorimeter.ParseParticle(pName);
            long s = r.GetValue(seed);
            int tb = r.GetValue(timingBatch);
            using var accelerator = DeviceOption.Open(deviceName);
            using var flows = accelerator is null ? null : model.OnDevice(accelerator);
            return DeviceOption.Refusing(deviceName, () => Evaluate(r, model, refShowers, p, s, tb, distances, flows));
        });
        return cmd;

        // timing, generation (on the device with flows), classifier tests, metrics and the report
        int Evaluate(ParseResult r, CaloFlow model, CaloShowers refShowers, CaloParticle p, long s, int tb, PhysicsDistanceOptions distances, CaloDeviceFlows? flows)
        {
            // generation time per shower at the timing batch size (one batch of tb showers, after a warm-up)
            var sim = new ToyCalorimeter();
            sim.Simulate(p, Math.Min(tb, 256), s + 1);
            int rep = r.GetValue(repeats);
            var simTime = GenerationTiming.Measure(tb, () => sim.Simulate(p, tb, s + 2), rep);
            var teacherTime = model.TimePerShower(CaloSampler.Teacher, tb, s + 3, rep, flows);
            var studentTime = model.Student is null ? null : model.TimePerShower(CaloSampler.Student, tb, s + 3, rep, flows);
            int fb = r.GetValue(fullBatch);
            var fullTime = fb > 0 ? model.TimePerShower(CaloSampler.TeacherFullPasses, fb, s + 3, rep, flows) : null;
            static string T(GenerationTiming? t) => t is null ? "—" : $"{CaloEvaluation.FormatTime(t.WallSeconds)} (CPU {CaloEvaluation.FormatTime(t.CpuSeconds)})";
            string where = flows is null ? "" : $"; flow I and flow II on {flows.Device.Name}, the simulator on the CPU";
            ctx.Out.WriteLine($"time per shower at batch {tb} (wall, and CPU time over all threads{where}): simulator {T(simTime)}, teacher {T(teacherTime)}, student {T(studentTime)}");
            if (studentTime is not null)
                ctx.Out.WriteLine(FormattableString.Invariant($"student/teacher speed-up: {teacherTime.WallSeconds / studentTime.WallSeconds:F1}× wall, {teacherTime.CpuSeconds / studentTime.CpuSeconds:F1}× CPU"));
            if (fullTime is not null)
                ctx.Out.WriteLine($"teacher with 504 full MADE passes per layer (CaloFlow v1 sampling) at batch {fb}: {T(fullTime)} per shower" +
                    (studentTime is null ? "" : FormattableString.Invariant($"; student speed-up over it {fullTime.WallSeconds / studentTime.WallSeconds:F0}× wall, {fullTime.CpuSeconds / studentTime.CpuSeconds:F0}× CPU")));

            // flow II alone: the part the student replaces
            var f2Teacher = model.TimeFlow2PerShower(CaloSampler.Teacher, tb, s + 5, rep, flows);
            var f2Student = model.Student is null ? null : model.TimeFlow2PerShower(CaloSampler.Student, tb, s + 5, rep, flows);
            var f2Full = fb > 0 ? model.TimeFlow2PerShower(CaloSampler.TeacherFullPasses, fb, s + 5, rep, flows) : null;
            ctx.Out.WriteLine($"flow II sampling alone per shower: teacher {T(f2Teacher)} at batch {tb}, student {T(f2Student)} at batch {tb}, teacher with full passes {T(f2Full)} at batch {fb}");
            if (r.GetValue(timingOnly)) return 0;

            var candidates = new List<CaloCandidate> { new("teacher (MAF)", model.Generate(refShowers.IncidentEnergies, CaloSampler.Teacher, s + 4, device: flows), teacherTime.WallSeconds) };
            if (model.Student is not null)
                candidates.Add(new CaloCandidate("student (IAF)", model.Generate(refShowers.IncidentEnergies, CaloSampler.Student, s + 4, device: flows), studentTime!.WallSeconds));
            var classifier = CaloEvaluation.DefaultClassifier with { Folds = r.GetValue(folds), Seed = s };
            var clock = Stopwatch.StartNew();
            var comparisons = CaloEvaluation.Compare(refShowers, candidates, classifier);
            ctx.Out.WriteLine($"classifier tests on {refShowers.Count} reference showers ({clock.Elapsed.TotalSeconds:F1} s):");
            ctx.Out.WriteLine("| " + string.Join(" | ", CaloEvaluation.TableHeader) + " |");
            ctx.Out.WriteLine("|" + string.Concat(CaloEvaluation.TableHeader.Select(_ => "---|")));
            foreach (var row in CaloEvaluation.TableRows(comparisons, simTime.WallSeconds)) ctx.Out.WriteLine("| " + string.Join(" | ", row) + " |");
            var metrics = CaloEvaluation.Metrics(refShowers, candidates, comparisons, classifier, distances);
            WriteMetrics(ctx, metrics);
            if (r.GetValue(report) is { } reportPath)
            {
                var counts = model.ParameterCounts();
                var notes = new List<(string, string)>
                {
                    ("particle", ToyCalorimeter.ParticleName(p)),
                    ("model", $"{r.GetValue(modelArg)}: flow I {model.Config.Flow1Layers}×MADE({model.Config.Flow1Hidden}), bins {model.Config.Flow1Bins}; flow II {model.Config.Flow2Layers}×MADE({model.Config.Flow2Hidden}), bins {model.Config.Flow2Bins}; parameters {counts.Flow1:N0} / {counts.Teacher:N0} / {counts.Student:N0}"),
                    ("reference", $"{r.GetValue(reference)} ({refShowers.Count} showers)"),
                    ("timing", $"one batch of {tb} showers after a warm-up, fastest of {rep} runs, {Environment.ProcessorCount} logical cores; " +
                        (flows is null ? "the teacher samples with the incremental MADE (about one pass of work)" : $"flow I and flow II on {flows.Device.Name} (the teacher with the device's incremental MADE, the base draws on the host), the simulator on the CPU")),
                    ("teacher, 504 full MADE passes per layer (CaloFlow v1 sampling)", fullTime is null ? "not timed" : $"{T(fullTime)} per shower at batch {fb}"),
                    ("flow II sampling alone, per shower", $"teacher {T(f2Teacher)}, student {T(f2Student)}, teacher with full passes {T(f2Full)}"),
                    ("CPU time per shower (all threads)", $"simulator {CaloEvaluation.FormatTime(simTime.CpuSeconds)}, teacher {CaloEvaluation.FormatTime(teacherTime.CpuSeconds)}, student {(studentTime is null ? "—" : CaloEvaluation.FormatTime(studentTime.CpuSeconds))}"),
                    ("classifiers", $"MLP {string.Join("→", classifier.HiddenSizes)}, ≤ {classifier.Epochs} epochs, patience {classifier.Patience}; gradient-boosted trees (≤ 300 trees, 31 leaves, 255 bins, early stopping); both {classifier.Folds}-fold cross-fitted on the same folds, the larger AUC the headline"),
                };
                CaloEvaluation.Report($"CaloFlow ({ToyCalorimeter.ParticleName(p)}): teacher and student vs the toy calorimeter", refShowers, candidates, comparisons, simTime.WallSeconds, notes, metrics: metrics).Save(reportPath);
                ctx.Out.WriteLine($"wrote {reportPath}");
            }
            return 0;
        }
    }

    private static bool IsShowerPath(string path) => CaloHdf5.IsHdf5Path(path) || ParquetTable.IsParquetPath(path) || path.EndsWith(".npy", StringComparison.OrdinalIgnoreCase);

    /// <summary>
    /// High-level features and low-level classifier columns of a shower file: a CaloChallenge geometry when the file
    /// holds one (data set 1, 2 or 3), else the toy CaloGAN geometry.
    /// </summary>
    internal static (CaloHighLevelFeatures Features, double[][] LowLevel, string Geometry) ReadForMetrics(string path, int? count)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"no such file: {path}", path);
        if (CaloHdf5.IsHdf5Path(path))
        {
            var (toy, challenge) = CaloHdf5.ReadAnyGeometry(path);
            if (challenge is not null)
            {
                if (count is { } k) challenge = challenge.Head(k);
                return (CaloHighLevelFeatures.Compute(challenge), CaloEvaluation.LowLevelColumns(challenge.Voxels, challenge.IncidentEnergies, challenge.Dataset.Voxels), challenge.Dataset.ToString());
            }
            return ForMetrics(toy!, count);
        }
        return ForMetrics(ReadShowers(path), count);
    }

    private static (CaloHighLevelFeatures, double[][], string) ForMetrics(CaloShowers showers, int? count)
    {
        if (count is { } k) showers = showers.Head(k);
        return (CaloHighLevelFeatures.Compute(showers), CaloEvaluation.LowLevelColumns(showers.Voxels, showers.IncidentEnergies, CaloGeometry.Voxels), $"CaloGAN toy ({CaloGeometry.Voxels} voxels)");
    }

    /// <summary><c>nflow calo eval GENERATED REFERENCE</c>: the CaloChallenge metrics and both classifier tests of two shower files.</summary>
    private static int CompareFiles(CliContext ctx, string generatedPath, string referencePath, int? count, ClassifierOptions classifier, PhysicsDistanceOptions distances, string? reportPath)
    {
        var (refF, refLow, refGeometry) = ReadForMetrics(referencePath, count);
        var (genF, genLow, genGeometry) = ReadForMetrics(generatedPath, count);
        if (refGeometry != genGeometry)
            throw new ArgumentException($"{generatedPath} holds {genGeometry} showers, {referencePath} {refGeometry}: compare showers of one geometry");
        ctx.Out.WriteLine($"nflow calo eval: {genF.Count} showers of {generatedPath} against {refF.Count} of {referencePath} ({refGeometry})");
        var clock = Stopwatch.StartNew();
        var metrics = CaloEvaluation.Metrics(Path.GetFileName(generatedPath), refF, genF, refLow, genLow, classifier, distances);
        ctx.Out.WriteLine($"metrics and classifier tests in {clock.Elapsed.TotalSeconds:F1} s (MLP and gradient-boosted trees, {classifier.Folds}-fold cross-fitted; the larger AUC):");
        WriteMetrics(ctx, [metrics]);
        if (reportPath is not null)
        {
            var report = new HtmlReport($"CaloChallenge metrics: {Path.GetFileName(generatedPath)} vs {Path.GetFileName(referencePath)}");
            report.Section("Setup").KeyValues([("generated", $"{generatedPath} ({genF.Count} showers)"), ("reference", $"{referencePath} ({refF.Count} showers)"), ("geometry", refGeometry)]);
            CaloEvaluation.MetricsSection(report, [metrics]).Save(reportPath);
            ctx.Out.WriteLine($"wrote {reportPath}");
        }
        return 0;
    }

    private static void WriteMetrics(CliContext ctx, IReadOnlyList<CaloMetrics> metrics)
    {
        var header = CaloEvaluation.MetricsHeader(metrics);
        ctx.Out.WriteLine("CaloChallenge metrics (separation power: 0 identical, 1 disjoint):");
        ctx.Out.WriteLine("| " + string.Join(" | ", header) + " |");
        ctx.Out.WriteLine("|" + string.Concat(header.Select(_ => "---|")));
        foreach (var row in CaloEvaluation.MetricsRows(metrics)) ctx.Out.WriteLine("| " + string.Join(" | ", row) + " |");
    }

    private static CaloFlow LoadModel(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"no such model file: {path}", path);
        return ModelKinds.Load(path, CaloFlow.Load);
    }

    private static IProgress<TrainingProgress> Plain(CliContext ctx, string what) => new CallbackProgress<TrainingProgress>(p =>
    {
        if (p.Step == p.TotalSteps || p.Step % 200 == 0)
            ctx.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{what}: epoch {p.Epoch}, step {p.Step}/{p.TotalSteps}, loss {p.Loss:F4}, {p.StepsPerSecond:F1} steps/s"));
    });
}
