namespace NormalizingFlows.Data.Preprocessing;

/// <summary>The preprocessing of one column: its name, its kind and the kind's options.</summary>
/// <param name="Name">Column name (checked against the table the pipeline is fitted on).</param>
/// <param name="Kind">What is done to it.</param>
public sealed record ColumnPreprocessing(string Name, PreprocessingKind Kind)
{
    /// <summary>Minmax-logit: widening of the training range on each side, as a fraction of the range, in (0, 0.5].</summary>
    public double Margin { get; init; } = 0.01;

    /// <summary>
    /// Log: the column is mapped to log(x − Shift), an open lower bound every value must exceed. Log-upper: the
    /// column is mapped to log(Shift − x), an open upper bound every value must stay below.
    /// </summary>
    public double Shift { get; init; }

    /// <summary>
    /// Minmax-logit with user-given bounds: the open domain (Lower, Upper) is mapped onto (0, 1) as it is (no margin,
    /// no training range); both or neither must be set. Null: the widened training range.
    /// </summary>
    public double? Lower { get; init; }

    /// <summary>The upper end of a user-given minmax-logit domain (see <see cref="Lower"/>).</summary>
    public double? Upper { get; init; }

    /// <summary>Periodic: the period [Lower, Upper), by default [−π, π).</summary>
    public (double Lower, double Upper) Period => (Lower ?? -Math.PI, Upper ?? Math.PI);

    /// <summary>Why <see cref="PreprocessingSpec.Auto"/> chose this kind (informational; null when set by hand).</summary>
    public string? Reason { get; init; }

    /// <summary>The steps this kind expands to, in the data → base direction (e.g. "minmax", "logit", "standardize").</summary>
    public IReadOnlyList<string> Chain => Kind switch
    {
        PreprocessingKind.None => [],
        PreprocessingKind.Standardize => ["standardize"],
        PreprocessingKind.Log => ["log", "standardize"],
        PreprocessingKind.LogUpper => ["log-upper", "standardize"],
        PreprocessingKind.MinMaxLogit => ["minmax", "logit", "standardize"],
        PreprocessingKind.Dequantize => ["dequantize", "standardize"],
        PreprocessingKind.Periodic => ["periodic"],
        _ => throw new InvalidOperationException($"unknown kind {Kind}"),
    };
}
