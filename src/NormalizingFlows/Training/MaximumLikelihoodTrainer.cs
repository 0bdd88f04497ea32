using System.Diagnostics;
using System.Globalization;
using System.Numerics;
using NormalizingFlows.Autograd;
using NormalizingFlows.Flows;
using NormalizingFlows.Optim;
using NormalizingFlows.IO;
using NormalizingFlows.Tensors;
using NormalizingFlows.Transforms;

namespace NormalizingFlows.Training;

/// <summary>
/// Fits a flow by maximum likelihood: shuffled minibatches, Adam (AdamW with weight decay), a learning-rate schedule,
/// global-norm clipping, optional per-event weights, a validation log-likelihood each epoch, early stopping with the
/// best parameters restored, checkpoints (each epoch and on cancellation) and resumption.
/// <para>
/// Weighted loss: −Σ_batch wᵢ log p(xᵢ) / (B·w̄) with w̄ the mean weight of the whole training set, an unbiased
/// estimate of the weighted mean NLL whose denominator does not depend on the batch (so batches whose weights
/// nearly cancel, with negative weights, cannot blow up the step).
/// </para>
/// </summary>
public sealed class MaximumLikelihoodTrainer<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>The metadata "kind" of the training checkpoints this trainer writes (<see cref="FileKinds.Of"/> returns it for one).</summary>
    public const string CheckpointKind = "nflow-checkpoint";

    /// <summary>Creates a trainer for <paramref name="flow"/>.</summary>
    public MaximumLikelihoodTrainer(Flow<T> flow, TrainingOptions? options = null)
    {
        Flow = flow ?? throw new ArgumentNullException(nameof(flow));
        Options = options ?? new TrainingOptions();
        Options.Validate();
        var trainable = flow.Parameters().Where(p => p.Trainable);
        Optimizer = Options.WeightDecay > 0
            ? new AdamW<T>(trainable, Options.LearningRate, weightDecay: Options.WeightDecay)
            : new Adam<T>(trainable, Options.LearningRate);
    }

    /// <summary>The flow being trained.</summary>
    public Flow<T> Flow { get; }

    /// <summary>The settings.</summary>
    public TrainingOptions Options { get; }

    /// <summary>The optimizer (its state is part of the checkpoint).</summary>
    public Optimizer<T> Optimizer { get; }

    /// <summary>Receives progress reports (every <see cref="TrainingOptions.ReportEverySteps"/> steps and each epoch end).</summary>
    public IProgress<TrainingProgress>? Progress { get; set; }

    /// <summary>
    /// Trains on <paramref name="train"/>; validates on <paramref name="validation"/> (or a held-out fraction). With
    /// <paramref name="resumeFrom"/> the model, optimizer and progress are restored from a checkpoint first.
    /// </summary>
    public TrainingHistory Fit(TrainingData<T> train, TrainingData<T>? validation = null, CancellationToken cancellation = default, string? resumeFrom = null)
    {
        ArgumentNullException.ThrowIfNull(train);
        train.Validate();
        CheckFeatures(train, "training data");
        if (validation is null && Options.ValidationFraction > 0) (train, validation) = Split(train);
        if (validation is not null)
        {
            validation.Validate("validation data");
            CheckFeatures(validation, "validation data");
        }
        if (train.Rows == 0) throw new ArgumentException("training data has no rows");
        double meanWeight = train.WeightSum() / train.Rows;
        if (train.Weights is not null && !(Math.Abs(meanWeight) > 0))
            throw new ArgumentException("training weights sum to zero: the weighted likelihood is undefined");

        int n = train.Rows, batch = Math.Min(Options.BatchSize, n);
        int stepsPerEpoch = (n + batch - 1) / batch;
        long totalSteps = Options.Steps ?? (long)Options.Epochs * stepsPerEpoch;
        var schedule = Options.Schedule ?? new CosineDecaySchedule(Options.LearningRate, (int)Math.Min(totalSteps, int.MaxValue));

        var history = new TrainingHistory();
        long step = 0;
        int startEpoch = 1, skipBatches = 0;
        double resumedEpochLoss = 0;
        double bestValidation = double.NegativeInfinity;
        OrderedDictionary<string, Tensor<T>>? bestState = null;
        int epochsWithoutImprovement = 0;
        double? lastValidation = null;
        // the data hash costs one pass over the events: only when a checkpoint is written or read
        string dataHash = Options.CheckpointPath is null && resumeFrom is null ? "" : TrainingCheckpoint.DataHash(train, validation);
        if (resumeFrom is not null)
        {
            var meta = ModuleSerialization.LoadCheckpoint(resumeFrom, Flow, Optimizer, out var extra, checkMetadata: m =>
            {
                if (!m.TryGetValue("kind", out var kind) || kind != CheckpointKind)
                    throw new InvalidDataException($"{resumeFrom}: not a training checkpoint (metadata 'kind' is missing or not '{CheckpointKind}')");
                TrainingCheckpoint.Check(resumeFrom, m, Options, dataHash);
            });
            step = ParseLong(resumeFrom, meta, "step");
            startEpoch = (int)ParseLong(resumeFrom, meta, "epoch") + 1;
            skipBatches = (int)ParseLong(resumeFrom, meta, "epoch.batches");
            resumedEpochLoss = ParseDouble(resumeFrom, meta, "epoch.loss");
            history.Epochs.AddRange(TrainingCheckpoint.ParseHistory(resumeFrom, meta.GetValueOrDefault(TrainingCheckpoint.HistoryKey) ?? "[]"));
            epochsWithoutImprovement = (int)ParseLong(resumeFrom, meta, "best.stale");
            if (meta.TryGetValue("best.epoch", out var be) && be.Length > 0)
            {
                history.BestEpoch = int.Parse(be, CultureInfo.InvariantCulture);
                bestValidation = ParseDouble(resumeFrom, meta, "best.validation");
                if (extra.Count > 0)
                {
                    bestState = new OrderedDictionary<string, Tensor<T>>();
                    foreach (var (k, v) in extra) bestState[k] = v.Untrack();
                }
            }
            lastValidation = history.Epochs.LastOrDefault()?.ValidationLogLikelihood;
        }
        _resume = (dataHash, () => history, () => bestState, () => (bestValidation, epochsWithoutImprovement));

        var parameters = Optimizer.Parameters;
        var xb = Tensor<T>.Empty(batch, train.X.Dim(1)).Untrack();
        var cb = train.Context is null ? null : Tensor<T>.Empty(batch, train.Context.Dim(1)).Untrack();
        var wb = train.Weights is null ? null : Tensor<T>.Empty(batch).Untrack();
        Flow.Train();
        var reportClock = Stopwatch.StartNew();
        double reportLoss = 0;
        int reportCount = 0;

        for (int epoch = startEpoch; step < totalSteps; epoch++)
        {
            var epochClock = Stopwatch.StartNew();
            var order = new Rng(unchecked(Options.Seed * 1_000_003 + epoch)).Permutation(n);
            double epochLoss = 0;
            int epochBatches = 0;
            if (epoch == startEpoch && skipBatches > 0)
            {
                // resuming inside an epoch: the same permutation, continued where the checkpoint stopped
                epochBatches = skipBatches;
                epochLoss = resumedEpochLoss;
            }
            for (int start = epochBatches * batch; start < n && step < totalSteps; start += batch)
            {
                if (cancellation.IsCancellationRequested)
                {
                    WriteCheckpoint(epoch - 1, step, epochBatches, epochLoss);
                    history.Outcome = TrainingOutcome.Cancelled;
                    history.Steps = step;
                    return history;
                }
                int rows = Math.Min(batch, n - start);
                double lr = schedule.LearningRate((int)Math.Min(step, int.MaxValue));
                Optimizer.LearningRate = lr;
                double loss = TrainStep(train, order.AsSpan(start, rows), xb, cb, wb, meanWeight, step);
                if (Options.ClipNorm is { } clip)
                {
                    double norm = GradientClipping.ClipGlobalNorm(parameters, clip);
                    if (!double.IsFinite(norm))
                        throw new TrainingDivergedException(step, FirstNonFiniteGradient(), $"the gradient norm became {norm} at step {step} (loss {loss:G6})", "Lower the learning rate or clip gradients harder (TrainingOptions.ClipNorm).");
                }
                Optimizer.Step();
                step++;
                epochLoss += loss; epochBatches++;
                reportLoss += loss; reportCount++;
                if (Options.CheckpointEverySteps > 0 && step % Options.CheckpointEverySteps == 0) WriteCheckpoint(epoch - 1, step, epochBatches, epochLoss);
                if (Progress is not null && step % Math.Max(1, Options.ReportEverySteps) == 0)
                {
                    Progress.Report(new TrainingProgress(epoch, step, totalSteps, reportLoss / reportCount, lr, reportCount / reportClock.Elapsed.TotalSeconds, lastValidation));
                    reportLoss = 0; reportCount = 0; reportClock.Restart();
                }
            }
            double? val = null;
            if (validation is not null && validation.Rows > 0)
            {
                val = Evaluate(Flow, validation, Options.EvaluationBatchSize).Mean;
                lastValidation = val;
                if (val > bestValidation)
                {
                    bestValidation = val.Value;
                    history.BestEpoch = epoch;
                    epochsWithoutImprovement = 0;
                    if (Options.RestoreBest) bestState = CloneState();
                }
                else epochsWithoutImprovement++;
            }
            history.Epochs.Add(new EpochRecord(epoch, step, epochLoss / Math.Max(1, epochBatches), val, Optimizer.LearningRate, epochClock.Elapsed.TotalSeconds));
            skipBatches = 0;
            WriteCheckpoint(epoch, step, 0, 0);
            Progress?.Report(new TrainingProgress(epoch, step, totalSteps, epochLoss / Math.Max(1, epochBatches), Optimizer.LearningRate, epochBatches / Math.Max(1e-9, epochClock.Elapsed.TotalSeconds), val, EndOfEpoch: true));
            if (Options.Patience > 0 && epochsWithoutImprovement >= Options.Patience)
            {
                history.Outcome = TrainingOutcome.EarlyStopped;
                break;
            }
        }
        if (bestState is not null && history.BestEpoch is not null && history.Epochs.Count > 0 && history.Epochs[^1].Epoch != history.BestEpoch)
            Flow.LoadStateDict(bestState);
        else if (validation is null) history.BestEpoch = history.Epochs.Count > 0 ? history.Epochs[^1].Epoch : null;
        history.Steps = step;
        return history;
    }

    private double TrainStep(TrainingData<T> train, ReadOnlySpan<int> rows, Tensor<T> xb, Tensor<T>? cb, Tensor<T>? wb, double meanWeight, long step)
    {
        using var scope = TensorScope.Begin();
        var x = Slice(xb, rows.Length);
        TrainingData<T>.GatherInto(train.X, rows, x);
        Tensor<T>? c = null, w = null;
        if (cb is not null) { c = Slice(cb, rows.Length); TrainingData<T>.GatherInto(train.Context!, rows, c); }
        if (wb is not null) { w = Slice(wb, rows.Length); TrainingData<T>.GatherInto(train.Weights!, rows, w); }
        Optimizer.ZeroGrad();
        var logProb = Flow.LogProb(new Var<T>(x), c is null ? null : new Var<T>(c));
        var loss = w is null
            ? Ops.Neg(Ops.Mean(logProb))
            : Ops.ScaleShift(Ops.Sum(Ops.Mul(logProb, new Var<T>(w))), -1.0 / (rows.Length * meanWeight));
        double value = double.CreateTruncating(loss.Value[0]);
        if (!double.IsFinite(value))
        {
            string? layer = Diagnose(x, c);
            throw new TrainingDivergedException(step, layer,
                $"the training loss became {value} at step {step}" + (layer is null ? "" : $"; first non-finite values in {layer}"),
                "Lower the learning rate, clip gradients harder (TrainingOptions.ClipNorm) or check the data's scale.");
        }
        loss.Backward();
        return value;
    }

    private static Tensor<T> Slice(Tensor<T> buffer, int rows) => rows == buffer.Dim(0) ? buffer : buffer.FirstRows(rows);

    /// <summary>Finds the first parameter or transform step whose values are not finite.</summary>
    private string? Diagnose(Tensor<T> x, Tensor<T>? context)
    {
        foreach (var (name, p) in Flow.NamedParameters())
            if (!AllFinite(p.Value)) return $"parameter '{name}'";
        using var _ = GradMode.Disable();
        Var<T> h = new(x);
        var ctx = context is null ? null : new Var<T>(context);
        if (FirstNonFinite(Flow.Transform, "", ref h, ctx) is { } step) return step;
        if (!AllFinite(Flow.Base.LogProb(h, ctx).Value)) return $"base distribution ({TypeNames.Of(Flow.Base)})";
        return null;
    }

    /// <summary>
    /// Runs <paramref name="transform"/> on <paramref name="h"/>, descending into nested composites, and names the first
    /// step whose output or log-determinant is not finite, e.g. "transform step 1.3 (MaskedAutoregressiveTransform)".
    /// </summary>
    private static string? FirstNonFinite(Transform<T> transform, string path, ref Var<T> h, Var<T>? ctx)
    {
        if (transform is CompositeTransform<T> comp)
        {
            for (int i = 0; i < comp.Steps.Count; i++)
                if (FirstNonFinite(comp.Steps[i], path.Length == 0 ? $"{i}" : $"{path}.{i}", ref h, ctx) is { } inner) return inner;
            return null;
        }
        var (y, ld) = transform.Forward(h, ctx);
        if (!AllFinite(y.Value) || !AllFinite(ld.Value)) return $"transform step {(path.Length == 0 ? "0" : path)} ({TypeNames.Of(transform)})";
        h = y;
        return null;
    }

    private string? FirstNonFiniteGradient()
    {
        foreach (var (name, p) in Flow.NamedParameters())
            if (p.Grad is { } g && !AllFinite(g)) return $"gradient of '{name}'";
        return null;
    }

    private static bool AllFinite(Tensor<T> t)
    {
        foreach (var v in t.ReadOnlySpan) if (!T.IsFinite(v)) return false;
        return true;
    }

    private OrderedDictionary<string, Tensor<T>> CloneState()
    {
        var copy = new OrderedDictionary<string, Tensor<T>>();
        foreach (var (k, v) in Flow.StateDict()) copy[k] = v.Clone().Untrack();
        return copy;
    }

    /// <summary>The state of the running Fit that a checkpoint records besides the tensors.</summary>
    private (string DataHash, Func<TrainingHistory> History, Func<OrderedDictionary<string, Tensor<T>>?> Best, Func<(double Value, int Stale)> Validation) _resume;

    /// <summary>
    /// Writes the checkpoint: tensors, the best parameters so far, the run's settings and data hash, the history, and
    /// the position (<paramref name="epoch"/> epochs done, then <paramref name="batches"/> batches of the next one).
    /// </summary>
    private void WriteCheckpoint(int epoch, long step, int batches, double epochLoss)
    {
        if (Options.CheckpointPath is null) return;
        var c = CultureInfo.InvariantCulture;
        var history = _resume.History();
        var (bestValue, stale) = _resume.Validation();
        var meta = new Dictionary<string, string>
        {
            ["kind"] = CheckpointKind,
            ["epoch"] = epoch.ToString(c),
            ["step"] = step.ToString(c),
            ["epoch.batches"] = batches.ToString(c),
            ["epoch.loss"] = epochLoss.ToString("R", c),
            [TrainingCheckpoint.HistoryKey] = TrainingCheckpoint.HistoryJson(history.Epochs),
            ["best.epoch"] = history.BestEpoch?.ToString(c) ?? "",
            ["best.validation"] = bestValue.ToString("R", c),
            ["best.stale"] = stale.ToString(c),
            [TrainingCheckpoint.SettingsKey] = TrainingCheckpoint.Json(TrainingCheckpoint.Settings(Options)),
            [TrainingCheckpoint.RunKey] = TrainingCheckpoint.Json(Options.RunSettings ?? new Dictionary<string, string>()),
            [TrainingCheckpoint.DataKey] = _resume.DataHash,
        };
        if (Options.DataDescription is { } d) meta[TrainingCheckpoint.DataDescriptionKey] = d;
        ModuleSerialization.SaveCheckpoint(Options.CheckpointPath, Flow, Optimizer, meta, _resume.Best());
    }

    private static long ParseLong(string path, IReadOnlyDictionary<string, string> meta, string key) =>
        meta.TryGetValue(key, out var v) && long.TryParse(v, NumberStyles.Integer, CultureInfo.InvariantCulture, out long x) && x >= 0 ? x
            : throw new InvalidDataException($"{path}: checkpoint metadata '{key}' is missing or not a whole number ≥ 0");

    private static double ParseDouble(string path, IReadOnlyDictionary<string, string> meta, string key) =>
        meta.TryGetValue(key, out var v) && double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out double x) ? x
            : throw new InvalidDataException($"{path}: checkpoint metadata '{key}' is missing or not a number");

    private void CheckFeatures(TrainingData<T> data, string what)
    {
        if (data.X.Dim(1) != Flow.Features)
            throw new ArgumentException($"{what} has {data.X.Dim(1)} columns; the flow models {Flow.Features}");
        if (Flow.ContextFeatures > 0 && (data.Context is null || data.Context.Dim(1) != Flow.ContextFeatures))
            throw new ArgumentException($"{what}: the flow is conditional and needs a context of {Flow.ContextFeatures} columns" + (data.Context is null ? "" : $", got {data.Context.Dim(1)}"));
    }

    private (TrainingData<T> train, TrainingData<T> validation) Split(TrainingData<T> data)
    {
        var perm = new Rng(unchecked(Options.Seed ^ 0x5EED)).Permutation(data.Rows);
        int nVal = (int)Math.Round(data.Rows * Options.ValidationFraction);
        return (data.Take(perm.AsSpan(nVal)), data.Take(perm.AsSpan(0, nVal)));
    }

    /// <summary>
    /// Mean log-likelihood per event of <paramref name="data"/> (weighted mean when weights are given) and its
    /// standard error, in evaluation mode without gradients, in batches.
    /// </summary>
    public static (double Mean, double StandardError) Evaluate(Flow<T> flow, TrainingData<T> data, int batchSize = 8192)
    {
        ArgumentNullException.ThrowIfNull(flow);
        data.Validate("evaluation data");
        bool wasTraining = flow.Training;
        flow.Eval();
        try
        {
            int n = data.Rows;
            var lp = new double[n];
            using (GradMode.Disable())
                for (int start = 0; start < n; start += batchSize)
                {
                    using var scope = TensorScope.Begin();
                    int rows = Math.Min(batchSize, n - start);
                    var x = data.X.CopyRows(start, rows);
                    var c = data.Context is null ? null : new Var<T>(data.Context.CopyRows(start, rows));
                    var v = flow.LogProb(new Var<T>(x), c).Value.ReadOnlySpan;
                    for (int i = 0; i < rows; i++) lp[start + i] = double.CreateTruncating(v[i]);
                }
            return WeightedMean(lp, data.Weights?.ToDoubleArray());
        }
        finally
        {
            if (wasTraining) flow.Train();
        }
    }

    /// <summary>Weighted mean and its standard error (√(Σ w²(x − m)²)/Σ w; for unit weights the usual s/√n).</summary>
    internal static (double Mean, double StandardError) WeightedMean(double[] values, double[]? weights)
    {
        int n = values.Length;
        if (n == 0) return (double.NaN, double.NaN);
        double sw = 0, swx = 0;
        for (int i = 0; i < n; i++) { double w = weights?[i] ?? 1; sw += w; swx += w * values[i]; }
        double mean = swx / sw;
        double s2 = 0;
        for (int i = 0; i < n; i++) { double w = weights?[i] ?? 1; s2 += w * w * (values[i] - mean) * (values[i] - mean); }
        double se = weights is null ? Math.Sqrt(s2 / Math.Max(1, n - 1) / n) : Math.Sqrt(s2) / Math.Abs(sw);
        return (mean, se);
    }
}
