namespace NormalizingFlows.Training;

/// <summary>
/// What <see cref="TrainingLoop{T}"/> hands its steps to when they run on a device: <see cref="DeviceRun"/> (maximum
/// likelihood, <see cref="TrainingOptions.Device"/>) or <see cref="DistillationDeviceRun"/> (density distillation,
/// <see cref="DistillationOptions.Device"/>). The losses stay on the device until <see cref="TakeLossSum"/>.
/// </summary>
internal interface ILoopDevice : IDisposable
{
    /// <summary>One optimizer step number <paramref name="step"/> (from 0) on <paramref name="rows"/> of the training data.</summary>
    void Step(ReadOnlySpan<int> rows, long step, double learningRate, double? clipNorm);

    /// <summary>The losses summed since the last call; a non-finite sum is a divergence at <paramref name="step"/>.</summary>
    double TakeLossSum(long step);

    /// <summary>Writes the device weights (and Adam's state when <paramref name="withOptimizer"/>) into the host model and optimizer.</summary>
    void CopyToHost(bool withOptimizer);

    /// <summary>The (weighted) mean log-likelihood of <paramref name="validation"/>, scored on the device.</summary>
    double Validate<T>(TrainingData<T> validation) where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>;
}
