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
    /// Where <see cref="DistillationTrainer{T}.Fit"/> writes a checkpoint (atomically) after each pass over the data and
    /// when it is cancelled before the last step: the student's parameters, the optimizer state, the position, the
    /// settings and hashes of the teacher and the data (null: none is written).
    /// </summary>
    public string? CheckpointPath { get; init; }

    /// <summary>
    /// Further settings of the run (e.g. the command-line options) stored in the checkpoint and compared on resumption:
    /// a difference is refused by name.
    /// </summary>
    public IReadOnlyDictionary<string, string>? RunSettings { get; init; }

    /// <summary>A description of the data (e.g. the file name) quoted when resumption is refused for other data.</summary>
    public string? DataDescription { get; init; }

    /// <summary>
    /// The device the steps run on (e.g. <c>NormalizingFlows.Cuda</c>'s <c>ComputeDevice</c>; null: the CPU). The base
    /// draws still come from each step's random stream on the host, so a device run follows the CPU run's; the student's
    /// weights and Adam state are copied back for checkpoints, at the end, and when a run fails or is cancelled.
    /// </summary>
    public IFlowAccelerator? Device { get; init; }

    /// <summary>Throws an <see cref="ArgumentException"/> naming the bad setting.</summary>
    public void Validate()
    {
        if (Steps < 1) throw new ArgumentException($"distillation steps must be ≥ 1, got {Steps}");
        if (BatchSize < 1) throw new ArgumentException($"distillation batch size must be ≥ 1, got {BatchSize}");
        if (!(LearningRate > 0)) throw new ArgumentException($"learning rate must be > 0, got {LearningRate}");
        if (!ZPass && !XPass) throw new ArgumentException("distillation needs the z-pass, the x-pass or both");
    }
}
