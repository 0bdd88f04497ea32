namespace NormalizingFlows.Data.Preprocessing;

/// <summary>What a <see cref="PreprocessingPipeline{T}"/> does to one column (JSON names in brackets).</summary>
public enum PreprocessingKind
{
    /// <summary>Leave the column as it is ("none").</summary>
    None,
    /// <summary>Standardise: (x − mean)/std ("standardize").</summary>
    Standardize,
    /// <summary>log(x − shift), then standardise ("log"); for positive, heavy-tailed columns.</summary>
    Log,
    /// <summary>Min-max to (0, 1) with a margin → logit → standardise ("minmax-logit"); for bounded columns with sharp edges (pT thresholds, hard cuts).</summary>
    MinMaxLogit,
    /// <summary>Integer-valued: add U(0, 1) noise for training, floor when sampling; standardised ("dequantize").</summary>
    Dequantize,
    /// <summary>log(shift − x), then standardise ("log-upper"); for columns bounded above only (a sharp edge or cut at the maximum, open below).</summary>
    LogUpper,
    /// <summary>
    /// An angle: its period [Lower, Upper) (default [−π, π)) is shifted and scaled onto [−π, π), nothing else (no
    /// logit, no standardisation; log|det| the constant scale) ("periodic"). The flow must model it on the circle
    /// (circular splines) and wraps values outside the period into it.
    /// </summary>
    Periodic,
}
