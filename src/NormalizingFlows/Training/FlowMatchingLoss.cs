using System.Numerics;
using NormalizingFlows.Autograd;
using NormalizingFlows.Flows;
using NormalizingFlows.Tensors;
using NormalizingFlows.Transforms;
using NormalizingFlows.Transforms.Continuous;

namespace NormalizingFlows.Training;

/// <summary>
/// Conditional flow matching on straight paths (rectified flow / OT-CFM, Lipman et al. 2023, Liu et al. 2023) for a
/// flow whose transform ends in a <see cref="ContinuousTransform{T}"/> (alone, after fixed preprocessing steps, inside a
/// context embedding): per event, in the continuous step's coordinates, t ~ U(0, 1), a base draw x₀ (the
/// flow's base, with the event's context), x_t = (1 − (1 − σ_min)t)·x₀ + t·x₁ with x₁ the event, and the loss
/// ‖v_θ(x_t, t, c) − (x₁ − (1 − σ_min)·x₀)‖² / D, averaged over the batch (weighted like
/// <see cref="MaximumLikelihoodLoss{T}"/>: Σ wᵢℓᵢ / (B·w̄)). No ODE is solved in training. Validation score: the
/// exact mean log-likelihood of the validation events by the ODE and the transform's trace (so early stopping and
/// the history compare with maximum-likelihood flows).
/// </summary>
public sealed class FlowMatchingLoss<T> : TrainingLoss<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly ContinuousTransform<T> _transform;
    private double _meanWeight = 1;

    /// <summary>The loss of <paramref name="flow"/> (its transform must be a <see cref="ContinuousTransform{T}"/>), with path width <paramref name="sigmaMin"/> ≥ 0.</summary>
    public FlowMatchingLoss(Flow<T> flow, double sigmaMin = 0, int evaluationBatchSize = 8192)
    {
        Flow = flow ?? throw new ArgumentNullException(nameof(flow));
        _transform = FindContinuous(flow.Transform)
            ?? throw new ArgumentException($"flow matching trains a continuous flow: the flow's transform ({TypeNames.Of(flow.Transform)}) does not end in a ContinuousTransform (build it with FlowBuilders.ContinuousFlow)", nameof(flow));
        // the loss trains the velocity field (and a context embedding) only: refuse what it would leave untrained
        if (Flow.Base.Parameters().Any(p => p.Trainable))
            throw new ArgumentException($"flow matching trains the velocity field only, but the base distribution ({TypeNames.Of(flow.Base)}) has trainable parameters: use a fixed base (e.g. StandardNormal) or freeze them", nameof(flow));
        if (FirstTrainableStepBefore(flow.Transform) is { } step)
            throw new ArgumentException($"flow matching trains the velocity field only, but {step} before it has trainable parameters: freeze them (fixed preprocessing) or train that part by maximum likelihood", nameof(flow));
        if (!(sigmaMin >= 0 && sigmaMin < 1)) throw new ArgumentOutOfRangeException(nameof(sigmaMin), sigmaMin, "σ_min must lie in [0, 1)");
        ArgumentOutOfRangeException.ThrowIfLessThan(evaluationBatchSize, 1);
        SigmaMin = sigmaMin;
        EvaluationBatchSize = evaluationBatchSize;
    }

    /// <summary>The flow whose velocity field is trained.</summary>
    public Flow<T> Flow { get; }

    /// <summary>σ_min: the width of the conditional paths at the data end (0: rectified flow).</summary>
    public double SigmaMin { get; }

    /// <summary>Rows per batch when evaluating the validation log-likelihood.</summary>
    public int EvaluationBatchSize { get; }

    /// <summary>
    /// Whether a device run (<see cref="TrainingOptions.Device"/>) draws each step's times and base points on the
    /// device, from a counter-based generator keyed by the run's seed and the step, instead of drawing them on the host
    /// from the step's stream and uploading them (the default). It saves the host draws and their copy per step, but
    /// the run no longer follows the CPU run's stream. Needs a <see cref="Distributions.StandardNormal{T}"/> base (the
    /// builders' default); the CPU loss ignores it.
    /// </summary>
    public bool DeviceDraws { get; init; }

    /// <inheritdoc/>
    public override void Prepare(TrainingData<T> train, TrainingData<T>? validation)
    {
        _meanWeight = MaximumLikelihoodLoss<T>.CheckData(Flow, train, validation, "loss");
    }

    /// <inheritdoc/>
    public override Var<T> Compute(TrainingBatch<T> batch) => Compute(batch, null);

    /// <summary>As <see cref="Compute(TrainingBatch{T})"/> with the given times [B] and base points [B, D] instead of the step's draws (tests: the device's draws).</summary>
    internal Var<T> Compute(TrainingBatch<T> batch, (Tensor<T> Time, Tensor<T> X0)? draws)
    {
        ArgumentNullException.ThrowIfNull(batch);
        var events = batch.X ?? throw new ArgumentException("flow matching needs data batches", nameof(batch));
        var (x, context) = ToContinuous(Flow.Transform, new Var<T>(events), batch.Context is null ? null : new Var<T>(batch.Context));
        var x1 = x.Value;
        int n = x1.Dim(0), d = x1.Dim(1);
        Tensor<T> time, x0;
        if (draws is { } given)
        {
            (time, x0) = given;
            if (time.Length != n || x0.Rank != 2 || x0.Dim(0) != n || x0.Dim(1) != d) throw new ArgumentException($"draws for {n} rows of {d} features: got {time.ShapeString} and {x0.ShapeString}", nameof(draws));
        }
        else
        {
            var rng = batch.Rng;
            time = rng.Uniform<T>([n]);
            using (GradMode.Disable()) x0 = Flow.Base.Sample(n, rng, context).Value;
        }
        var xt = Tensor<T>.Empty(n, d);
        var target = Tensor<T>.Empty(n, d);
        var ts = time.ReadOnlySpan; var a = x0.ReadOnlySpan; var b = x1.ReadOnlySpan;
        var xs = xt.Span; var us = target.Span;
        T keep = T.One - T.CreateTruncating(SigmaMin);
        for (int r = 0; r < n; r++)
            for (int j = 0; j < d; j++)
            {
                int i = r * d + j;
                xs[i] = (T.One - keep * ts[r]) * a[i] + ts[r] * b[i];
                us[i] = b[i] - keep * a[i];
            }
        var v = _transform.Field.Evaluate(new Var<T>(xt), time, _transform.ContextFeatures > 0 ? context : null);
        var squared = Ops.Square(Ops.Sub(v, new Var<T>(target)));
        return batch.Weights is null
            ? Ops.Mean(squared)
            : Ops.ScaleShift(Ops.Sum(Ops.Mul(Ops.SumRows(squared), new Var<T>(batch.Weights))), 1.0 / (n * d * _meanWeight));
    }

    /// <summary>The continuous step that ends <paramref name="t"/> (itself, the last step of composites, the inner transform of a context embedding), or null.</summary>
    private static ContinuousTransform<T>? FindContinuous(Transform<T> t) => t switch
    {
        ContinuousTransform<T> c => c,
        CompositeTransform<T> { Steps.Count: > 0 } comp => FindContinuous(comp.Steps[^1]),
        EmbeddedContextTransform<T> e => FindContinuous(e.Inner),
        _ => null,
    };

    /// <summary>"step i (Type)" of the first step before the continuous one, in the path <see cref="ToContinuous"/> walks, with trainable parameters; null if none.</summary>
    private static string? FirstTrainableStepBefore(Transform<T> t) => t switch
    {
        CompositeTransform<T> comp => comp.Steps.Take(comp.Steps.Count - 1)
            .Select((s, i) => s.Parameters().Any(p => p.Trainable) ? $"step {i} ({TypeNames.Of(s)})" : null)
            .FirstOrDefault(s => s is not null) ?? FirstTrainableStepBefore(comp.Steps[^1]),
        EmbeddedContextTransform<T> e => FirstTrainableStepBefore(e.Inner),
        _ => null,
    };

    /// <summary>
    /// The events and context as the continuous step sees them: through the steps before it (fixed preprocessing; its
    /// log-determinant does not enter the matching loss) and through a context embedding (recorded, so it trains).
    /// </summary>
    private static (Var<T> X, Var<T>? Context) ToContinuous(Transform<T> t, Var<T> x, Var<T>? context)
    {
        switch (t)
        {
            case CompositeTransform<T> comp:
                for (int i = 0; i < comp.Steps.Count - 1; i++)
                    using (GradMode.Disable()) x = comp.Steps[i].Forward(x, context).Y;
                return ToContinuous(comp.Steps[^1], x, context);
            case EmbeddedContextTransform<T> e:
                return ToContinuous(e.Inner, x, context is null ? null : e.MapContext(context));
            default:
                return (x, context);
        }
    }

    /// <inheritdoc/>
    public override double Validate(TrainingData<T> validation) => MaximumLikelihoodLoss<T>.Evaluate(Flow, validation, EvaluationBatchSize).Mean;

    /// <summary>The first parameter whose values are not finite.</summary>
    public override string? Diagnose(TrainingBatch<T> batch) => FirstNonFiniteParameter(Flow);
}
