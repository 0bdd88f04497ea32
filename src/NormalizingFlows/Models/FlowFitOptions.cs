using NormalizingFlows.Data.Preprocessing;
using NormalizingFlows.Nn.Embeddings;
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
    /// Angle columns by name with their period [lower, upper) (both ends; e.g. (−π, π)): preprocessed as
    /// <see cref="Data.Preprocessing.PreprocessingKind.Periodic"/> and modelled on the circle by circular splines
    /// (<see cref="Flows.FlowBuilders.PeriodicUpdate"/>; the nsf and maf-rqs builders only). Values outside the period
    /// are wrapped into it. The model's spec is then the composed architecture of that flow. Null or empty: none.
    /// </summary>
    public IReadOnlyDictionary<string, ColumnBounds>? Periodic { get; init; }

    /// <summary>
    /// The column of the tables holding per-event weights (negative ones allowed; they must not sum to zero): it is
    /// not modelled, and the likelihood is weighted by it (the preprocessing is fitted on the events unweighted).
    /// Null: unweighted.
    /// </summary>
    public string? WeightColumn { get; init; }

    /// <summary>
    /// The columns of the tables the flow is conditioned on (a conditional flow p(x | c)): like
    /// <see cref="WeightColumn"/> they are taken out of the modelled columns. Unless <see cref="Preprocessing"/> is
    /// <see cref="FlowPreprocessing.None"/>, they are standardised (mean 0, standard deviation 1 on the training
    /// rows) in front of the flow: a context is an input, not a density, so it needs no domain (a context beyond the
    /// training range must still be accepted when sampling), no Jacobian and no dequantization noise (integer labels
    /// stay exact). Null or empty: unconditional.
    /// </summary>
    public IReadOnlyList<string>? ContextColumns { get; init; }

    /// <summary>
    /// A summary network between the (preprocessed) context and the flow, trained with it; the flow then takes its
    /// <see cref="EmbeddingSpec.Features"/> context features. Needs <see cref="ContextColumns"/>. Null: none.
    /// </summary>
    public EmbeddingSpec? Embedding { get; init; }

    /// <summary>
    /// The training objective; null: the spec's (<see cref="FlowSpec.Objective"/>: flow matching for the
    /// <see cref="FlowSpec.FlowMatching"/> builder, else maximum likelihood). Set it to train any continuous flow —
    /// a "cnf" or a composed one — by flow matching.
    /// </summary>
    public TrainingObjective? Objective { get; init; }

    /// <summary>Throws an <see cref="ArgumentException"/> naming the first invalid setting.</summary>
    public void Validate()
    {
        ArgumentNullException.ThrowIfNull(Training, nameof(Training));
        Training.Validate();
        if (!Enum.IsDefined(Preprocessing)) throw new ArgumentException($"Preprocessing: unknown value {Preprocessing}");
        if (Objective is { } objective && !Enum.IsDefined(objective)) throw new ArgumentException($"Objective: unknown value {objective}");
        if (Bounds is { Count: > 0 } && Preprocessing != FlowPreprocessing.Auto)
            throw new ArgumentException($"Bounds need Preprocessing = Auto (they set the preprocessing of the bounded columns), got {Preprocessing}");
        if (Periodic is { Count: > 0 } && Preprocessing != FlowPreprocessing.Auto)
            throw new ArgumentException($"Periodic needs Preprocessing = Auto (it sets the preprocessing of the angle columns), got {Preprocessing}");
        if (WeightColumn is { Length: 0 }) throw new ArgumentException("WeightColumn must be a column name or null, got an empty string");
        if (ContextColumns is { } cc)
        {
            if (cc.Any(string.IsNullOrEmpty)) throw new ArgumentException("ContextColumns must be column names, got an empty one");
            if (cc.GroupBy(c => c, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1) is { } twice)
                throw new ArgumentException($"ContextColumns names '{twice.Key}' twice");
            if (WeightColumn is { } w && cc.Contains(w)) throw new ArgumentException($"ContextColumns: '{w}' is the WeightColumn; a column is a weight or a context, not both");
        }
        if (Embedding is not null)
        {
            if (ContextColumns is not { Count: > 0 }) throw new ArgumentException("Embedding needs ContextColumns (it summarises the context)");
            Embedding.Validate(ContextColumns.Count);
        }
    }
}
