using System.Diagnostics;
using System.Globalization;
using System.Numerics;
using NormalizingFlows.Autograd;
using NormalizingFlows.IO;
using NormalizingFlows.Nn;
using NormalizingFlows.Optim;
using NormalizingFlows.Tensors;
using NormalizingFlows.Tensors.Kernels;

namespace NormalizingFlows.Training;

/// <summary>
/// The training loop of the library: minimises a <see cref="TrainingLoss{T}"/> over a module's trainable parameters
/// with Adam (AdamW with weight decay), a learning-rate schedule, global-norm clipping, a validation score each epoch,
/// early stopping with the best parameters restored, progress reports, checkpoints (every N steps, each epoch and on
/// cancellation; atomic, checksummed, refusing other settings or data on resumption) and bit-identical resumption.
/// With <see cref="TrainingOptions.Device"/> the maximum-likelihood steps and the validation run on that device.
/// <para>
/// Data-driven runs (<see cref="Fit(TrainingLoss{T}, TrainingData{T}, TrainingData{T}?, CancellationToken, string?)"/>)
/// go through shuffled minibatches of the training rows, one epoch per pass; loss-driven runs
/// (<see cref="Fit(TrainingLoss{T}, int, CancellationToken, string?)"/>) have no data: their loss draws its own samples
/// and an epoch is a fixed number of steps.
/// </para>
/// </summary>
public sealed class TrainingLoop<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>The metadata "kind" of the checkpoints a loop writes unless <see cref="CheckpointKind"/> says otherwise.</summary>
    public const string DefaultCheckpointKind = "nflow-checkpoint";

    /// <summary>
    /// Creates a loop for <paramref name="model"/>; <paramref name="optimizer"/> (default: Adam, or AdamW when
    /// <see cref="TrainingOptions.WeightDecay"/> &gt; 0, over the trainable parameters) keeps its state between fits.
    /// </summary>
    public TrainingLoop(Module<T> model, TrainingOptions? options = null, Optimizer<T>? optimizer = null)
    {
        Model = model ?? throw new ArgumentNullException(nameof(model));
        Options = options ?? new TrainingOptions();
        Options.Validate();
        Optimizer = optimizer ?? CreateOptimizer(model, Options);
    }

    /// <summary>The module being trained (its state is what checkpoints, early stopping and resumption save and restore).</summary>
    public Module<T> Model { get; }

    /// <summary>The settings.</summary>
    public TrainingOptions Options { get; }

    /// <summary>The optimizer (its state is part of the checkpoint).</summary>
    public Optimizer<T> Optimizer { get; }

    /// <summary>Receives progress reports (every <see cref="TrainingOptions.ReportEverySteps"/> steps and each epoch end).</summary>
    public IProgress<TrainingProgress>? Progress { get; set; }

    /// <summary>The metadata "kind" of the checkpoints written, checked on resumption (default <see cref="DefaultCheckpointKind"/>).</summary>
    public string CheckpointKind { get; init; } = DefaultCheckpointKind;

    /// <summary>
    /// Further settings that fix the run besides <see cref="TrainingOptions"/> (e.g. a hash of a frozen teacher), stored
    /// in checkpoints and compared by name on resumption.
    /// </summary>
    public IReadOnlyDictionary<string, string>? Fingerprints { get; init; }

    /// <summary>
    /// The order of the training rows in epoch e (a permutation of 0..n−1, given e and n); null (default): a permutation
    /// drawn from a generator seeded with <see cref="TrainingOptions.Seed"/> and e. A resumed run calls it again for
    /// its first epoch, so resumption is bit-identical only when the order depends on e alone.
    /// </summary>
    public Func<int, int, int[]>? BatchOrder { get; init; }

    /// <summary>
    /// Starts the device that runs the steps instead of the CPU (called once per fit, after a resumed
    /// checkpoint is loaded; the caller disposes what it returns), e.g. <see cref="DistillationTrainer{T}"/>'s device
    /// route. Null: <see cref="TrainingOptions.Device"/> decides.
    /// </summary>
    internal Func<ILoopDevice>? DeviceSteps { get; init; }

    /// <summary>Adam, or AdamW when <see cref="TrainingOptions.WeightDecay"/> &gt; 0, over the trainable parameters of <paramref name="model"/>.</summary>
    private static Optimizer<T> CreateOptimizer(Module<T> model, TrainingOptions options)
    {
        var trainable = model.Parameters().Where(p => p.Trainable);
        return options.WeightDecay > 0
            ? new AdamW<T>(trainable, options.LearningRate, weightDecay: options.WeightDecay)
            : new Adam<T>(trainable, options.LearningRate);
    }

    /// <summary>
    /// Trains on minibatches of <paramref name="train"/>; validates on <paramref name="validation"/> (or a held-out
    /// <see cref="TrainingOptions.ValidationFraction"/>) with <see cref="TrainingLoss{T}.Validate"/>. With
    /// <paramref name="resumeFrom"/> the model, optimizer and progress are restored from a checkpoint first.
    /// </summary>
    public TrainingHistory Fit(TrainingLoss<T> loss, TrainingData<T> train, TrainingData<T>? validation = null, CancellationToken cancellation = default, string? resumeFrom = null)
    {
        ArgumentNullException.ThrowIfNull(loss);
        ArgumentNullException.ThrowIfNull(train);
        train.Validate();
        if (validation is null && Options.ValidationFraction > 0) (train, validation) = Split(train);
        validation?.Validate("validation data");
        if (train.Rows == 0) throw new ArgumentException("training data has no rows");
        loss.Prepare(train, validation);
        return Run(loss, new DataBatches(train, Math.Min(Options.BatchSize, train.Rows)), validation, cancellation, resumeFrom);
    }

    /// <summary>
    /// Trains with a loss that draws its own samples (no data): epochs of <paramref name="stepsPerEpoch"/> steps, for
    /// <see cref="TrainingOptions.Steps"/> steps (or <see cref="TrainingOptions.Epochs"/> epochs), without validation.
    /// </summary>
    public TrainingHistory Fit(TrainingLoss<T> loss, int stepsPerEpoch, CancellationToken cancellation = default, string? resumeFrom = null)
    {
        ArgumentNullException.ThrowIfNull(loss);
        ArgumentOutOfRangeException.ThrowIfLessThan(stepsPerEpoch, 1);
        if (Options.DataParallel is not null)
            throw new NotSupportedException("data-parallel training (TrainingOptions.DataParallel) splits the rows of data-driven fits; a loss that draws its own samples has none to split");
        if (Options.Device is { } device)
            throw new NotSupportedException($"TrainingOptions.Device ({device.Name}): a loss-driven run (no data) is not supported on the device; train on data or on the CPU");
        return Run(loss, new DataBatches(null, stepsPerEpoch), null, cancellation, resumeFrom);
    }

    /// <summary>The training rows (null for a loss-driven run, whose epoch is <see cref="Rows"/> steps of one "row").</summary>
    private sealed record DataBatches(TrainingData<T>? Data, int Batch)
    {
        public int Rows => Data?.Rows ?? Batch;
        public int Size => Data is null ? 1 : Batch;
    }

    /// <summary>Where a run stands, as a checkpoint records it besides the tensors.</summary>
    private sealed class RunState(string dataHash)
    {
        public string DataHash { get; } = dataHash;
        public TrainingHistory History { get; } = new();
        public OrderedDictionary<string, Tensor<T>>? BestState { get; set; }
        public double BestValidation { get; set; } = double.NegativeInfinity;
        public int EpochsWithoutImprovement { get; set; }
    }

    private TrainingHistory Run(TrainingLoss<T> loss, DataBatches batches, TrainingData<T>? validation, CancellationToken cancellation, string? resumeFrom)
    {
        var train = batches.Data;
        int n = batches.Rows, batch = batches.Size;
        int stepsPerEpoch = (n + batch - 1) / batch;
        long totalSteps = Options.Steps ?? (long)Options.Epochs * stepsPerEpoch;
        var schedule = Options.Schedule ?? new CosineDecaySchedule(Options.LearningRate, (int)Math.Min(totalSteps, int.MaxValue));

        // the data hash costs one pass over the events: only when a checkpoint is written or read
        var state = new RunState(train is null || (Options.CheckpointPath is null && resumeFrom is null) ? "" : TrainingCheckpoint.DataHash(train, validation));
        var history = state.History;
        _stopAgreed = false;
        long step = 0;
        int startEpoch = 1, skipBatches = 0;
        double resumedEpochLoss = 0;
        double? lastValidation = null;
        if (resumeFrom is not null)
        {
            (step, startEpoch, skipBatches, resumedEpochLoss) = Resume(resumeFrom, state);
            lastValidation = history.Epochs.LastOrDefault()?.ValidationLogLikelihood;
        }

        var xb = train is null ? null : Tensor<T>.Empty(batch, train.X.Dim(1)).Untrack();
        var cb = train?.Context is null ? null : Tensor<T>.Empty(batch, train.Context.Dim(1)).Untrack();
        var wb = train?.Weights is null ? null : Tensor<T>.Empty(batch).Untrack();
        Model.Train();
        if (Options.DataParallel is not null && !Model.IsRowWise())
            throw new NotSupportedException("data-parallel training (TrainingOptions.DataParallel) needs a model that computes every row from that row alone in training: "
                + "this one couples the rows of a batch (ActNorm's first-batch initialisation, batch norm, dropout, or an adaptive ODE step shared by the batch), "
                + "so each process would learn from its own share only; train it in one process");
        // on a device the losses stay there: summed into these at reports, checkpoints and epoch ends
        // a device given by DeviceSteps belongs to the caller (who may copy its weights back after a failure)
        using var owned = DeviceSteps is null ? DeviceRun.Start(Options, Model, Optimizer, loss, train, validation) : null;
        ILoopDevice? device = DeviceSteps is { } startDevice ? startDevice() : owned;
        var reportClock = Stopwatch.StartNew();
        double reportLoss = 0;
        int reportCount = 0;
        double epochLoss = 0;
        void Collect()
        {
            if (device is null) return;
            double sum = device.TakeLossSum(step);
            epochLoss += sum; reportLoss += sum;
        }
        void Checkpoint(int epochsDone, int batches)
        {
            if (device is not null && Options.CheckpointPath is not null) { Collect(); device.CopyToHost(withOptimizer: true); }
            WriteCheckpoint(state, epochsDone, step, batches, batches == 0 ? 0 : epochLoss);
        }

        for (int epoch = startEpoch; step < totalSteps; epoch++)
        {
            var epochClock = Stopwatch.StartNew();
            int[]? order = train is null ? null
                : BatchOrder is { } custom ? custom(epoch, n) : new Rng(unchecked(Options.Seed * 1_000_003 + epoch)).Permutation(n);
            epochLoss = 0;
            int epochBatches = 0;
            if (epoch == startEpoch && skipBatches > 0)
            {
                // resuming inside an epoch: the same order, continued where the checkpoint stopped
                epochBatches = skipBatches;
                epochLoss = resumedEpochLoss;
            }
            for (int start = epochBatches * batch; start < n && step < totalSteps; start += batch)
            {
                // data-parallel: the processes stop together, one step after any of them was cancelled
                if (Options.DataParallel is null ? cancellation.IsCancellationRequested : _stopAgreed)
                {
                    Checkpoint(epoch - 1, epochBatches);
                    device?.CopyToHost(withOptimizer: true);
                    history.Outcome = TrainingOutcome.Cancelled;
                    history.Steps = step;
                    return history;
                }
                int rows = Math.Min(batch, n - start);
                double lr = schedule.LearningRate((int)Math.Min(step, int.MaxValue));
                Optimizer.LearningRate = lr;
                var rowsOf = order is null ? ReadOnlyMemory<int>.Empty : order.AsMemory(start, rows);
                if (Options.DataParallel is { } group)
                {
                    var part = new Shard(group.Rank, group.Size);
                    rowsOf = rowsOf.Slice((int)part.Offset(rows), (int)part.Share(rows));
                }
                double? value = 0; // a device step's loss is collected later
                if (device is null) value = Step(loss, train, rowsOf, xb, cb, wb, step, cancellation);
                else device.Step(rowsOf.Span, step, lr, Options.ClipNorm);
                step++;
                if (value is not { } lossValue) continue; // the loss skipped this step
                epochLoss += lossValue; epochBatches++;
                reportLoss += lossValue; reportCount++;
                if (Options.CheckpointEverySteps > 0 && step % Options.CheckpointEverySteps == 0) Checkpoint(epoch - 1, epochBatches);
                if (Progress is not null && step % Math.Max(1, Options.ReportEverySteps) == 0)
                {
                    Collect();
                    Progress.Report(new TrainingProgress(epoch, step, totalSteps, reportLoss / reportCount, lr, reportCount / reportClock.Elapsed.TotalSeconds, lastValidation));
                    reportLoss = 0; reportCount = 0; reportClock.Restart();
                }
            }
            Collect();
            double? val = null;
            if (validation is not null && validation.Rows > 0)
            {
                val = device is null ? loss.Validate(validation) : device.Validate(validation);
                lastValidation = val;
                if (val > state.BestValidation)
                {
                    state.BestValidation = val.Value;
                    history.BestEpoch = epoch;
                    state.EpochsWithoutImprovement = 0;
                    if (Options.RestoreBest)
                    {
                        device?.CopyToHost(withOptimizer: false);
                        state.BestState = CloneState();
                    }
                }
                else state.EpochsWithoutImprovement++;
            }
            history.Epochs.Add(new EpochRecord(epoch, step, epochLoss / Math.Max(1, epochBatches), val, Optimizer.LearningRate, epochClock.Elapsed.TotalSeconds));
            skipBatches = 0;
            Checkpoint(epoch, 0);
            Progress?.Report(new TrainingProgress(epoch, step, totalSteps, epochLoss / Math.Max(1, epochBatches), Optimizer.LearningRate, epochBatches / Math.Max(1e-9, epochClock.Elapsed.TotalSeconds), val, EndOfEpoch: true));
            if (Options.Patience > 0 && state.EpochsWithoutImprovement >= Options.Patience)
            {
                history.Outcome = TrainingOutcome.EarlyStopped;
                break;
            }
        }
        device?.CopyToHost(withOptimizer: true);
        if (state.BestState is not null && history.BestEpoch is not null && history.Epochs.Count > 0 && history.Epochs[^1].Epoch != history.BestEpoch)
            Model.LoadStateDict(state.BestState);
        else if (validation is null) history.BestEpoch = history.Epochs.Count > 0 ? history.Epochs[^1].Epoch : null;
        history.Steps = step;
        return history;
    }

    /// <summary>
    /// One optimizer step on the rows <paramref name="rows"/> (none for a loss-driven run; this process's share of the
    /// batch in a data-parallel run); the loss, or null when the loss skipped it.
    /// </summary>
    private double? Step(TrainingLoss<T> loss, TrainingData<T>? train, ReadOnlyMemory<int> rows, Tensor<T>? xb, Tensor<T>? cb, Tensor<T>? wb, long step,
        CancellationToken cancellation)
    {
        // a loss that keeps nothing of its step lets the step's tensors, nodes and batch serve the next step
        if (loss.StepKeepsNothing)
            using (TensorScope.BeginRecycling())
                return ScopedStep(loss, train, rows, xb, cb, wb, step, cancellation, recycling: true);
        using (TensorScope.Begin())
            return ScopedStep(loss, train, rows, xb, cb, wb, step, cancellation, recycling: false);
    }

    private TrainingBatch<T>? _batch; // the batch object of recycling steps

    /// <summary><see cref="Step"/> inside its tensor scope.</summary>
    private double? ScopedStep(TrainingLoss<T> loss, TrainingData<T>? train, ReadOnlyMemory<int> rows, Tensor<T>? xb, Tensor<T>? cb, Tensor<T>? wb, long step,
        CancellationToken cancellation, bool recycling)
    {
        Tensor<T>? x = null, c = null, w = null;
        if (train is not null)
        {
            var r = rows.Span;
            x = Slice(xb!, r.Length);
            TrainingData<T>.GatherInto(train.X, r, x);
            if (cb is not null) { c = Slice(cb, r.Length); TrainingData<T>.GatherInto(train.Context!, r, c); }
            if (wb is not null) { w = Slice(wb, r.Length); TrainingData<T>.GatherInto(train.Weights!, r, w); }
        }
        var batch = recycling && _batch is { } reused ? reused : new TrainingBatch<T>();
        if (recycling) _batch = batch;
        batch.Set(step, Options.Seed, x, c, w, rows);
        Optimizer.ZeroGrad();
        var group = Options.DataParallel;
        // a process whose share of a short last batch is empty computes nothing but still takes part in the sum
        var objective = group is not null && rows.Length == 0 ? null : loss.Compute(batch);
        double value = objective is null ? 0 : double.CreateTruncating(objective.Value[0]);
        if (group is null && objective is null) return null;
        if (double.IsFinite(value)) objective?.Backward();
        if (group is not null)
        {
            // NaN in one process's loss makes the summed loss NaN in all of them: they stop together
            double local = value;
            (value, double weight, _stopAgreed) = Reduce(group, value, objective is null ? 0 : rows.Length, cancellation.IsCancellationRequested);
            if (!double.IsFinite(value)) throw Diverged(value, step, double.IsFinite(local) || objective is null ? null : loss.Diagnose(batch));
            if (weight == 0) return null;
        }
        else if (!double.IsFinite(value)) throw Diverged(value, step, loss.Diagnose(batch));
        if (Options.ClipNorm is { } clip)
        {
            double norm = GradientClipping.ClipGlobalNorm(Optimizer.Parameters, clip);
            if (!double.IsFinite(norm))
                throw new TrainingDivergedException(step, FirstNonFiniteGradient(), $"the gradient norm became {norm} at step {step} (loss {value:G6})", "Lower the learning rate or clip gradients harder (TrainingOptions.ClipNorm).");
        }
        Optimizer.Step();
        return value;
    }

    private static TrainingDivergedException Diverged(double value, long step, string? layer) =>
        new(step, layer, $"the training loss became {value} at step {step}" + (layer is null ? "" : $"; first non-finite values in {layer}"),
            "Lower the learning rate, clip gradients harder (TrainingOptions.ClipNorm) or check the data's scale.");

    /// <summary>Values per allreduce call of the data-parallel gradient sum (the gradients go in buckets of this size; settable for tests).</summary>
    internal static int BucketElements { get; set; } = 1 << 18;

    private T[]? _bucket;
    private Tensor<T>[]? _grads; // the gradient buffers of a data-parallel step (the same tensors every step)
    private bool _stopAgreed;

    /// <summary>
    /// Data-parallel: sums over the processes, bucket by bucket, the loss scaled by this process's rows, the rows, the
    /// stop requests (the first three values of the first bucket) and every gradient scaled by the rows; the gradients
    /// come back divided by the total rows, so every process holds the gradient of the mean loss over all processes'
    /// rows (losses are means over a batch's rows). Returns the mean loss, the total rows and whether any process asked
    /// to stop.
    /// </summary>
    private (double Loss, double Rows, bool Stop) Reduce(IDataParallel group, double loss, int rows, bool stop)
    {
        const int Head = 3;   // loss · rows, rows, stop; then the gradients
        var grads = _grads ??= new Tensor<T>[Optimizer.Parameters.Count];
        for (int i = 0; i < grads.Length; i++) grads[i] = Optimizer.Parameters[i].GradBuffer();
        long total = Head;
        foreach (var g in grads) total += g.Length;
        if (_bucket is null || _bucket.Length != (int)Math.Min(total, BucketElements)) _bucket = new T[(int)Math.Min(total, BucketElements)];
        var bucket = _bucket;
        T scale = T.CreateTruncating(rows), inverse = T.One;
        double lossSum = 0, rowSum = 0, stops = 0;
        for (long at = 0; at < total; at += bucket.Length)
        {
            var b = bucket.AsSpan(0, (int)Math.Min(bucket.Length, total - at));
            int head = at == 0 ? Head : 0;
            long gradientAt = at == 0 ? 0 : at - Head;
            Exchange(grads, gradientAt, b[head..], toBucket: true, scale);
            if (at == 0)
            {
                b[0] = T.CreateTruncating(loss * rows);
                b[1] = scale;
                b[2] = stop ? T.One : T.Zero;
            }
            if (typeof(T) == typeof(float)) group.AllReduceSum(System.Runtime.InteropServices.MemoryMarshal.Cast<T, float>(b));
            else group.AllReduceSum(System.Runtime.InteropServices.MemoryMarshal.Cast<T, double>(b));
            if (at == 0)
            {
                (lossSum, rowSum, stops) = (double.CreateTruncating(b[0]), double.CreateTruncating(b[1]), double.CreateTruncating(b[2]));
                if (rowSum > 0) inverse = T.One / T.CreateTruncating(rowSum);
            }
            Exchange(grads, gradientAt, b[head..], toBucket: false, inverse);
        }
        return (rowSum > 0 ? lossSum / rowSum : 0, rowSum, stops > 0);
    }

    /// <summary>
    /// Copies the part of the gradients concatenated that starts at <paramref name="at"/> into <paramref name="bucket"/>
    /// (times <paramref name="scale"/>), or back from it (times <paramref name="scale"/>).
    /// </summary>
    private static void Exchange(Tensor<T>[] grads, long at, Span<T> bucket, bool toBucket, T scale)
    {
        long offset = 0;
        foreach (var g in grads)
        {
            long from = Math.Max(at, offset), to = Math.Min(at + bucket.Length, offset + g.Length);
            if (from < to)
            {
                var gs = g.Span.Slice((int)(from - offset), (int)(to - from));
                var bs = bucket.Slice((int)(from - at), (int)(to - from));
                if (toBucket) Elementwise.ScaleShift(gs, scale, T.Zero, bs);
                else Elementwise.ScaleShift(bs, scale, T.Zero, gs);
            }
            offset += g.Length;
        }
    }

    private static Tensor<T> Slice(Tensor<T> buffer, int rows) => rows == buffer.Dim(0) ? buffer : buffer.FirstRows(rows);

    private string? FirstNonFiniteGradient()
    {
        foreach (var (name, p) in Model.NamedParameters())
            if (p.Grad is { } g && !AllFinite(g)) return $"gradient of '{name}'";
        return null;
    }

    /// <summary>True when every value of <paramref name="t"/> is finite.</summary>
    internal static bool AllFinite(Tensor<T> t)
    {
        foreach (var v in t.ReadOnlySpan) if (!T.IsFinite(v)) return false;
        return true;
    }

    private OrderedDictionary<string, Tensor<T>> CloneState()
    {
        var copy = new OrderedDictionary<string, Tensor<T>>();
        foreach (var (k, v) in Model.StateDict()) copy[k] = v.Clone().Untrack();
        return copy;
    }

    private (TrainingData<T> train, TrainingData<T> validation) Split(TrainingData<T> data)
    {
        var perm = new Rng(unchecked(Options.Seed ^ 0x5EED)).Permutation(data.Rows);
        int nVal = (int)Math.Round(data.Rows * Options.ValidationFraction);
        return (data.Take(perm.AsSpan(nVal)), data.Take(perm.AsSpan(0, nVal)));
    }

    private SortedDictionary<string, string> Settings()
    {
        var settings = TrainingCheckpoint.Settings(Options);
        if (Fingerprints is not null) foreach (var (k, v) in Fingerprints) settings[k] = v;
        return settings;
    }

    /// <summary>Restores model, optimizer and <paramref name="state"/> from <paramref name="path"/>; returns the position to continue from.</summary>
    private (long Step, int StartEpoch, int SkipBatches, double EpochLoss) Resume(string path, RunState state)
    {
        var meta = ModuleSerialization.LoadCheckpoint(path, Model, Optimizer, out var extra, checkMetadata: m =>
        {
            if (!m.TryGetValue("kind", out var kind) || kind != CheckpointKind)
                throw new InvalidDataException($"{path}: not a training checkpoint of this kind (metadata 'kind' is missing or not '{CheckpointKind}')");
            TrainingCheckpoint.Check(path, m, Options.RunSettings, Settings(), state.DataHash, Options.DataDescription);
        });
        long step = ParseLong(path, meta, "step");
        int startEpoch = (int)ParseLong(path, meta, "epoch") + 1;
        int skipBatches = (int)ParseLong(path, meta, "epoch.batches");
        double epochLoss = ParseDouble(path, meta, "epoch.loss");
        var history = state.History;
        history.Epochs.AddRange(TrainingCheckpoint.ParseHistory(path, meta.GetValueOrDefault(TrainingCheckpoint.HistoryKey) ?? "[]"));
        state.EpochsWithoutImprovement = (int)ParseLong(path, meta, "best.stale");
        if (meta.TryGetValue("best.epoch", out var be) && be.Length > 0)
        {
            history.BestEpoch = (int)ParseLong(path, meta, "best.epoch");
            state.BestValidation = ParseDouble(path, meta, "best.validation");
            if (extra.Count > 0)
            {
                state.BestState = new OrderedDictionary<string, Tensor<T>>();
                foreach (var (k, v) in extra) state.BestState[k] = v.Untrack();
            }
        }
        return (step, startEpoch, skipBatches, epochLoss);
    }

    /// <summary>
    /// Writes the checkpoint: tensors, the best parameters so far, the run's settings and data hash, the history, and
    /// the position (<paramref name="epoch"/> epochs done, then <paramref name="batches"/> batches of the next one).
    /// </summary>
    private void WriteCheckpoint(RunState state, int epoch, long step, int batches, double epochLoss)
    {
        if (Options.CheckpointPath is null || Options.DataParallel is { Rank: not 0 }) return;
        var c = CultureInfo.InvariantCulture;
        var history = state.History;
        var meta = new Dictionary<string, string>
        {
            ["kind"] = CheckpointKind,
            ["epoch"] = epoch.ToString(c),
            ["step"] = step.ToString(c),
            ["epoch.batches"] = batches.ToString(c),
            ["epoch.loss"] = epochLoss.ToString("R", c),
            [TrainingCheckpoint.HistoryKey] = TrainingCheckpoint.HistoryJson(history.Epochs),
            ["best.epoch"] = history.BestEpoch?.ToString(c) ?? "",
            ["best.validation"] = state.BestValidation.ToString("R", c),
            ["best.stale"] = state.EpochsWithoutImprovement.ToString(c),
            [TrainingCheckpoint.SettingsKey] = TrainingCheckpoint.Json(Settings()),
            [TrainingCheckpoint.RunKey] = TrainingCheckpoint.Json(Options.RunSettings ?? new Dictionary<string, string>()),
            [TrainingCheckpoint.DataKey] = state.DataHash,
        };
        if (Options.DataDescription is { } d) meta[TrainingCheckpoint.DataDescriptionKey] = d;
        ModuleSerialization.SaveCheckpoint(Options.CheckpointPath, Model, Optimizer, meta, state.BestState);
    }

    private static long ParseLong(string path, IReadOnlyDictionary<string, string> meta, string key) =>
        meta.TryGetValue(key, out var v) && long.TryParse(v, NumberStyles.Integer, CultureInfo.InvariantCulture, out long x) && x >= 0 ? x
            : throw new InvalidDataException($"{path}: checkpoint metadata '{key}' is missing or not a whole number ≥ 0");

    private static double ParseDouble(string path, IReadOnlyDictionary<string, string> meta, string key) =>
        meta.TryGetValue(key, out var v) && double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out double x) ? x
            : throw new InvalidDataException($"{path}: checkpoint metadata '{key}' is missing or not a number");
}
