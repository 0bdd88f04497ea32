using NormalizingFlows.Flows;
using NormalizingFlows.Optim;
using NormalizingFlows.Tensors;

namespace NormalizingFlows.Training;

/// <summary>
/// A flow compiled onto an <see cref="IFlowAccelerator"/>: its weights, gradients and Adam state live on the device
/// until <see cref="CopyTo"/> writes them back. Not thread-safe.
/// </summary>
public interface IAcceleratedFlow : IDisposable
{
    /// <summary>Uploads the training events x [N, D] once; <see cref="TrainStep"/> draws its rows from them on the device.</summary>
    void SetTrainingData(Tensor<float> x);

    /// <summary>
    /// One maximum-likelihood Adam step on <paramref name="rows"/> of the training data (in that order) with
    /// <paramref name="learningRate"/>, the gradients clipped to the global norm <paramref name="clipNorm"/> when given
    /// (as <see cref="GradientClipping"/> does). The loss stays on the device, summed for <see cref="TakeLossSum"/>.
    /// </summary>
    void TrainStep(ReadOnlySpan<int> rows, double learningRate, double? clipNorm);

    /// <summary>The sum of the losses of the steps since the last call (reads it back: waits for the device).</summary>
    double TakeLossSum();

    /// <summary>log p(x) per row of x [N, D], computed on the device.</summary>
    float[] LogProb(Tensor<float> x);

    /// <summary><paramref name="n"/> samples [n, D] drawn on the device from <paramref name="seed"/>.</summary>
    Tensor<float> Sample(int n, long seed);

    /// <summary>Writes the device weights into <paramref name="flow"/> (the flow compiled from), and Adam's state into <paramref name="optimizer"/> when given.</summary>
    void CopyTo(Flow<float> flow, Adam<float>? optimizer = null);
}
