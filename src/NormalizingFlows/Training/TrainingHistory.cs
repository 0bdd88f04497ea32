namespace NormalizingFlows.Training;

/// <summary>What happened during a run.</summary>
public sealed class TrainingHistory
{
    /// <summary>Per-epoch records, in order.</summary>
    public List<EpochRecord> Epochs { get; } = [];

    /// <summary>How the run ended.</summary>
    public TrainingOutcome Outcome { get; internal set; }

    /// <summary>The epoch whose parameters the flow holds at the end (best validation epoch when restored), or null.</summary>
    public int? BestEpoch { get; internal set; }

    /// <summary>Total optimizer steps, including those of a resumed run.</summary>
    public long Steps { get; internal set; }
}
