using NormalizingFlows.Flows;
using NormalizingFlows.Optim;
using NormalizingFlows.Tensors;
using NormalizingFlows.Transforms.Continuous;

namespace NormalizingFlows.Training;

/// <summary>
/// A continuous flow (one <see cref="ContinuousTransform{T}"/> over its base, behind a context embedding when given)
/// compiled onto an <see cref="IFlowAccelerator"/> for <see cref="FlowMatchingLoss{T}"/>'s steps
/// (<see cref="TrainingOptions.Device"/>): weights, gradients and Adam state live on the device until
/// <see cref="CopyTo"/>. Not thread-safe.
/// </summary>
public interface IAcceleratedFlowMatching : IDisposable
{
    /// <summary>
    /// Uploads the training events x₁ [N, D] (in the continuous step's coordinates) once, with their context [N, C]
    /// (the embedding's input when one was compiled) for a conditional field and their weights [N]
    /// (<see cref="TrainingData{T}.Weights"/>: the loss is then weighted as <see cref="FlowMatchingLoss{T}"/>'s).
    /// </summary>
    void SetTrainingData(Tensor<float> x, Tensor<float>? context = null, Tensor<float>? weights = null);

    /// <summary>
    /// One flow-matching Adam step on <paramref name="rows"/> of the training data with the step's draws: the times
    /// <paramref name="time"/> [B] and base points <paramref name="x0"/> [B, D] (one per row, as the CPU loss draws
    /// them); the gradients clipped to the global norm <paramref name="clipNorm"/> when given. The loss stays on the
    /// device, summed for <see cref="TakeLossSum"/>.
    /// </summary>
    void Step(ReadOnlySpan<int> rows, Tensor<float> time, Tensor<float> x0, double learningRate, double? clipNorm);

    /// <summary>
    /// As the other Step, with the draws made on the device (<see cref="FlowMatchingLoss{T}.DeviceDraws"/>): t ~ U(0, 1)
    /// [B] and standard-normal base points [B, D] from a counter-based hash keyed by <paramref name="seed"/> and
    /// <paramref name="step"/> (the same pair gives the same draws; not the CPU loss's stream).
    /// </summary>
    void Step(ReadOnlySpan<int> rows, long seed, long step, double learningRate, double? clipNorm)
        => throw new NotSupportedException($"{GetType().Name} does not draw flow matching's times and base points on the device");

    /// <summary>The sum of the losses of the steps since the last call (reads it back: waits for the device).</summary>
    double TakeLossSum();

    /// <summary>log p(x | context) per row of x [N, D] (context [N, C] for a conditional flow): the ODE and its trace solved on the device (validation).</summary>
    float[] LogProb(Tensor<float> x, Tensor<float>? context = null);

    /// <summary>
    /// Writes the device weights into <paramref name="flow"/> (the flow compiled from) and the context embedding
    /// compiled with it, and Adam's state into <paramref name="optimizer"/> when given.
    /// </summary>
    void CopyTo(Flow<float> flow, Adam<float>? optimizer = null);
}
