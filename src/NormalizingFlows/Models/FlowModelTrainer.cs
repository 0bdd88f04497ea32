using System.Numerics;
using NormalizingFlows.Data;
using NormalizingFlows.Data.Preprocessing;
using NormalizingFlows.Flows;
using NormalizingFlows.Tensors;
using NormalizingFlows.Training;

namespace NormalizingFlows.Models;

/// <summary>
/// Fits a <see cref="FlowModel{T}"/> to tables of events, the way <c>nflow train</c> does: the events are split into
/// training and validation rows (by <see cref="TrainingOptions.ValidationFraction"/> and seed, unless a validation table is
/// given), the preprocessing of <see cref="FlowFitOptions.Preprocessing"/> is fitted on the training rows only, validation
/// events outside its domain are left out (counted in <see cref="ValidationOutsideDomain"/>), dequantized columns get
/// U(0, 1) noise, the context columns of a conditional flow (<see cref="FlowFitOptions.ContextColumns"/>) are taken
/// out and standardised on the training rows, and <see cref="Fit"/> trains by (weighted) maximum likelihood with progress, checkpoints, cancellation
/// and resumption. The constructor does all but the training, so a caller can describe the model first.
/// </summary>
public sealed class FlowModelTrainer<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>
    /// Prepares the fit of a flow of architecture <paramref name="spec"/> (its <see cref="FlowSpec.Features"/> must be
    /// the number of modelled columns of <paramref name="data"/>, its <see cref="FlowSpec.DType"/> that of
    /// <typeparamref name="T"/>) to <paramref name="data"/>; <paramref name="validation"/> (same columns) replaces the
    /// random validation split. A column named by <see cref="FlowFitOptions.WeightColumn"/> is taken out as the
    /// events' weights, the <see cref="FlowFitOptions.ContextColumns"/> as the context; a spec with
    /// <see cref="FlowSpec.ContextFeatures"/> 0 gets the context's width (or the embedding's output size).
    /// </summary>
    public FlowModelTrainer(FlowSpec spec, Table data, FlowFitOptions? options = null, Table? validation = null)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(data);
        Options = options ?? new FlowFitOptions();
        Options.Validate();
        if (spec.DType != FlowSpec.DTypeOf<T>())
            throw new ArgumentException($"the spec's dtype is {spec.DType} but the model is {FlowSpec.DTypeOf<T>()}: set FlowSpec.DType to {FlowSpec.DTypeOf<T>()}", nameof(spec));
        var (events, context, weights) = SplitOff(data, "data");
        if (events.Cols != spec.Features)
            throw new ArgumentException($"the spec has {spec.Features} features but the data have {events.Cols} modelled column(s) ({string.Join(", ", events.Columns)})", nameof(spec));
        int contextFeatures = context is null ? 0 : Options.Embedding?.Features ?? context.Cols;
        if (spec.ContextFeatures != contextFeatures && !(spec.ContextFeatures == 0 && context is not null))
            throw new ArgumentException(context is null
                ? $"the spec takes {spec.ContextFeatures} context features but no ContextColumns were given"
                : $"the spec takes {spec.ContextFeatures} context features but the context gives {contextFeatures} ({(Options.Embedding is null ? $"columns {string.Join(", ", context.Columns)}" : "the embedding's output")}): leave FlowSpec.ContextFeatures 0 to have it set", nameof(spec));
        spec = spec with { ContextFeatures = contextFeatures };
        Table? valEvents = null, valContext = null;
        double[]? valWeights = null;
        if (validation is not null)
        {
            (valEvents, valContext, valWeights) = SplitOff(validation, "validation data");
            if (!valEvents.Columns.SequenceEqual(events.Columns))
                throw new ArgumentException($"the validation data have columns ({string.Join(", ", valEvents.Columns)}), the data ({string.Join(", ", events.Columns)})", nameof(validation));
        }
        long seed = Options.Training.Seed;
        Table train = events;
        Table? trainContext = context;
        double[]? trainWeights = weights;
        int nVal = validation is null ? (int)Math.Round(events.Rows * Options.Training.ValidationFraction) : 0;
        if (nVal > 0)
        {
            var perm = new Rng(unchecked(seed ^ 0x5EED)).Permutation(events.Rows);
            train = events.SelectRows(perm.AsSpan(nVal));
            valEvents = events.SelectRows(perm.AsSpan(0, nVal));
            trainContext = context?.SelectRows(perm.AsSpan(nVal));
            valContext = context?.SelectRows(perm.AsSpan(0, nVal));
            trainWeights = Pick(weights, perm.AsSpan(nVal));
            valWeights = Pick(weights, perm.AsSpan(0, nVal));
        }
        if (train.Rows == 0) throw new ArgumentException($"no training events left after the validation split ({events.Rows} event(s))", nameof(data));
        if (trainWeights is not null && !(Math.Abs(trainWeights.Sum()) > 0))
            throw new ArgumentException($"the weights (column '{Options.WeightColumn}') sum to zero over the {train.Rows} training event(s): the weighted likelihood is undefined", nameof(data));

        var pipeline = Options.Preprocessing switch
        {
            FlowPreprocessing.None => null,
            FlowPreprocessing.Standardize => PreprocessingPipeline.Fit<T>(train, PreprocessingSpec.Uniform(train.Columns, PreprocessingKind.Standardize)),
            _ => PreprocessingPipeline.Fit<T>(train, PreprocessingSpec.Auto(train, Options.Bounds, Options.Periodic)),
        };
        // the context is standardised on the training rows only (see FlowFitOptions.ContextColumns for why not the automatic choice)
        var contextPipeline = trainContext is null || Options.Preprocessing == FlowPreprocessing.None ? null
            : PreprocessingPipeline.Fit<T>(trainContext, PreprocessingSpec.Uniform(trainContext.Columns, PreprocessingKind.Standardize));
        if (valEvents is not null && pipeline?.Guard is not null)
        {
            var inside = pipeline.InDomain(valEvents.ToTensor<T>());
            var kept = Enumerable.Range(0, valEvents.Rows).Where(r => inside[r]).ToArray();
            ValidationOutsideDomain = valEvents.Rows - kept.Length;
            if (ValidationOutsideDomain > 0)
            {
                valEvents = kept.Length == 0 ? null : valEvents.SelectRows(kept);
                valContext = kept.Length == 0 ? null : valContext?.SelectRows(kept);
                valWeights = kept.Length == 0 ? null : Pick(valWeights, kept);
            }
        }
        var angles = pipeline?.Spec.ColumnsOf(PreprocessingKind.Periodic) ?? [];
        if (angles.Length == 0) Model = new FlowModel<T>(spec, pipeline, train.Columns, contextPipeline, Options.Embedding, trainContext?.Columns);
        else
        {
            // circular splines on the angles: the builder's flow with its periodic option, saved as its composed architecture
            var flowRng = new Rng(spec.Seed);
            var flow = spec.Builder switch
            {
                "nsf" => FlowBuilders.NeuralSplineFlow<T>(spec.Features, spec.Layers, spec.Hidden, spec.ResolvedBins, spec.Bound, spec.ContextFeatures, flowRng, periodic: angles),
                "maf-rqs" => FlowBuilders.MafRqs<T>(spec.Features, spec.Layers, spec.Hidden, spec.ResolvedBins, spec.Bound, spec.ContextFeatures, flowRng, periodic: angles),
                _ => throw new ArgumentException($"periodic columns ({string.Join(", ", angles.Select(j => train.Columns[j]))}) need circular splines: use the nsf or maf-rqs builder, not '{spec.Builder}'", nameof(spec)),
            };
            Model = new FlowModel<T>(FlowSpec.Describe(flow, spec.Seed), flow, pipeline, train.Columns, contextPipeline, Options.Embedding, trainContext?.Columns);
        }
        var rng = new Rng(seed);
        TrainingData = Model.MakeTrainingDataOwning(train.ToTensor<T>(), rng, trainContext?.ToTensor<T>(), Weights(trainWeights));
        ValidationData = valEvents is null ? null : Model.MakeTrainingDataOwning(valEvents.ToTensor<T>(), rng, valContext?.ToTensor<T>(), Weights(valWeights));
    }

    /// <summary>The settings of the fit.</summary>
    public FlowFitOptions Options { get; }

    /// <summary>The model being fitted (freshly initialised until <see cref="Fit"/> ran); its preprocessing is fitted.</summary>
    public FlowModel<T> Model { get; }

    /// <summary>The training rows (original units, dequantization noise added, with their weights).</summary>
    public TrainingData<T> TrainingData { get; }

    /// <summary>The validation rows inside the preprocessing's domain, or null (no validation, or none inside).</summary>
    public TrainingData<T>? ValidationData { get; }

    /// <summary>Validation events left out because they lie outside the preprocessing's domain fitted on the training rows.</summary>
    public int ValidationOutsideDomain { get; }

    /// <summary>Receives the trainer's progress reports (every <see cref="TrainingOptions.ReportEverySteps"/> and each epoch's end).</summary>
    public IProgress<TrainingProgress>? Progress { get; set; }

    /// <summary>The objective <see cref="Fit"/> minimises: <see cref="FlowFitOptions.Objective"/>, else the spec's (<see cref="FlowSpec.Objective"/>).</summary>
    public TrainingObjective Objective => Options.Objective ?? Model.Spec.Objective;

    /// <summary>
    /// Trains <see cref="Model"/> by <see cref="Objective"/> — maximum likelihood or flow matching (which needs a flow
    /// ending in a continuous transform) — keeping the best validation epoch's parameters, and records the
    /// history in it. A cancelled run writes the checkpoint (when one is configured) and returns with outcome
    /// <see cref="TrainingOutcome.Cancelled"/>; <paramref name="resumeFrom"/> continues such a run from its checkpoint.
    /// </summary>
    public TrainingHistory Fit(CancellationToken cancellation = default, string? resumeFrom = null)
    {
        // the split is done here, on the tables: the trainer must not split the training rows again
        var options = Options.Training with { ValidationFraction = 0 };
        TrainingLoss<T> loss = Objective == TrainingObjective.FlowMatching
            ? new FlowMatchingLoss<T>(Model.Flow, evaluationBatchSize: options.EvaluationBatchSize)
            : new MaximumLikelihoodLoss<T>(Model.Flow, options.EvaluationBatchSize);
        var history = new TrainingLoop<T>(Model.Flow, options) { Progress = Progress }.Fit(loss, TrainingData, ValidationData, cancellation, resumeFrom);
        Model.History = history;
        return history;
    }

    /// <summary>Mean (weighted) log-likelihood per validation event and its standard error; null without validation rows.</summary>
    public (double Mean, double StandardError)? EvaluateValidation() =>
        ValidationData is null ? null : MaximumLikelihoodTrainer<T>.Evaluate(Model.Flow, ValidationData, Options.Training.EvaluationBatchSize);

    // the table without the weight and context columns, the context columns (null when unconditional) and the weights (null when unweighted)
    private (Table Events, Table? Context, double[]? Weights) SplitOff(Table table, string what)
    {
        string[] context = [.. Options.ContextColumns ?? []];
        string[] apart = Options.WeightColumn is { } w0 ? [w0, .. context] : context;
        if (apart.FirstOrDefault(c => !table.Columns.Contains(c)) is { } missing)
            throw new ArgumentException($"the {what} have no {(missing == Options.WeightColumn ? "weight" : "context")} column '{missing}' (columns: {string.Join(", ", table.Columns)})");
        if (table.Cols == apart.Length)
            throw new ArgumentException($"the {what} have only the weight/context column(s) {string.Join(", ", apart)}: no column is left to model");
        double[]? weights = null;
        if (Options.WeightColumn is { } w)
        {
            int j = Array.IndexOf(table.Columns, w);
            weights = new double[table.Rows];
            for (int r = 0; r < table.Rows; r++)
            {
                weights[r] = table[r, j];
                if (!double.IsFinite(weights[r])) throw new ArgumentException($"the {what}'s weight column '{w}' is {weights[r]} in row {r}: weights must be finite");
            }
        }
        var events = apart.Length == 0 ? table : table.SelectColumns([.. table.Columns.Where(c => !apart.Contains(c))]);
        return (events, context.Length == 0 ? null : table.SelectColumns(context), weights);
    }

    private static double[]? Pick(double[]? values, ReadOnlySpan<int> rows)
    {
        if (values is null) return null;
        var picked = new double[rows.Length];
        for (int i = 0; i < rows.Length; i++) picked[i] = values[rows[i]];
        return picked;
    }

    private static Tensor<T>? Weights(double[]? w) => w is null ? null : Tensor<T>.FromDoubles(w, w.Length);
}
