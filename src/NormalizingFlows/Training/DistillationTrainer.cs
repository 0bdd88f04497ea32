using System.Numerics;
using NormalizingFlows.Autograd;
using NormalizingFlows.Flows;
using NormalizingFlows.Optim;
using NormalizingFlows.Tensors;
using NormalizingFlows.Transforms;
using NormalizingFlows.Transforms.Autoregressive;

namespace NormalizingFlows.Training;

/// <summary>
/// Probability density distillation of a slow-sampling MAF teacher into a fast-sampling IAF student (van den Oord et al.
/// 2018; CaloFlow v2, Krause &amp; Shih 2021) with the loss of the lecture notes:
/// MSE(z, z′) + MSE(x, x′) + MSE(zᵢ, zᵢ′) + MSE(xᵢ, xᵢ′) + MSE(θ_z, θ′_z) + MSE(θ_x, θ′_x).
/// <para>
/// z-pass: z ~ base; the student maps z → x′ in one pass per layer, recording its intermediates and θ′; the frozen
/// teacher maps x′ back (its fast density direction, recorded so gradients reach the student through it), giving z′,
/// its intermediates and θ. x-pass: data x go through the teacher (no graph) to z with intermediates and θ; the student
/// maps that z → x′. Layer l of the student is matched to layer l of the teacher: the teacher computes
/// u_{l+1} = τ(u_l; θ_l(u_l)), the student u_l = τ⁻¹(u_{l+1}; θ′_l(u_{l+1})) (<see cref="InverseAutoregressiveTransform{T}"/>),
/// so θ′ = θ, layer by layer, makes the student the exact inverse of the teacher.
/// </para>
/// The teacher's transform must be MAF layers (<see cref="MaskedAffineAutoregressive{T}"/> or
/// <see cref="MaskedSplineAutoregressive{T}"/>, alone or in a <see cref="CompositeTransform{T}"/>); the student
/// (from <see cref="CreateStudent"/>) has one <see cref="InverseAutoregressiveTransform{T}"/> per teacher layer. The
/// teacher's parameters are frozen while <see cref="Fit"/> or <see cref="Step"/> runs and their trainable flags
/// restored afterwards; the teacher is never changed.
/// </summary>
public sealed class DistillationTrainer<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>The metadata "kind" of the checkpoints a distillation writes.</summary>
    private const string CheckpointKind = "nflow-distillation-checkpoint";

    private readonly DensityDistillationLoss<T> _loss;

    /// <summary>Creates a trainer of <paramref name="student"/> against the (frozen) <paramref name="teacher"/>.</summary>
    public DistillationTrainer(Flow<T> teacher, Flow<T> student, DistillationOptions? options = null)
    {
        Teacher = teacher ?? throw new ArgumentNullException(nameof(teacher));
        Student = student ?? throw new ArgumentNullException(nameof(student));
        Options = options ?? new DistillationOptions();
        Options.Validate();
        _loss = new DensityDistillationLoss<T>(teacher, student, Options.ZPass, Options.XPass);
        Optimizer = new Adam<T>(student.Parameters().Where(p => p.Trainable), Options.LearningRate);
    }

    /// <summary>The teacher (MAF), frozen during distillation.</summary>
    public Flow<T> Teacher { get; }

    /// <summary>The student (IAF) being trained.</summary>
    public Flow<T> Student { get; }

    /// <summary>The settings.</summary>
    public DistillationOptions Options { get; }

    /// <summary>The student's optimizer.</summary>
    public Adam<T> Optimizer { get; }

    /// <summary>Steps done so far (after <see cref="Fit"/>: all of them, or those before it was cancelled).</summary>
    public long StepsDone { get; private set; }

    /// <summary>Receives progress every <see cref="DistillationOptions.ReportEverySteps"/> steps and after the last one.</summary>
    public IProgress<DistillationProgress>? Progress { get; set; }

    /// <summary>
    /// A student for <paramref name="teacher"/>: one <see cref="InverseAutoregressiveTransform{T}"/> per MAF layer with
    /// the same elementwise map, MADE size, order and context, over the teacher's base distribution. With
    /// <paramref name="copyWeights"/> each student MADE starts from its teacher's weights.
    /// </summary>
    public static Flow<T> CreateStudent(Flow<T> teacher, Rng? rng = null, bool copyWeights = true)
    {
        ArgumentNullException.ThrowIfNull(teacher);
        var r = rng ?? new Rng(0);
        var layers = DensityDistillationLoss<T>.TeacherLayers(teacher).Select(t => (Transform<T>)InverseAutoregressiveTransform<T>.Matching(t, r, copyWeights)).ToArray();
        Transform<T> transform = layers.Length == 1 ? layers[0] : new CompositeTransform<T>(layers);
        var baseDistribution = new Distributions.StandardNormal<T>(teacher.Features);
        if (teacher.Base is not Distributions.StandardNormal<T>)
            throw new ArgumentException($"the teacher's base is a {TypeNames.Of(teacher.Base)}; distillation students are built over a standard normal", nameof(teacher));
        return transform.ContextFeatures > 0 ? new ConditionalFlow<T>(transform, baseDistribution) : new Flow<T>(transform, baseDistribution);
    }

    /// <summary>
    /// Trains the student for <see cref="DistillationOptions.Steps"/> steps of the <see cref="TrainingLoop{T}"/> with a
    /// <see cref="DensityDistillationLoss{T}"/> on shuffled minibatches of <paramref name="data"/> (its X are the
    /// teacher's training events; their contexts condition both passes; the z-pass draws from each step's own random
    /// stream). Returns the mean loss terms of the last report interval. When <paramref name="cancellation"/> stops it
    /// early, <see cref="StepsDone"/> says where, and a checkpoint is written to
    /// <see cref="DistillationOptions.CheckpointPath"/> if one is set (also at each pass over the data);
    /// <paramref name="resumeFrom"/> continues from such a checkpoint (refused with a
    /// <see cref="CheckpointMismatchException"/> naming the difference if it was written with other settings, another
    /// teacher or other data) to the same student, bit for bit, as an uninterrupted fit. With
    /// <see cref="DistillationOptions.Device"/> the steps run on that device (the same batches and base draws; the student
    /// and the optimizer's state are copied back for checkpoints, at the end, and when the fit is cancelled or fails).
    /// </summary>
    public DistillationLoss Fit(TrainingData<T> data, CancellationToken cancellation = default, string? resumeFrom = null)
    {
        ArgumentNullException.ThrowIfNull(data);
        data.Validate("distillation data");
        _loss.Prepare(data, null);
        if (data.Rows == 0) throw new ArgumentException("distillation data have no rows");
        var frozen = FreezeTeacher();
        DistillationDeviceRun? device = null;
        try
        {
            var fingerprints = new Dictionary<string, string> { ["ZPass"] = Options.ZPass ? "true" : "false", ["XPass"] = Options.XPass ? "true" : "false" };
            // the teacher's hash costs one pass over its parameters: only when a checkpoint is written or read
            if (Options.CheckpointPath is not null || resumeFrom is not null) fingerprints["teacher"] = TrainingCheckpoint.ModuleHash(Teacher);
            var options = new TrainingOptions
            {
                Steps = Options.Steps, BatchSize = Options.BatchSize, LearningRate = Options.LearningRate, ClipNorm = Options.ClipNorm, Seed = Options.Seed,
                ReportEverySteps = Options.ReportEverySteps, CheckpointPath = Options.CheckpointPath, RunSettings = Options.RunSettings, DataDescription = Options.DataDescription,
            };
            var reports = new Reports(this);
            // on a device: compiled by the loop after a resumed checkpoint is loaded, disposed here
            Func<ILoopDevice>? startDevice = null;
            if (Options.Device is { } accelerator)
            {
                if (typeof(T) != typeof(float)) throw new NotSupportedException($"DistillationOptions.Device ({accelerator.Name}): distillation in {typeof(T).Name} is not supported on the device; distil float flows");
                startDevice = () => device = DistillationDeviceRun.Start(accelerator, (Flow<float>)(object)Teacher, (Flow<float>)(object)Student, (Adam<float>)(object)Optimizer,
                    Options, (TrainingData<float>)(object)data, reports.AddSums);
            }
            var loop = new TrainingLoop<T>(Student, options, Optimizer) { CheckpointKind = CheckpointKind, Fingerprints = fingerprints, Progress = reports, DeviceSteps = startDevice };
            Teacher.Eval();
            TrainingHistory history;
            try
            {
                history = loop.Fit(new StepTerms(_loss, reports), data, null, cancellation, resumeFrom);
            }
            catch (Exception e) when (device is not null)
            {
                // the steps already taken stay in the host student (and optimizer), as on the CPU; a device that fails to
                // give them back leaves the last copy. Not after a divergence: the device read its loss back only at the
                // report and stepped on past the non-finite one, so its weights may be NaN; the host keeps its last copy
                // (the last checkpoint's, or the start)
                if (e is not TrainingDivergedException)
                    try { device.CopyToHost(withOptimizer: true); }
                    catch (Exception) { }
                throw;
            }
            StepsDone = history.Steps;
            Student.Eval();
            return reports.Last;
        }
        finally
        {
            device?.Dispose(); // set by the loop's DeviceSteps callback
            RestoreTeacher(frozen);
        }
    }

    /// <summary>The distillation loss, adding each step's six terms to the report sums.</summary>
    private sealed class StepTerms(DensityDistillationLoss<T> loss, Reports reports) : TrainingLoss<T>
    {
        public override Var<T> Compute(TrainingBatch<T> batch)
        {
            var total = loss.Compute(batch);
            reports.Add(loss.Last!);
            return total;
        }
    }

    /// <summary>Turns the loop's progress into <see cref="DistillationProgress"/> with the mean six terms since the last report.</summary>
    private sealed class Reports(DistillationTrainer<T> trainer) : IProgress<TrainingProgress>
    {
        private readonly double[] _sum = new double[6];
        private int _count;

        public DistillationLoss Last { get; private set; } = new(double.NaN, double.NaN, double.NaN, double.NaN, double.NaN, double.NaN);

        public void Add(DistillationLoss l) => AddSums(l, 1);

        /// <summary>Adds the terms summed over <paramref name="steps"/> steps (a device run's, read back at reports).</summary>
        public void AddSums(DistillationLoss l, int steps)
        {
            _sum[0] += l.Z; _sum[1] += l.X; _sum[2] += l.IntermediateZ; _sum[3] += l.IntermediateX; _sum[4] += l.ParametersZ; _sum[5] += l.ParametersX;
            _count += steps;
        }

        public void Report(TrainingProgress p)
        {
            // every ReportEverySteps steps, and after the last step (the end of the loop's last epoch)
            if (_count == 0 || (p.EndOfEpoch && p.Step < p.TotalSteps)) return;
            var s = _sum;
            Last = new DistillationLoss(s[0] / _count, s[1] / _count, s[2] / _count, s[3] / _count, s[4] / _count, s[5] / _count);
            trainer.Progress?.Report(new DistillationProgress(p.Step, p.TotalSteps, Last, p.LearningRate, p.StepsPerSecond));
            Array.Clear(_sum);
            _count = 0;
        }
    }

    /// <summary>
    /// The loss terms on one batch of data <paramref name="x"/> (contexts <paramref name="context"/>; the z-pass draws
    /// as many base points from <paramref name="rng"/>); with <paramref name="backward"/> the gradients of their sum
    /// are accumulated into the student's parameters. Call inside a <see cref="TensorScope"/>. Runs on the CPU (also
    /// with <see cref="DistillationOptions.Device"/>).
    /// </summary>
    public DistillationLoss Step(Tensor<T> x, Tensor<T>? context, Rng rng, bool backward = false)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(rng);
        var frozen = FreezeTeacher();
        try
        {
            if (!backward)
            {
                using (GradMode.Disable()) return _loss.Terms(x, context, rng).Terms;
            }
            var (total, terms) = _loss.Terms(x, context, rng);
            total.Backward();
            return terms;
        }
        finally
        {
            RestoreTeacher(frozen);
        }
    }

    private bool[] FreezeTeacher()
    {
        var flags = Teacher.Parameters().Select(p => p.Trainable).ToArray();
        foreach (var p in Teacher.Parameters()) p.Trainable = false;
        return flags;
    }

    private void RestoreTeacher(bool[] flags)
    {
        int i = 0;
        foreach (var p in Teacher.Parameters()) p.Trainable = flags[i++];
    }
}
