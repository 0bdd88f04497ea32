using NormalizingFlows.Autograd;
using NormalizingFlows.Flows;
using NormalizingFlows.Nn.Embeddings;
using NormalizingFlows.Optim;
using NormalizingFlows.Tensors;
using NormalizingFlows.Transforms;
using NormalizingFlows.Transforms.Continuous;

namespace NormalizingFlows.Training;

/// <summary>
/// <see cref="TrainingLoop{T}"/>'s side of a <see cref="FlowMatchingLoss{T}"/> run on <see cref="TrainingOptions.Device"/>:
/// the velocity field (and a trainable context embedding in front of it) compiled there with the optimizer's state,
/// the training events uploaded once in the continuous step's coordinates (the steps before it, fixed preprocessing,
/// run once on the host, as the CPU loss runs them without gradients; a context map without trainable parameters too).
/// Each step's draws come from the step's random stream on the host (<see cref="TrainingBatch{T}.Rng"/>: the times,
/// then the base points, as the CPU loss draws them) and are uploaded with the step, so the device run follows the
/// CPU run; with <see cref="FlowMatchingLoss{T}.DeviceDraws"/> the device draws them itself, keyed by the run's seed
/// and the step (it then no longer follows the CPU run). Validation scores on the device: the continuous flow's log-density by its ODE and trace (as
/// <see cref="FlowMatchingLoss{T}.Validate"/> does on the host), plus the fixed steps' log|det| (computed once on the
/// host), so the scores are the whole flow's.
/// </summary>
internal sealed class FlowMatchingDeviceRun : ILoopDevice
{
    private readonly IAcceleratedFlowMatching _device;
    private readonly FlowMatchingLoss<float> _loss;
    private readonly Flow<float> _continuous; // the continuous step over the base: the flow the device trains
    private readonly Transform<float>? _fixed;
    private readonly Func<Tensor<float>, Tensor<float>>? _contextMap; // the part of the context map run on the host
    private readonly bool _conditional;
    private readonly Adam<float> _adam;
    private readonly long _seed;
    private (object Data, Tensor<float> X, double[]? LogDet, Tensor<float>? Context)? _validation; // the folded validation events, computed once

    private FlowMatchingDeviceRun(IAcceleratedFlowMatching device, FlowMatchingLoss<float> loss, Flow<float> continuous, Transform<float>? fixedSteps,
        Func<Tensor<float>, Tensor<float>>? contextMap, bool conditional, Adam<float> adam, long seed)
    {
        _device = device; _loss = loss; _continuous = continuous; _fixed = fixedSteps; _contextMap = contextMap; _conditional = conditional; _adam = adam; _seed = seed;
    }

    /// <summary>Compiles <paramref name="loss"/>'s velocity field on <paramref name="device"/> and uploads <paramref name="train"/>; <paramref name="refuse"/> throws for what the device cannot run.</summary>
    public static FlowMatchingDeviceRun Start(IFlowAccelerator device, TrainingOptions options, FlowMatchingLoss<float> loss, Adam<float> adam, TrainingData<float> train,
        Action<string, string> refuse)
    {
        var flow = loss.Flow;
        // the path FlowMatchingLoss walks to its continuous step: a context map in front, then composites' leading steps (fixed)
        Transform<float> step = flow.Transform;
        EmbeddedContextTransform<float>? map = null;
        var leading = new List<Transform<float>>();
        while (step is not ContinuousTransform<float>)
        {
            switch (step)
            {
                case EmbeddedContextTransform<float> e when map is null && leading.Count == 0:
                    map = e; step = e.Inner;
                    break;
                case EmbeddedContextTransform<float> e:
                    refuse($"flow matching with a context map ({TypeNames.Of(e.Map)}) inside the flow", "put the context map in front of the whole flow (as FlowModel does)");
                    return null!;
                case CompositeTransform<float> c:
                    leading.AddRange(c.Steps.Take(c.Steps.Count - 1));
                    step = c.Steps[^1];
                    break;
                default:
                    refuse($"flow matching through {TypeNames.Of(step)}", "train on the CPU");
                    return null!;
            }
        }
        var continuous = (ContinuousTransform<float>)step;
        var field = continuous.Field;
        for (int i = 0; i < leading.Count; i++)
        {
            if (leading[i].ContextFeatures > 0) refuse($"flow matching after a conditional step ({TypeNames.Of(leading[i])}) before the continuous one", "train on the CPU");
            if (!DeviceRun.RowWiseInTraining(leading[i])) refuse($"flow matching after a step that couples the rows of a batch ({TypeNames.Of(leading[i])}) before the continuous one", "train on the CPU");
        }
        if (flow.Base.ContextFeatures > 0) refuse($"flow matching with a conditional base distribution ({TypeNames.Of(flow.Base)})", "use an unconditional base (e.g. StandardNormal)");
        if (loss.DeviceDraws && flow.Base is not Distributions.StandardNormal<float>)
            refuse($"flow matching's device draws (FlowMatchingLoss.DeviceDraws) from the base distribution {TypeNames.Of(flow.Base)}", "use the standard-normal base, or leave DeviceDraws off (host draws)");
        var (hostMap, embedding, refused) = DeviceRun.SplitMap(map);
        if (refused is not null) refuse($"the trainable context map {refused}", "use an MLP or sum-pooling embedding (FlowModel's context embedding), or train on the CPU");
        if (embedding is not null && field.ContextFeatures == 0) refuse("a context embedding in front of a velocity field without context features", "give the field context features or drop the embedding");
        var fixedSteps = leading.Count switch { 0 => null, 1 => leading[0], _ => new CompositeTransform<float>([.. leading]) };
        var x = DeviceRun.Fold(fixedSteps, train.X).Y;
        var context = field.ContextFeatures > 0 ? DeviceRun.MapContext(hostMap, train.Context) : null;
        var trained = new Flow<float>(continuous, flow.Base);
        var compiled = device.CompileFlowMatching(trained, loss.SigmaMin, adam, embedding);
        try
        {
            compiled.SetTrainingData(x, context, train.Weights);
            return new FlowMatchingDeviceRun(compiled, loss, trained, fixedSteps, hostMap, field.ContextFeatures > 0, adam, options.Seed);
        }
        catch
        {
            compiled.Dispose();
            throw;
        }
    }

    public void Step(ReadOnlySpan<int> rows, long step, double learningRate, double? clipNorm)
    {
        if (_loss.DeviceDraws)
        {
            _device.Step(rows, _seed, step, learningRate, clipNorm); // drawn on the device: no host work beyond the rows
            return;
        }
        using var scope = TensorScope.Begin(); // the draws are copied to the device before the step returns
        // FlowMatchingLoss's draws from the step's stream: t ~ U(0, 1) per row, then the base points
        var rng = new TrainingBatch<float>(step, _seed, null, null, null, default).Rng;
        int n = rows.Length;
        var time = rng.Uniform<float>([n]);
        Tensor<float> x0;
        using (GradMode.Disable()) x0 = _loss.Flow.Base.Sample(n, rng).Value;
        _device.Step(rows, time, x0, learningRate, clipNorm);
    }

    public double TakeLossSum(long step) => DeviceRun.Finite(_device.TakeLossSum(), step, "flow-matching loss");

    public void CopyToHost(bool withOptimizer) => _device.CopyTo(_continuous, withOptimizer ? _adam : null);

    /// <summary>The (weighted) mean log-likelihood of <paramref name="validation"/>: the continuous flow's scored on the device, the fixed steps' log|det| added.</summary>
    public double Validate<T>(TrainingData<T> validation) where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        if (_validation is not { } folded || !ReferenceEquals(folded.Data, validation.X))
        {
            var (fx, fld) = DeviceRun.Fold(_fixed, (Tensor<float>)(object)validation.X);
            var context = _conditional ? DeviceRun.MapContext(_contextMap, (Tensor<float>?)(object?)validation.Context) : null;
            _validation = folded = (validation.X, fx, fld, context);
        }
        var lp = _device.LogProb(folded.X, folded.Context);
        var values = new double[lp.Length];
        for (int i = 0; i < lp.Length; i++)
        {
            values[i] = lp[i] + (folded.LogDet?[i] ?? 0);
            if (double.IsNaN(values[i])) throw new InvalidOperationException($"log p of validation row {i} is NaN on the device: a numerical fault of the model (or NaN in the data)");
        }
        return MaximumLikelihoodLoss<float>.WeightedMean(values, validation.Weights?.ToDoubleArray()).Mean;
    }

    public void Dispose() => _device.Dispose();
}
