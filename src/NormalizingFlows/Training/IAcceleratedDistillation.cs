using NormalizingFlows.Flows;
using NormalizingFlows.Optim;
using NormalizingFlows.Tensors;

namespace NormalizingFlows.Training;

/// <summary>
/// A density distillation (<see cref="DensityDistillationLoss{T}"/>) compiled onto an <see cref="IFlowAccelerator"/>:
/// the frozen MAF teacher and the IAF student with its gradients and Adam state live on the device until
/// <see cref="CopyTo"/> writes the student back. Not thread-safe.
/// </summary>
public interface IAcceleratedDistillation : IDisposable
{
    /// <summary>Uploads the training events x [N, D] once, with their context [N, C] for a conditional teacher.</summary>
    void SetTrainingData(Tensor<float> x, Tensor<float>? context = null);

    /// <summary>
    /// One Adam step of the student on the six terms of <see cref="DensityDistillationLoss{T}"/>: the x-pass on
    /// <paramref name="rows"/> of the training data (in that order), the z-pass from the base draws
    /// <paramref name="baseDraws"/> [rows, D] (as many as rows; null when the z-pass is off) with the same rows'
    /// context; learning rate <paramref name="learningRate"/>, the gradients clipped to the global norm
    /// <paramref name="clipNorm"/> when given. The terms stay on the device, summed for <see cref="TakeLossSums"/>.
    /// </summary>
    void Step(ReadOnlySpan<int> rows, Tensor<float>? baseDraws, double learningRate, double? clipNorm);

    /// <summary>Each term summed over the steps since the last call (reads them back: waits for the device).</summary>
    DistillationLoss TakeLossSums();

    /// <summary>Writes the device student's weights into <paramref name="student"/> (the flow compiled from), and Adam's state into <paramref name="optimizer"/> when given.</summary>
    void CopyTo(Flow<float> student, Adam<float>? optimizer = null);
}
