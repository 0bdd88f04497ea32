using NormalizingFlows.Flows;
using NormalizingFlows.Optim;
using NormalizingFlows.Tensors;

namespace NormalizingFlows.Training;

/// <summary>
/// <see cref="TrainingLoop{T}"/>'s side of a run on <see cref="TrainingOptions.Device"/>: refuses by name what the
/// device cannot do, compiles the flow with the optimizer's state, and moves weights, losses and validation scores
/// between the device and the host.
/// </summary>
internal sealed class DeviceRun : IDisposable
{
    private readonly IAcceleratedFlow _flow;
    private readonly Flow<float> _host;
    private readonly Adam<float> _adam;

    private DeviceRun(IAcceleratedFlow flow, Flow<float> host, Adam<float> adam)
    {
        _flow = flow; _host = host; _adam = adam;
    }

    /// <summary>Null without a device; otherwise the compiled flow with <paramref name="train"/>'s events uploaded.</summary>
    public static DeviceRun? Start<T>(TrainingOptions options, object model, Optimizer<T> optimizer, TrainingLoss<T> loss, TrainingData<T>? train, TrainingData<T>? validation)
        where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        if (options.Device is not { } device) return null;
        void Refuse(string what, string instead) =>
            throw new NotSupportedException($"TrainingOptions.Device ({device.Name}): {what} is not supported on the device; {instead}");
        if (typeof(T) != typeof(float)) Refuse($"training in {typeof(T).Name}", "train a float flow");
        if (loss is not MaximumLikelihoodLoss<float> likelihood) { Refuse($"the loss {loss.GetType().Name}", "only maximum likelihood trains on the device"); return null; }
        if (!ReferenceEquals(likelihood.Flow, model)) Refuse("a likelihood of a flow other than the trained model", "train the flow itself");
        if (train is null) Refuse("a loss-driven run (no data)", "train on data");
        if (options.WeightDecay > 0) Refuse("WeightDecay", "set TrainingOptions.WeightDecay = 0");
        if (options.DataParallel is not null) Refuse("DataParallel", "train in one process");
        if (optimizer is not Adam<float> { WeightDecay: 0, Decoupled: false } adam) { Refuse($"the optimizer {optimizer.GetType().Name}", "use the default Adam"); return null; }
        if (train!.Context is not null || validation?.Context is not null) Refuse("a conditional flow (context columns)", "train it on the CPU");
        if (train.Weights is not null) Refuse("weighted training events (TrainingData.Weights)", "train on unweighted events or on the CPU");
        var flow = device.Compile(likelihood.Flow, adam);
        try
        {
            flow.SetTrainingData((Tensor<float>)(object)train.X);
            return new DeviceRun(flow, likelihood.Flow, adam);
        }
        catch
        {
            flow.Dispose();
            throw;
        }
    }

    /// <summary>One step on <paramref name="rows"/> (the loss stays on the device).</summary>
    public void Step(ReadOnlySpan<int> rows, double learningRate, double? clipNorm) => _flow.TrainStep(rows, learningRate, clipNorm);

    /// <summary>The losses summed since the last call; a non-finite sum is a divergence at <paramref name="step"/>.</summary>
    public double TakeLossSum(long step)
    {
        double sum = _flow.TakeLossSum();
        if (!double.IsFinite(sum))
            throw new TrainingDivergedException(step, null, $"the training loss became {sum} by step {step} (read back from the device)",
                "Lower the learning rate, clip gradients harder (TrainingOptions.ClipNorm) or check the data's scale.");
        return sum;
    }

    /// <summary>Writes the device weights (and Adam's state when <paramref name="withOptimizer"/>) into the host flow and optimizer.</summary>
    public void CopyToHost(bool withOptimizer) => _flow.CopyTo(_host, withOptimizer ? _adam : null);

    /// <summary>The (weighted) mean log-likelihood of <paramref name="validation"/>, scored on the device.</summary>
    public double Validate<T>(TrainingData<T> validation) where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        var lp = _flow.LogProb((Tensor<float>)(object)validation.X);
        var values = new double[lp.Length];
        for (int i = 0; i < lp.Length; i++)
        {
            values[i] = lp[i];
            if (double.IsNaN(values[i])) throw new InvalidOperationException($"log p of validation row {i} is NaN on the device: a numerical fault of the model (or NaN in the data)");
        }
        return MaximumLikelihoodLoss<float>.WeightedMean(values, validation.Weights?.ToDoubleArray()).Mean;
    }

    public void Dispose() => _flow.Dispose();
}
