using NormalizingFlows.Optim;

namespace NormalizingFlows.Training;

/// <summary>Settings of a <see cref="TrainingLoop{T}"/> run (maximum likelihood and the other losses). Defaults suit small tabular problems.</summary>
public sealed record TrainingOptions
{
    /// <summary>Passes over the training set (ignored when <see cref="Steps"/> is set).</summary>
    public int Epochs { get; init; } = 20;

    /// <summary>Total optimizer steps; when set, training runs this many steps over as many shuffled epochs as needed.</summary>
    public int? Steps { get; init; }

    /// <summary>Rows per minibatch.</summary>
    public int BatchSize { get; init; } = 512;

    /// <summary>Adam's learning rate (the schedule's starting value).</summary>
    public double LearningRate { get; init; } = 1e-3;

    /// <summary>Learning-rate schedule over the total steps; null: cosine decay to 0 over the run.</summary>
    public ILearningRateSchedule? Schedule { get; init; }

    /// <summary>Decoupled weight decay (AdamW) when &gt; 0.</summary>
    public double WeightDecay { get; init; }

    /// <summary>Global gradient-norm clip; null disables clipping.</summary>
    public double? ClipNorm { get; init; } = 10.0;

    /// <summary>Seed of the shuffling generator and of the per-step random streams of the losses (<see cref="TrainingBatch{T}.Rng"/>).</summary>
    public long Seed { get; init; }

    /// <summary>Fraction of the rows held out for validation when no validation set is given (0: none).</summary>
    public double ValidationFraction { get; init; }

    /// <summary>Epochs without validation improvement before stopping (0: never stop early).</summary>
    public int Patience { get; init; }

    /// <summary>Restore the parameters of the best validation epoch at the end (when there is validation data).</summary>
    public bool RestoreBest { get; init; } = true;

    /// <summary>Checkpoint file (model + optimizer + progress) written at each epoch's end and on cancellation; null: none.</summary>
    public string? CheckpointPath { get; init; }

    /// <summary>Also write the checkpoint every this many steps (0: only at epoch ends).</summary>
    public int CheckpointEverySteps { get; init; }

    /// <summary>
    /// The caller's own settings of the run (architecture, preprocessing, command-line options), stored in the
    /// checkpoint beside <see cref="TrainingOptions"/>'s and a hash of the data; resuming refuses a checkpoint whose
    /// settings differ, naming the first differing key (so name them as the user knows them, e.g. "--layers").
    /// </summary>
    public IReadOnlyDictionary<string, string>? RunSettings { get; init; }

    /// <summary>Where the training data came from (a file name), shown when a resumed run's data differ from the checkpoint's.</summary>
    public string? DataDescription { get; init; }

    /// <summary>Rows per batch when evaluating the validation log-likelihood.</summary>
    public int EvaluationBatchSize { get; init; } = 8192;

    /// <summary>
    /// Data-parallel training over several processes (null: one process). <see cref="BatchSize"/> stays the batch of the
    /// whole run: each process computes the gradient on its share of every batch, the gradients are summed over the
    /// processes (weighted by their rows) before the step, so every process takes the step of a single-process run on
    /// the union of the shares, to rounding. Process 0 writes the checkpoints; any number of processes resumes them.
    /// Data-driven fits of models whose rows are computed independently in training (<see cref="NormalizingFlows.Nn.Module{T}.IsRowWise"/>)
    /// only: ActNorm's first-batch initialisation, batch norm, dropout or a batch-wide ODE step are refused.
    /// </summary>
    public IDataParallel? DataParallel { get; init; }

    /// <summary>
    /// The device that trains (null: the CPU): maximum likelihood of an unconditional flow in float with Adam, without
    /// weight decay, event weights or data parallelism, which are refused by name at the start. Batches come in the
    /// CPU run's order, the learning rate follows the schedule, gradients are clipped on the device, validation runs
    /// there; the weights come back to the host flow for checkpoints, the best epoch and at the end. The training
    /// loss is read back only for progress reports, checkpoints and epoch ends, so a divergence is reported then.
    /// </summary>
    public IFlowAccelerator? Device { get; init; }

    /// <summary>Report progress every this many steps (and at every epoch end).</summary>
    public int ReportEverySteps { get; init; } = 50;

    /// <summary>Throws <see cref="ArgumentException"/> naming the first invalid setting.</summary>
    public void Validate()
    {
        if (Epochs < 1 && Steps is null) throw new ArgumentException($"Epochs must be ≥ 1, got {Epochs}");
        if (Steps is < 1) throw new ArgumentException($"Steps must be ≥ 1, got {Steps}");
        if (BatchSize < 1) throw new ArgumentException($"BatchSize must be ≥ 1, got {BatchSize}");
        if (!(LearningRate > 0) || double.IsInfinity(LearningRate)) throw new ArgumentException($"LearningRate must be positive and finite, got {LearningRate}");
        if (WeightDecay < 0) throw new ArgumentException($"WeightDecay must be ≥ 0, got {WeightDecay}");
        if (ClipNorm is { } c && !(c > 0)) throw new ArgumentException($"ClipNorm must be positive, got {c}");
        if (ValidationFraction is < 0 or >= 1) throw new ArgumentException($"ValidationFraction must be in [0, 1), got {ValidationFraction}");
        if (Patience < 0) throw new ArgumentException($"Patience must be ≥ 0, got {Patience}");
        if (EvaluationBatchSize < 1) throw new ArgumentException($"EvaluationBatchSize must be ≥ 1, got {EvaluationBatchSize}");
    }
}
