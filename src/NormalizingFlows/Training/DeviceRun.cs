using NormalizingFlows.Autograd;
using NormalizingFlows.Flows;
using NormalizingFlows.Nn.Embeddings;
using NormalizingFlows.Optim;
using NormalizingFlows.Tensors;
using NormalizingFlows.Transforms;

namespace NormalizingFlows.Training;

/// <summary>
/// <see cref="TrainingLoop{T}"/>'s side of a run on <see cref="TrainingOptions.Device"/>: refuses by name what the
/// device cannot do, compiles the flow with the optimizer's state, and moves weights, losses and validation scores
/// between the device and the host. Leading steps without trainable parameters (a model's fitted preprocessing) are
/// folded: they run once on the host over the data, the device trains the rest, and their log|det| is added to the
/// losses and validation scores, which therefore are those of the whole flow. Conditional flows train with their
/// context, weighted events with <see cref="MaximumLikelihoodLoss{T}"/>'s weighted loss. A context map without
/// trainable parameters runs once on the host over the contexts; a trainable context embedding (a summary network,
/// after an optional fitted context preprocessing, which runs on the host) is compiled with the flow and trains on
/// the device.
/// </summary>
internal sealed class DeviceRun : ILoopDevice
{
    private readonly IAcceleratedFlow _flow;
    private readonly Flow<float> _host;
    private readonly Adam<float> _adam;
    private readonly Transform<float>? _fixed;
    private readonly double[]? _fixedLogDet;
    private readonly Func<Tensor<float>, Tensor<float>>? _contextMap; // the part of the context map run on the host
    private double _fixedLoss;
    private (object Data, Tensor<float> X, double[]? LogDet, Tensor<float>? Context)? _validation; // the folded validation events, computed once

    private DeviceRun(IAcceleratedFlow flow, Flow<float> host, Adam<float> adam, Transform<float>? fixedSteps, double[]? fixedLogDet, Func<Tensor<float>, Tensor<float>>? contextMap)
    {
        _flow = flow; _host = host; _adam = adam; _fixed = fixedSteps; _fixedLogDet = fixedLogDet; _contextMap = contextMap;
    }

    /// <summary>Null without a device; otherwise the compiled flow with <paramref name="train"/>'s events uploaded.</summary>
    public static ILoopDevice? Start<T>(TrainingOptions options, object model, Optimizer<T> optimizer, TrainingLoss<T> loss, TrainingData<T>? train, TrainingData<T>? validation)
        where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        if (options.Device is not { } device) return null;
        void Refuse(string what, string instead) =>
            throw new NotSupportedException($"TrainingOptions.Device ({device.Name}): {what} is not supported on the device; {instead}");
        if (typeof(T) != typeof(float)) Refuse($"training in {typeof(T).Name}", "train a float flow");
        if (loss is FlowMatchingLoss<float> matching)
        {
            if (!ReferenceEquals(matching.Flow, model)) Refuse("a flow-matching loss of a flow other than the trained model", "train the flow itself");
            if (train is null) Refuse("a loss-driven run (no data)", "train on data");
            if (options.DataParallel is not null) Refuse("DataParallel", "train in one process");
            if (optimizer is not Adam<float> matchingAdam) { Refuse($"the optimizer {optimizer.GetType().Name}", "use Adam or AdamW"); return null; }
            return FlowMatchingDeviceRun.Start(device, options, matching, matchingAdam, (TrainingData<float>)(object)train!, Refuse);
        }
        if (loss is not MaximumLikelihoodLoss<float> likelihood) { Refuse($"the loss {loss.GetType().Name}", "only maximum likelihood and flow matching train on the device"); return null; }
        if (!ReferenceEquals(likelihood.Flow, model)) Refuse("a likelihood of a flow other than the trained model", "train the flow itself");
        if (train is null) Refuse("a loss-driven run (no data)", "train on data");
        if (options.DataParallel is not null) Refuse("DataParallel", "train in one process");
        if (optimizer is not Adam<float> adam) { Refuse($"the optimizer {optimizer.GetType().Name}", "use Adam or AdamW"); return null; }
        var (unwrapped, contextMap) = UnwrapContext(likelihood.Flow);
        var (hostMap, embedding, refused) = SplitMap(contextMap);
        if (refused is not null) Refuse($"the trainable context map {refused}", "use an MLP or sum-pooling embedding (FlowModel's context embedding), or train on the CPU");
        var (fixedSteps, trained) = Split(unwrapped);
        var flow = device.Compile(trained, adam, embedding);
        try
        {
            var data = (TrainingData<float>)(object)train!;
            var (x, logDet) = Fold(fixedSteps, data.X);
            flow.SetTrainingData(x, MapContext(hostMap, data.Context), data.Weights);
            // the folded steps' share of a weighted loss: −Σ_batch w·log|det| / (B·w̄), as MaximumLikelihoodLoss
            if (logDet is not null && data.Weights is { } w)
            {
                double mean = data.WeightSum() / data.Rows;
                var ws = w.ReadOnlySpan;
                for (int i = 0; i < logDet.Length; i++) logDet[i] *= ws[i] / mean;
            }
            return new DeviceRun(flow, trained, adam, fixedSteps, logDet, hostMap);
        }
        catch
        {
            flow.Dispose();
            throw;
        }
    }

    /// <summary>One step on <paramref name="rows"/> (the loss stays on the device).</summary>
    public void Step(ReadOnlySpan<int> rows, long step, double learningRate, double? clipNorm)
    {
        _flow.TrainStep(rows, learningRate, clipNorm);
        if (_fixedLogDet is null) return;
        double sum = 0;
        foreach (int r in rows) sum += _fixedLogDet[r];
        _fixedLoss -= sum / rows.Length;
    }

    /// <summary>
    /// The flow's leading steps without trainable parameters that treat rows independently in training (null: none) and a flow of the rest over the same base
    /// and parameters (the flow itself when nothing is folded).
    /// </summary>
    private static (Transform<float>? Fixed, Flow<float> Trained) Split(Flow<float> flow)
    {
        if (flow.Transform is not CompositeTransform<float> chain) return (null, flow);
        var steps = chain.Steps.ToList();
        int k = 0;
        while (k < steps.Count - 1 && !steps[k].Parameters().Any(p => p.Trainable) && RowWiseInTraining(steps[k])) k++;
        if (k == 0) return (null, flow);
        var fixedSteps = k == 1 ? steps[0] : new CompositeTransform<float>([.. steps.Take(k)]);
        var rest = steps.Count - k == 1 ? steps[k] : new CompositeTransform<float>([.. steps.Skip(k)]);
        return (fixedSteps, new Flow<float>(rest, flow.Base));
    }

    // A folded step runs once, in evaluation mode: only a step that computes each row alone in training too (no batch
    // statistics, no dropout, no initialisation still to run) gives the same values that way.
    internal static bool RowWiseInTraining(Transform<float> step)
    {
        bool training = step.Training;
        step.Train();
        try { return step.IsRowWise(); }
        finally { if (!training) step.Eval(); }
    }

    /// <summary>
    /// A conditional model's context map in front of its flow (a FlowModel's context
    /// preprocessing) and the flow behind it over the same base; (the flow, null) without one. A map without
    /// trainable parameters runs once on the host over the contexts (<see cref="MapContext"/>).
    /// </summary>
    private static (Flow<float> Flow, EmbeddedContextTransform<float>? Map) UnwrapContext(Flow<float> flow)
        => flow.Transform is EmbeddedContextTransform<float> e ? (new Flow<float>(e.Inner, flow.Base), e) : (flow, null);

    /// <summary>
    /// The context map split into what runs once on the host (without trainable parameters: the whole map, or the
    /// leading stage of a staged map, a FlowModel's context preprocessing) and the trainable embedding the device trains with the flow; a trainable
    /// map of another kind is named in <c>Refused</c>.
    /// </summary>
    internal static (Func<Tensor<float>, Tensor<float>>? Host, ContextEmbedding<float>? Embedding, string? Refused) SplitMap(EmbeddedContextTransform<float>? map)
    {
        if (map is null) return (null, null, null);
        if (!map.Map.Parameters().Any(p => p.Trainable)) return (Host(map.MapContext), null, null);
        return map.Map switch
        {
            ContextEmbedding<float> e => (null, e, null),
            IStagedContextMap<float> { Embedding: { } e } staged when staged.Leading is null || !staged.Leading.Parameters().Any(p => p.Trainable)
                => (staged.Leading is null ? null : Host(staged.ApplyLeading), e, null),
            _ => (null, null, TypeNames.Of(map.Map)),
        };
    }

    // a host map run without gradients on a tensor
    private static Func<Tensor<float>, Tensor<float>> Host(Func<Var<float>, Var<float>> map) => context =>
    {
        using var _ = GradMode.Disable();
        return map(new Var<float>(context)).Value.Clone().Untrack();
    };

    /// <summary>The context through the host's part of the map; the context itself without one.</summary>
    internal static Tensor<float>? MapContext(Func<Tensor<float>, Tensor<float>>? map, Tensor<float>? context)
        => map is null || context is null ? context : map(context);

    /// <summary>x through the folded steps (in evaluation mode, without gradients) and their log|det| per row; x itself when none.</summary>
    internal static (Tensor<float> Y, double[]? LogDet) Fold(Transform<float>? fixedSteps, Tensor<float> x)
    {
        if (fixedSteps is null) return (x, null);
        bool training = fixedSteps.Training;
        fixedSteps.Eval();
        try
        {
            using var _ = GradMode.Disable();
            var (y, ld) = fixedSteps.Forward(new Var<float>(x));
            var logDet = ld.Value.ToDoubleArray();
            for (int i = 0; i < logDet.Length; i++)
                if (!double.IsFinite(logDet[i])) throw new ArgumentException($"row {i} lies outside the domain of the flow's fixed leading steps (log|det| {logDet[i]})");
            return (y.Value.Clone().Untrack(), logDet);
        }
        finally
        {
            if (training) fixedSteps.Train();
        }
    }

    /// <summary>The losses summed since the last call; a non-finite sum is a divergence at <paramref name="step"/>.</summary>
    public double TakeLossSum(long step)
    {
        double sum = _flow.TakeLossSum() + _fixedLoss;
        _fixedLoss = 0;
        return Finite(sum, step, "training loss");
    }

    /// <summary><paramref name="sum"/>, a loss sum read back from the device at <paramref name="step"/>; a non-finite one throws the loop's divergence error naming <paramref name="what"/>.</summary>
    internal static double Finite(double sum, long step, string what) => double.IsFinite(sum) ? sum
        : throw new TrainingDivergedException(step, null, $"the {what} became {sum} by step {step} (read back from the device)",
            "Lower the learning rate, clip gradients harder (TrainingOptions.ClipNorm) or check the data's scale.");

    /// <summary>Writes the device weights (and Adam's state when <paramref name="withOptimizer"/>) into the host flow and optimizer.</summary>
    public void CopyToHost(bool withOptimizer) => _flow.CopyTo(_host, withOptimizer ? _adam : null);

    /// <summary>The (weighted) mean log-likelihood of <paramref name="validation"/>, scored on the device.</summary>
    public double Validate<T>(TrainingData<T> validation) where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        if (_validation is not { } folded || !ReferenceEquals(folded.Data, validation.X))
        {
            var (fx, fld) = Fold(_fixed, (Tensor<float>)(object)validation.X);
            _validation = folded = (validation.X, fx, fld, MapContext(_contextMap, (Tensor<float>?)(object?)validation.Context));
        }
        var (x, logDet) = (folded.X, folded.LogDet);
        var lp = _flow.LogProb(x, folded.Context);
        var values = new double[lp.Length];
        for (int i = 0; i < lp.Length; i++)
        {
            values[i] = lp[i] + (logDet?[i] ?? 0);
            if (double.IsNaN(values[i])) throw new InvalidOperationException($"log p of validation row {i} is NaN on the device: a numerical fault of the model (or NaN in the data)");
        }
        return MaximumLikelihoodLoss<float>.WeightedMean(values, validation.Weights?.ToDoubleArray()).Mean;
    }

    public void Dispose() => _flow.Dispose();
}
