using System.Numerics;
using NormalizingFlows.Autograd;
using NormalizingFlows.Flows;
using NormalizingFlows.Tensors;
using NormalizingFlows.Transforms;

namespace NormalizingFlows.Training;

/// <summary>
/// Maximum likelihood: the mean negative log-likelihood of the batch under a flow; with per-event weights (some may
/// be negative) −Σ_batch wᵢ log p(xᵢ) / (B·w̄), w̄ the mean weight of the whole training set: an unbiased estimate of
/// the weighted mean NLL whose denominator does not depend on the batch (so batches whose weights nearly cancel
/// cannot blow up the step). Validation score: the (weighted) mean log-likelihood per event.
/// </summary>
public sealed class MaximumLikelihoodLoss<T> : TrainingLoss<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private double _meanWeight = 1;

    /// <summary>Creates the loss of <paramref name="flow"/>.</summary>
    public MaximumLikelihoodLoss(Flow<T> flow, int evaluationBatchSize = 8192)
    {
        Flow = flow ?? throw new ArgumentNullException(nameof(flow));
        ArgumentOutOfRangeException.ThrowIfLessThan(evaluationBatchSize, 1);
        EvaluationBatchSize = evaluationBatchSize;
    }

    /// <summary>The flow whose likelihood is maximised.</summary>
    public Flow<T> Flow { get; }

    /// <summary>Rows per batch when evaluating the validation log-likelihood.</summary>
    public int EvaluationBatchSize { get; }

    /// <inheritdoc/>
    public override void Prepare(TrainingData<T> train, TrainingData<T>? validation)
    {
        _meanWeight = CheckData(Flow, train, validation, "likelihood");
    }

    /// <summary>
    /// Checks the training and validation data against <paramref name="flow"/> (<see cref="CheckFeatures"/>) and returns
    /// the training set's mean weight (1 without weights); zero-sum weights are refused, naming the weighted <paramref name="what"/>.
    /// </summary>
    internal static double CheckData(Flow<T> flow, TrainingData<T> train, TrainingData<T>? validation, string what)
    {
        ArgumentNullException.ThrowIfNull(train);
        CheckFeatures(flow, train, "training data");
        if (validation is not null) CheckFeatures(flow, validation, "validation data");
        double meanWeight = train.WeightSum() / train.Rows;
        if (train.Weights is not null && !(Math.Abs(meanWeight) > 0))
            throw new ArgumentException($"training weights sum to zero: the weighted {what} is undefined");
        return meanWeight;
    }

    /// <inheritdoc/>
    public override Var<T> Compute(TrainingBatch<T> batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        var x = batch.X ?? throw new ArgumentException("maximum likelihood needs data batches", nameof(batch));
        var logProb = Flow.LogProb(ConstantNode<T>.Create(x), batch.Context is null ? null : ConstantNode<T>.Create(batch.Context));
        return batch.Weights is null
            ? Ops.Neg(Ops.Mean(logProb))
            : Ops.ScaleShift(Ops.Sum(Ops.Mul(logProb, ConstantNode<T>.Create(batch.Weights))), -1.0 / (x.Dim(0) * _meanWeight));
    }

    /// <inheritdoc/>
    internal override bool StepKeepsNothing => true;

    /// <inheritdoc/>
    public override double Validate(TrainingData<T> validation) => Evaluate(Flow, validation, EvaluationBatchSize).Mean;

    /// <summary>Finds the first parameter or transform step whose values are not finite on the batch.</summary>
    public override string? Diagnose(TrainingBatch<T> batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        if (FirstNonFiniteParameter(Flow) is { } parameter) return parameter;
        if (batch.X is null) return null;
        using var _ = GradMode.Disable();
        Var<T> h = new(batch.X);
        var ctx = batch.Context is null ? null : new Var<T>(batch.Context);
        if (FirstNonFinite(Flow.Transform, "", ref h, ctx) is { } step) return step;
        if (!TrainingLoop<T>.AllFinite(Flow.Base.LogProb(h, ctx).Value)) return $"base distribution ({TypeNames.Of(Flow.Base)})";
        return null;
    }

    /// <summary>
    /// Runs <paramref name="transform"/> on <paramref name="h"/>, descending into nested composites, and names the first
    /// step whose output or log-determinant is not finite, e.g. "transform step 1.3 (MaskedAutoregressiveTransform)".
    /// </summary>
    private static string? FirstNonFinite(Transform<T> transform, string path, ref Var<T> h, Var<T>? ctx)
    {
        if (transform is CompositeTransform<T> comp)
        {
            for (int i = 0; i < comp.Steps.Count; i++)
                if (FirstNonFinite(comp.Steps[i], path.Length == 0 ? $"{i}" : $"{path}.{i}", ref h, ctx) is { } inner) return inner;
            return null;
        }
        var (y, ld) = transform.Forward(h, ctx);
        if (!TrainingLoop<T>.AllFinite(y.Value) || !TrainingLoop<T>.AllFinite(ld.Value)) return $"transform step {(path.Length == 0 ? "0" : path)} ({TypeNames.Of(transform)})";
        h = y;
        return null;
    }

    /// <summary>Throws an <see cref="ArgumentException"/> when <paramref name="data"/> does not fit <paramref name="flow"/> (columns, context).</summary>
    internal static void CheckFeatures(Flow<T> flow, TrainingData<T> data, string what)
    {
        if (data.X.Dim(1) != flow.Features)
            throw new ArgumentException($"{what} has {data.X.Dim(1)} columns; the flow models {flow.Features}");
        if (flow.ContextFeatures > 0 && (data.Context is null || data.Context.Dim(1) != flow.ContextFeatures))
            throw new ArgumentException($"{what}: the flow is conditional and needs a context of {flow.ContextFeatures} columns" + (data.Context is null ? "" : $", got {data.Context.Dim(1)}"));
    }

    /// <summary>
    /// Mean log-likelihood per event of <paramref name="data"/> (weighted mean when weights are given) and its
    /// standard error, in evaluation mode without gradients, in batches. A NaN log-likelihood throws an
    /// <see cref="InvalidOperationException"/> naming the row (never averaged silently).
    /// </summary>
    public static (double Mean, double StandardError) Evaluate(Flow<T> flow, TrainingData<T> data, int batchSize = 8192)
    {
        ArgumentNullException.ThrowIfNull(flow);
        ArgumentNullException.ThrowIfNull(data);
        data.Validate("evaluation data");
        bool wasTraining = flow.Training;
        flow.Eval();
        try
        {
            int n = data.Rows;
            var lp = new double[n];
            using (GradMode.Disable())
                for (int start = 0; start < n; start += batchSize)
                {
                    using var scope = TensorScope.Begin();
                    int rows = Math.Min(batchSize, n - start);
                    var x = data.X.CopyRows(start, rows);
                    var c = data.Context is null ? null : new Var<T>(data.Context.CopyRows(start, rows));
                    var v = flow.LogProb(new Var<T>(x), c).Value.ReadOnlySpan;
                    for (int i = 0; i < rows; i++)
                    {
                        lp[start + i] = double.CreateTruncating(v[i]);
                        if (double.IsNaN(lp[start + i]))
                            throw new InvalidOperationException($"log p of row {start + i} is NaN: a numerical fault of the model (or NaN in the data)");
                    }
                }
            return WeightedMean(lp, data.Weights?.ToDoubleArray());
        }
        finally
        {
            if (wasTraining) flow.Train();
        }
    }

    /// <summary>Weighted mean and its standard error (√(Σ w²(x − m)²)/Σ w; for unit weights the usual s/√n).</summary>
    internal static (double Mean, double StandardError) WeightedMean(double[] values, double[]? weights)
    {
        int n = values.Length;
        if (n == 0) return (double.NaN, double.NaN);
        double sw = 0, swx = 0;
        for (int i = 0; i < n; i++) { double w = weights?[i] ?? 1; sw += w; swx += w * values[i]; }
        double mean = swx / sw;
        double s2 = 0;
        for (int i = 0; i < n; i++) { double w = weights?[i] ?? 1; s2 += w * w * (values[i] - mean) * (values[i] - mean); }
        double se = weights is null ? Math.Sqrt(s2 / Math.Max(1, n - 1) / n) : Math.Sqrt(s2) / Math.Abs(sw);
        return (mean, se);
    }
}
