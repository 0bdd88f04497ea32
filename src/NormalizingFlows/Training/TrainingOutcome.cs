namespace NormalizingFlows.Training;

/// <summary>Why a training run ended.</summary>
public enum TrainingOutcome
{
    /// <summary>All epochs or steps ran.</summary>
    Completed,
    /// <summary>Validation stopped improving for <see cref="TrainingOptions.Patience"/> epochs.</summary>
    EarlyStopped,
    /// <summary>The cancellation token fired; the last checkpoint was written.</summary>
    Cancelled,
}
