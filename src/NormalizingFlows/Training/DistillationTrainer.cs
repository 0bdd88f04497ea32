using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Numerics;
using NormalizingFlows.Autograd;
using NormalizingFlows.Flows;
using NormalizingFlows.Optim;
using NormalizingFlows.IO;
using NormalizingFlows.Tensors;
using NormalizingFlows.Transforms;
using NormalizingFlows.Transforms.Autoregressive;

namespace NormalizingFlows.Training;

/// <summary>Settings of <see cref="DistillationTrainer{T}"/>.</summary>
public sealed record DistillationOptions
{
    /// <summary>Optimizer steps (each one z-pass and one x-pass).</summary>
    public int Steps { get; init; } = 2000;

    /// <summary>Rows per pass.</summary>
    public int BatchSize { get; init; } = 256;

    /// <summary>Adam learning rate (cosine decay to 0 over <see cref="Steps"/>).</summary>
    public double LearningRate { get; init; } = 1e-3;

    /// <summary>Global gradient-norm clip (null: none).</summary>
    public double? ClipNorm { get; init; } = 10.0;

    /// <summary>Seed of the base draws and the batch order.</summary>
    public long Seed { get; init; }

    /// <summary>Run the z-pass (base draws → student → teacher density pass).</summary>
    public bool ZPass { get; init; } = true;

    /// <summary>Run the x-pass (training data → teacher density pass → student); needs data.</summary>
    public bool XPass { get; init; } = true;

    /// <summary>Progress is reported every this many steps.</summary>
    public int ReportEverySteps { get; init; } = 50;

    /// <summary>
    /// Where <see cref="DistillationTrainer{T}.Fit"/> writes a checkpoint (atomically) when it is cancelled before the last
    /// step: the student's parameters, the optimizer state, the steps done, the random stream's position, the settings
    /// and hashes of the teacher and the data (null: none is written).
    /// </summary>
    public string? CheckpointPath { get; init; }

    /// <summary>
    /// Further settings of the run (e.g. the command-line options) stored in the checkpoint and compared on resumption:
    /// a difference is refused by name.
    /// </summary>
    public IReadOnlyDictionary<string, string>? RunSettings { get; init; }

    /// <summary>A description of the data (e.g. the file name) quoted when resumption is refused for other data.</summary>
    public string? DataDescription { get; init; }

    /// <summary>Throws an <see cref="ArgumentException"/> naming the bad setting.</summary>
    public void Validate()
    {
        if (Steps < 1) throw new ArgumentException($"distillation steps must be ≥ 1, got {Steps}");
        if (BatchSize < 1) throw new ArgumentException($"distillation batch size must be ≥ 1, got {BatchSize}");
        if (!(LearningRate > 0)) throw new ArgumentException($"learning rate must be > 0, got {LearningRate}");
        if (!ZPass && !XPass) throw new ArgumentException("distillation needs the z-pass, the x-pass or both");
    }
}

/// <summary>
/// The six mean-squared errors of the CaloFlow v2 distillation loss for one step (each averaged over its elements; the
/// intermediate and parameter terms summed over layers).
/// </summary>
/// <param name="Z">z-pass: MSE(z, z′) between the base draw z and the teacher's density pass of the student's sample.</param>
/// <param name="X">x-pass: MSE(x, x′) between the data x and the student's sample from the teacher's z.</param>
/// <param name="IntermediateZ">z-pass: Σ over inner layer boundaries of MSE(zᵢ, zᵢ′).</param>
/// <param name="IntermediateX">x-pass: Σ over inner layer boundaries of MSE(xᵢ, xᵢ′).</param>
/// <param name="ParametersZ">z-pass: Σ over layers of MSE(θ, θ′) of the elementwise maps.</param>
/// <param name="ParametersX">x-pass: Σ over layers of MSE(θ, θ′).</param>
public sealed record DistillationLoss(double Z, double X, double IntermediateZ, double IntermediateX, double ParametersZ, double ParametersX)
{
    /// <summary>The sum of the six terms (the loss that is minimised).</summary>
    public double Total => Z + X + IntermediateZ + IntermediateX + ParametersZ + ParametersX;
}

/// <summary>One report of <see cref="DistillationTrainer{T}"/>: step, mean loss since the last report, learning rate.</summary>
public sealed record DistillationProgress(long Step, long TotalSteps, DistillationLoss Loss, double LearningRate, double StepsPerSecond);

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
    private readonly AutoregressiveTransform<T>[] _teacherLayers;
    private readonly InverseAutoregressiveTransform<T>[] _studentLayers;

    /// <summary>Creates a trainer of <paramref name="student"/> against the (frozen) <paramref name="teacher"/>.</summary>
    public DistillationTrainer(Flow<T> teacher, Flow<T> student, DistillationOptions? options = null)
    {
        Teacher = teacher ?? throw new ArgumentNullException(nameof(teacher));
        Student = student ?? throw new ArgumentNullException(nameof(student));
        Options = options ?? new DistillationOptions();
        Options.Validate();
        _teacherLayers = TeacherLayers(teacher);
        _studentLayers = Steps(student.Transform).Select((s, i) => s as InverseAutoregressiveTransform<T>
            ?? throw new ArgumentException($"student step {i} is a {TypeNames.Of(s)}, not an InverseAutoregressiveTransform (build the student with CreateStudent)", nameof(student))).ToArray();
        if (_studentLayers.Length != _teacherLayers.Length)
            throw new ArgumentException($"the student has {_studentLayers.Length} layers, the teacher {_teacherLayers.Length}", nameof(student));
        for (int l = 0; l < _teacherLayers.Length; l++)
            if (_studentLayers[l].ParametersPerFeature != _teacherLayers[l].ParametersPerFeature || _studentLayers[l].Features != _teacherLayers[l].Features
                || _studentLayers[l].ContextFeatures != _teacherLayers[l].ContextFeatures)
                throw new ArgumentException($"student layer {l} does not have the shape of teacher layer {l}", nameof(student));
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

    /// <summary>Receives progress every <see cref="DistillationOptions.ReportEverySteps"/> steps.</summary>
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
        var layers = TeacherLayers(teacher).Select(t => (Transform<T>)InverseAutoregressiveTransform<T>.Matching(t, r, copyWeights)).ToArray();
        Transform<T> transform = layers.Length == 1 ? layers[0] : new CompositeTransform<T>(layers);
        var baseDistribution = new Distributions.StandardNormal<T>(teacher.Features);
        if (teacher.Base is not Distributions.StandardNormal<T>)
            throw new ArgumentException($"the teacher's base is a {TypeNames.Of(teacher.Base)}; distillation students are built over a standard normal", nameof(teacher));
        return transform.ContextFeatures > 0 ? new ConditionalFlow<T>(transform, baseDistribution) : new Flow<T>(transform, baseDistribution);
    }

    /// <summary>
    /// Trains the student for <see cref="DistillationOptions.Steps"/> steps on minibatches of <paramref name="data"/>
    /// (its X are the teacher's training events; their contexts condition both passes). Returns the mean loss terms
    /// of the last report interval. When <paramref name="cancellation"/> stops it early, <see cref="StepsDone"/> says
    /// where, and a checkpoint is written to <see cref="DistillationOptions.CheckpointPath"/> if one is set;
    /// <paramref name="resumeFrom"/> continues from such a checkpoint (refused with a
    /// <see cref="CheckpointMismatchException"/> naming the difference if it was written with other settings, another
    /// teacher or other data) to the same end as an uninterrupted fit.
    /// </summary>
    public DistillationLoss Fit(TrainingData<T> data, CancellationToken cancellation = default, string? resumeFrom = null)
    {
        ArgumentNullException.ThrowIfNull(data);
        data.Validate("distillation data");
        if (data.X.Dim(1) != Teacher.Features) throw new ArgumentException($"distillation data have {data.X.Dim(1)} columns; the teacher models {Teacher.Features}");
        if (Teacher.ContextFeatures > 0 && (data.Context is null || data.Context.Dim(1) != Teacher.ContextFeatures))
            throw new ArgumentException($"the teacher is conditional: distillation data need a context of {Teacher.ContextFeatures} columns");
        int n = data.Rows, batch = Math.Min(Options.BatchSize, n);
        if (n == 0) throw new ArgumentException("distillation data have no rows");
        var frozen = FreezeTeacher();
        try
        {
            return FitFrozen(data, n, batch, cancellation, resumeFrom);
        }
        finally
        {
            RestoreTeacher(frozen);
        }
    }

    private DistillationLoss FitFrozen(TrainingData<T> data, int n, int batch, CancellationToken cancellation, string? resumeFrom)
    {
        var schedule = new CosineDecaySchedule(Options.LearningRate, Options.Steps);
        var rng = new Rng(Options.Seed);
        var parameters = Optimizer.Parameters;
        bool checkpoints = Options.CheckpointPath is not null || resumeFrom is not null;
        string dataHash = checkpoints ? TrainingCheckpoint.DataHash(data, null) : "";
        string teacherHash = checkpoints ? TrainingCheckpoint.ModuleHash(Teacher) : "";
        var sum = new double[6];
        int count = 0;
        long first = 0;
        ulong[] orderState = rng.SaveState(); // the stream where the current batch order was drawn
        int[] order = rng.Permutation(n);
        int cursor = 0;
        if (resumeFrom is not null)
        {
            var meta = ModuleSerialization.LoadCheckpoint(resumeFrom, Student, Optimizer, out _, checkMetadata: m => CheckResume(resumeFrom, m, dataHash, teacherHash));
            first = long.Parse(meta[StepKey], CultureInfo.InvariantCulture);
            cursor = int.Parse(meta[CursorKey], CultureInfo.InvariantCulture);
            orderState = Words(resumeFrom, meta[OrderRngKey]);
            rng.RestoreState(orderState);
            order = rng.Permutation(n);
            rng.RestoreState(Words(resumeFrom, meta[RngKey]));
            var acc = JsonSerializer.Deserialize<double[]>(meta[SumsKey]) ?? [];
            if (acc.Length != 7 || first < 0 || first > Options.Steps || cursor < 0 || cursor > n)
                throw new InvalidDataException($"{resumeFrom}: the checkpoint's position (step {first}, cursor {cursor}) does not fit this run");
            acc.AsSpan(0, 6).CopyTo(sum);
            count = (int)acc[6];
        }
        Student.Train();
        Teacher.Eval();
        DistillationLoss last = new(double.NaN, double.NaN, double.NaN, double.NaN, double.NaN, double.NaN);
        var clock = Stopwatch.StartNew();
        var rows = new int[batch];
        long step = first;
        for (; step < Options.Steps && !cancellation.IsCancellationRequested; step++)
        {
            for (int i = 0; i < batch; i++)
            {
                if (cursor == n) { orderState = rng.SaveState(); order = rng.Permutation(n); cursor = 0; }
                rows[i] = order[cursor++];
            }
            double lr = schedule.LearningRate((int)step);
            Optimizer.LearningRate = lr;
            DistillationLoss loss;
            using (TensorScope.Begin())
            {
                var x = TrainingData<T>.Gather(data.X, rows);
                var c = data.Context is null ? null : TrainingData<T>.Gather(data.Context, rows);
                Optimizer.ZeroGrad();
                loss = Run(x, c, rng, record: true); // the teacher is already frozen for the whole fit
            }
            if (!double.IsFinite(loss.Total))
                throw new TrainingDivergedException(step, null, $"the distillation loss became {loss.Total} at step {step}", "Lower the learning rate.");
            if (Options.ClipNorm is { } clip) GradientClipping.ClipGlobalNorm(parameters, clip);
            Optimizer.Step();
            sum[0] += loss.Z; sum[1] += loss.X; sum[2] += loss.IntermediateZ; sum[3] += loss.IntermediateX; sum[4] += loss.ParametersZ; sum[5] += loss.ParametersX;
            count++;
            bool lastStep = step == Options.Steps - 1;
            if (lastStep || (step + 1) % Math.Max(1, Options.ReportEverySteps) == 0)
            {
                last = new DistillationLoss(sum[0] / count, sum[1] / count, sum[2] / count, sum[3] / count, sum[4] / count, sum[5] / count);
                Progress?.Report(new DistillationProgress(step + 1, Options.Steps, last, lr, count / Math.Max(1e-9, clock.Elapsed.TotalSeconds)));
                Array.Clear(sum);
                count = 0;
                clock.Restart();
            }
        }
        StepsDone = step;
        if (step < Options.Steps && Options.CheckpointPath is { } path)
        {
            var c = CultureInfo.InvariantCulture;
            var meta = new Dictionary<string, string>
            {
                ["kind"] = CheckpointKind,
                [StepKey] = step.ToString(c),
                [CursorKey] = cursor.ToString(c),
                [OrderRngKey] = string.Join(",", orderState.Select(w => w.ToString("x16", c))),
                [RngKey] = string.Join(",", rng.SaveState().Select(w => w.ToString("x16", c))),
                [SumsKey] = JsonSerializer.Serialize(sum.Append(count).ToArray()),
                [TrainingCheckpoint.SettingsKey] = TrainingCheckpoint.Json(Settings(Options)),
                [TrainingCheckpoint.RunKey] = TrainingCheckpoint.Json(Options.RunSettings ?? new Dictionary<string, string>()),
                [TrainingCheckpoint.DataKey] = dataHash,
                [TeacherKey] = teacherHash,
            };
            if (Options.DataDescription is { } d) meta[TrainingCheckpoint.DataDescriptionKey] = d;
            ModuleSerialization.SaveCheckpoint(path, Student, Optimizer, meta);
        }
        Student.Eval();
        return last;
    }

    private const string CheckpointKind = "nflow-distillation-checkpoint";
    private const string StepKey = "distillation.step", CursorKey = "distillation.cursor", OrderRngKey = "distillation.order_rng",
        RngKey = "distillation.rng", SumsKey = "distillation.report_sums", TeacherKey = "fingerprint.teacher";

    /// <summary>The settings of <paramref name="o"/> that change the trajectory of a distillation.</summary>
    private static SortedDictionary<string, string> Settings(DistillationOptions o)
    {
        var c = CultureInfo.InvariantCulture;
        return new(StringComparer.Ordinal)
        {
            ["Steps"] = o.Steps.ToString(c),
            ["BatchSize"] = o.BatchSize.ToString(c),
            ["LearningRate"] = o.LearningRate.ToString("R", c),
            ["ClipNorm"] = o.ClipNorm?.ToString("R", c) ?? "none",
            ["Seed"] = o.Seed.ToString(c),
            ["ZPass"] = o.ZPass ? "true" : "false",
            ["XPass"] = o.XPass ? "true" : "false",
        };
    }

    private void CheckResume(string path, IReadOnlyDictionary<string, string> meta, string dataHash, string teacherHash)
    {
        if (!meta.TryGetValue("kind", out var kind) || kind != CheckpointKind)
            throw new InvalidDataException($"{path}: not a distillation checkpoint (metadata 'kind' is missing or not '{CheckpointKind}')");
        TrainingCheckpoint.Check(path, meta, Options.RunSettings, Settings(Options), dataHash, Options.DataDescription);
        if (meta.GetValueOrDefault(TeacherKey) != teacherHash)
            throw new CheckpointMismatchException(path, "teacher",
                $"{path}: this run's teacher differs from the one the checkpoint was distilled from (checkpoint: {meta.GetValueOrDefault(TeacherKey) ?? "none recorded"}; now: {teacherHash}); resume with the same model, or start afresh without resuming");
        foreach (var key in new[] { StepKey, CursorKey, OrderRngKey, RngKey, SumsKey })
            if (!meta.ContainsKey(key)) throw new InvalidDataException($"{path}: the distillation checkpoint lacks '{key}'");
    }

    private static ulong[] Words(string path, string hex)
    {
        var parts = hex.Split(',');
        var words = new ulong[parts.Length];
        for (int i = 0; i < parts.Length; i++)
            if (!ulong.TryParse(parts[i], NumberStyles.HexNumber, CultureInfo.InvariantCulture, out words[i]))
                throw new InvalidDataException($"{path}: the checkpoint's random-stream state '{hex}' is malformed");
        if (words.Length != 6) throw new InvalidDataException($"{path}: the checkpoint's random-stream state has {words.Length} words, not 6");
        return words;
    }

    /// <summary>
    /// The loss terms on one batch of data <paramref name="x"/> (contexts <paramref name="context"/>; the z-pass draws
    /// as many base points from <paramref name="rng"/>); with <paramref name="backward"/> the gradients of their sum
    /// are accumulated into the student's parameters. Call inside a <see cref="TensorScope"/>.
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
                using (GradMode.Disable()) return Run(x, context, rng, record: false);
            }
            return Run(x, context, rng, record: true);
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

    private DistillationLoss Run(Tensor<T> x, Tensor<T>? context, Rng rng, bool record)
    {
        int n = x.Dim(0), layers = _teacherLayers.Length;
        var ctx = context is null ? null : new Var<T>(context);
        var teacherCtx = Teacher.ContextFeatures > 0 ? ctx : null;
        Var<T>? total = null;
        double z = 0, xs = 0, iz = 0, ix = 0, pz = 0, px = 0;
        void Add(Var<T> term, ref double acc)
        {
            acc += double.CreateTruncating(term.Value[0]);
            total = total is null ? term : Ops.Add(total, term);
        }

        if (Options.ZPass)
        {
            // student: base → data, one pass per layer
            var zBase = new Var<T>(Teacher.Base.Sample(n, rng, teacherCtx).Value);
            var studentU = new Var<T>[layers + 1];
            var studentTheta = new Var<T>[layers];
            studentU[layers] = zBase;
            for (int l = layers - 1; l >= 0; l--)
                (studentU[l], _, studentTheta[l]) = _studentLayers[l].InverseWithParameters(studentU[l + 1], teacherCtx);
            // teacher: density pass on the student's sample (recorded: gradients flow back into the student)
            var u = studentU[0];
            for (int l = 0; l < layers; l++)
            {
                var (next, _, theta) = _teacherLayers[l].ForwardWithParameters(u, teacherCtx);
                Add(Ops.MseLoss(theta, studentTheta[l]), ref pz);
                if (l < layers - 1) Add(Ops.MseLoss(next, studentU[l + 1]), ref iz);
                u = next;
            }
            Add(Ops.MseLoss(u, zBase), ref z);
        }
        if (Options.XPass)
        {
            var teacherU = new Var<T>[layers + 1];
            var teacherTheta = new Var<T>[layers];
            teacherU[0] = new Var<T>(x);
            using (GradMode.Disable())
                for (int l = 0; l < layers; l++)
                    (teacherU[l + 1], _, teacherTheta[l]) = _teacherLayers[l].ForwardWithParameters(teacherU[l], teacherCtx);
            var v = teacherU[layers];
            for (int l = layers - 1; l >= 0; l--)
            {
                var (prev, _, theta) = _studentLayers[l].InverseWithParameters(v, teacherCtx);
                Add(Ops.MseLoss(theta, teacherTheta[l]), ref px);
                if (l > 0) Add(Ops.MseLoss(prev, teacherU[l]), ref ix);
                else Add(Ops.MseLoss(prev, teacherU[0]), ref xs);
                v = prev;
            }
        }
        if (record) total!.Backward();
        return new DistillationLoss(z, xs, iz, ix, pz, px);
    }

    private static IReadOnlyList<Transform<T>> Steps(Transform<T> transform) =>
        transform is CompositeTransform<T> c ? c.Steps : [transform];

    private static AutoregressiveTransform<T>[] TeacherLayers(Flow<T> teacher) =>
        Steps(teacher.Transform).Select((s, i) => s is MaskedAffineAutoregressive<T> or MaskedSplineAutoregressive<T>
            ? (AutoregressiveTransform<T>)s
            : throw new ArgumentException($"teacher step {i} is a {TypeNames.Of(s)}; distillation needs MAF layers (affine or spline)", nameof(teacher))).ToArray();
}
