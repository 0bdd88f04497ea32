namespace NormalizingFlows.Models;

/// <summary>The preprocessing <see cref="FlowModelTrainer{T}"/> fits on the training split in front of the flow.</summary>
public enum FlowPreprocessing
{
    /// <summary>
    /// Per column (<see cref="Data.Preprocessing.PreprocessingSpec.Auto"/>): dequantize integers; a sharp edge bounds
    /// only its own side (both ends: minmax-logit, one end: a log open on the other side); log for skewed positive
    /// columns; else standardize. <see cref="FlowFitOptions.Bounds"/> overrides the choice for the columns it names.
    /// </summary>
    Auto,

    /// <summary>Every column standardized (mean 0, standard deviation 1 on the training split).</summary>
    Standardize,

    /// <summary>None: the flow sees the data as they are.</summary>
    None,
}
