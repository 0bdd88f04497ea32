using NormalizingFlows.Data.Preprocessing;
using NormalizingFlows.Training;

namespace NormalizingFlows.Models;

/// <summary>How <see cref="FlowModelTrainer{T}"/> turns tables into a trained <see cref="FlowModel{T}"/>.</summary>
public sealed record FlowFitOptions
{
    /// <summary>
    /// The training run (epochs, batch, learning rate, clipping, weight decay, patience, checkpoint). Its
    /// <see cref="TrainingOptions.Seed"/> also seeds the validation split and the dequantization noise;
    /// its <see cref="TrainingOptions.ValidationFraction"/> is the fraction of the events held out at random when no
    /// validation table is given (0: no validation).
    /// </summary>
    public TrainingOptions Training { get; init; } = new();

    /// <summary>The preprocessing fitted on the training split (default <see cref="FlowPreprocessing.Auto"/>).</summary>
    public FlowPreprocessing Preprocessing { get; init; } = FlowPreprocessing.Auto;

    /// <summary>
    /// Known domains of columns, by name (<see cref="ColumnBounds.Parse"/> reads "COLUMN=LOW:HIGH"); they override the
    /// automatic choice, so they need <see cref="FlowPreprocessing.Auto"/>. Null: none.
    /// </summary>
    public IReadOnlyDictionary<string, ColumnBounds>? Bounds { get; init; }

    /// <summary>
    /// The column of the tables holding per-event weights (negative ones allowed; they must not sum to zero): it is
    /// not modelled, and the likelihood is weighted by it (the preprocessing is fitted on the events unweighted).
    /// Null: unweighted.
    /// </summary>
    public string? WeightColumn { get; init; }

    /// <summary>Throws an <see cref="ArgumentException"/> naming the first invalid setting.</summary>
    public void Validate()
    {
        ArgumentNullException.ThrowIfNull(Training, nameof(Training));
        Training.Validate();
        if (!Enum.IsDefined(Preprocessing)) throw new ArgumentException($"Preprocessing: unknown value {Preprocessing}");
        if (Bounds is { Count: > 0 } && Preprocessing != FlowPreprocessing.Auto)
            throw new ArgumentException($"Bounds need Preprocessing = Auto (they set the preprocessing of the bounded columns), got {Preprocessing}");
        if (WeightColumn is { Length: 0 }) throw new ArgumentException("WeightColumn must be a column name or null, got an empty string");
    }
}
