using NormalizingFlows.Autograd;
using NormalizingFlows.Distributions;
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
/// CPU run. Validation copies the weights back and scores on the host (the exact log-likelihood by the ODE, as
/// <see cref="FlowMatchingLoss{T}.Validate"/>), since the continuous flow's density does not run on the device.
/// </summary>
internal sealed class FlowMatchingDeviceRun : ILoopDevice
{
    private readonly IAcceleratedFlowMatching _device;
    private readonly FlowMatchingLoss<float> _loss;
    private readonly VectorField<float> _field;
    private readonly ContextEmbedding<float>? _embedding;
    private readonly Adam<float> _adam;
    private readonly long _seed;

    private FlowMatchingDeviceRun(IAcceleratedFlowMatching device, FlowMatchingLoss<float> loss, VectorField<float> field, ContextEmbedding<float>? embedding, Adam<float> adam, long seed)
    {
        _device = device; _loss = loss; _field = field; _embedding = embedding; _adam = adam; _seed = seed;
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
        var field = ((ContinuousTransform<float>)step).Field;
        for (int i = 0; i < leading.Count; i++)
        {
            if (leading[i].ContextFeatures > 0) refuse($"flow matching after a conditional step ({TypeNames.Of(leading[i])}) before the continuous one", "train on the CPU");
            if (!DeviceRun.RowWiseInTraining(leading[i])) refuse($"flow matching after a step that couples the rows of a batch ({TypeNames.Of(leading[i])}) before the continuous one", "train on the CPU");
        }
        if (flow.Base.ContextFeatures > 0) refuse($"flow matching with a conditional base distribution ({TypeNames.Of(flow.Base)})", "use an unconditional base (e.g. StandardNormal)");
        var (hostMap, embedding, refused) = DeviceRun.SplitMap(map);
        if (refused is not null) refuse($"the trainable context map {refused}", "use an MLP or sum-pooling embedding (FlowModel's context embedding), or train on the CPU");
        if (embedding is not null && field.ContextFeatures == 0) refuse("a context embedding in front of a velocity field without context features", "give the field context features or drop the embedding");
        var fixedSteps = leading.Count switch { 0 => null, 1 => leading[0], _ => new CompositeTransform<float>([.. leading]) };
        var x = DeviceRun.Fold(fixedSteps, train.X).Y;
        var context = field.ContextFeatures > 0 ? DeviceRun.MapContext(hostMap, train.Context) : null;
        var compiled = device.CompileFlowMatching(field, loss.SigmaMin, adam, embedding);
        try
        {
            compiled.SetTrainingData(x, context, train.Weights);
            return new FlowMatchingDeviceRun(compiled, loss, field, embedding, adam, options.Seed);
        }
        catch
        {
            compiled.Dispose();
            throw;
        }
    }

    public void Step(ReadOnlySpan<int> rows, long step, double learningRate, double? clipNorm)
    {
        using var scope = TensorScope.Begin(); // the draws are copied to the device before the step returns
        // FlowMatchingLoss's draws from the step's stream: t ~ U(0, 1) per row, then the base points
        var rng = new TrainingBatch<float>(step, _seed, null, null, null, default).Rng;
        int n = rows.Length;
        var time = rng.Uniform<float>([n]);
        Tensor<float> x0;
        using (GradMode.Disable()) x0 = _loss.Flow.Base.Sample(n, rng).Value;
        _device.Step(rows, time, x0, learningRate, clipNorm);
    }

    public double TakeLossSum(long step)
    {
        double sum = _device.TakeLossSum();
        if (!double.IsFinite(sum))
            throw new TrainingDivergedException(step, null, $"the flow-matching loss became {sum} by step {step} (read back from the device)",
                "Lower the learning rate, clip gradients harder (TrainingOptions.ClipNorm) or check the data's scale.");
        return sum;
    }

    public void CopyToHost(bool withOptimizer) => _device.CopyTo(_field, _embedding, withOptimizer ? _adam : null);

    /// <summary>The validation log-likelihood on the host (the device's weights copied back first): the continuous flow's density is an ODE solve the device does not run.</summary>
    public double Validate<T>(TrainingData<T> validation) where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        CopyToHost(withOptimizer: false);
        return _loss.Validate((TrainingData<float>)(object)validation);
    }

    public void Dispose() => _device.Dispose();
}
