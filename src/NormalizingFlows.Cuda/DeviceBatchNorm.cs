using ILGPU;
using ILGPU.Runtime;
using NormalizingFlows.Nn;
using NormalizingFlows.Transforms;

namespace NormalizingFlows.Cuda;

/// <summary>
/// The device state and launches shared by both kinds of batch normalisation (<see cref="BatchNormKernels"/>): the
/// trainable scale and shift as <see cref="DeviceParameter"/>s, the running mean and variance (device tensors, updated
/// by every training forward on the device, so that a replayed step graph updates them too) and the mean and
/// 1/√(var + ε) the last forward used (in double, for its backward). <see cref="Training"/> is set by the flow before
/// each pass: a training step's forward uses the batch's statistics, scoring, sampling and validation the running ones.
/// </summary>
internal sealed class DeviceBatchStatistics : IDisposable
{
    private readonly MemoryBuffer1D<double, Stride1D.Dense> _mean, _inv;
    private readonly int _kind;    // BatchNormKernels.Layer for BatchNorm1d, else 0
    private int _lastMode;         // the mode of the last forward, for its backward
    private readonly DeviceTensor? _tracked; // BatchNorm1d's num_batches_tracked, counted on the device

    public DeviceBatchStatistics(ComputeDevice dev, Autograd.Parameter<float> scale, Autograd.Parameter<float> shift, Tensors.Tensor<float> runningMean,
        Tensors.Tensor<float> runningVar, double momentum, double eps, bool layer)
    {
        Features = runningMean.Length;
        Momentum = momentum;
        Eps = eps;
        _kind = layer ? BatchNormKernels.Layer : 0;
        Scale = new DeviceParameter(dev, scale);
        Shift = new DeviceParameter(dev, shift);
        RunningMean = DeviceTensor.Upload(dev, runningMean);
        RunningVar = DeviceTensor.Upload(dev, runningVar);
        _mean = dev.Accelerator.Allocate1D<double>(Features);
        _inv = dev.Accelerator.Allocate1D<double>(Features);
        if (layer) _tracked = DeviceTensor.Zeros(dev, 1);
    }

    /// <summary>Nn/BatchNorm1d's state on the device (its weight and bias, running mean and unbiased variance, batches tracked).</summary>
    public static DeviceBatchStatistics Of(ComputeDevice dev, BatchNorm1d<float> host)
    {
        if (host.Weight is null || host.Bias is null)
            throw new NotSupportedException("DeviceFlow: a BatchNorm1d without affine parameters is not supported on the device");
        var s = new DeviceBatchStatistics(dev, host.Weight, host.Bias, host.RunningMean, host.RunningVar, host.Momentum, host.Eps, layer: true);
        s._tracked!.CopyFrom(host.BatchesTracked.ReadOnlySpan);
        return s;
    }

    public int Features { get; }
    public double Momentum { get; }
    public double Eps { get; }

    /// <summary>γ (the transform's log-scale, BatchNorm1d's weight) [D].</summary>
    public DeviceParameter Scale { get; }

    /// <summary>β [D].</summary>
    public DeviceParameter Shift { get; }

    public DeviceTensor RunningMean { get; }
    public DeviceTensor RunningVar { get; }

    /// <summary>Training mode (batch statistics) for the next forward; false: the running averages (evaluation).</summary>
    public bool Training { get; set; }

    /// <summary>y from x [N, D] in the current mode (training: the batch statistics, the running averages updated).</summary>
    public void Forward(DeviceTensor x, DeviceTensor y)
    {
        var k = x.Device.Kernels;
        _lastMode = _kind | (Training ? BatchNormKernels.Training : 0);
        if (_tracked is not null && Training && x.Rows < 2)
            throw new ArgumentException($"BatchNorm1d in training needs more than one row per batch, got {x.Rows}");
        if (x.Rows == 0) return;
        if (_tracked is not null && Training) k.AddScalar(1, _tracked.View, x.Device.Ones(1).View);
        k.BatchNormStats(Features, x.View, _mean.View, _inv.View, RunningMean.View, RunningVar.View, x.Rows, Features, _lastMode, Momentum, Eps);
        k.BatchNormApply((int)x.Length, x.View, _mean.View, _inv.View, Scale.Value.View, Shift.Value.View, y.View, Features, _lastMode);
    }

    /// <summary>logDet[r] += Σ_j (γ_j + log inv_j) (the transform, after <see cref="Forward"/>).</summary>
    public void AddLogDet(DeviceTensor logDet)
    {
        if (logDet.Length > 0) logDet.Device.Kernels.BatchNormLogDet((int)logDet.Length, _inv.View, Scale.Value.View, logDet.View, Features);
    }

    /// <summary>gx and the parameters' gradients (assigned) from gy (and the transform's per-row log-det gradient gld) after a <see cref="Forward"/> of x.</summary>
    public void Backward(DeviceTensor x, DeviceTensor gy, DeviceTensor? gld, DeviceTensor gx)
    {
        if (x.Rows == 0)
        {
            DeviceOps.Fill(Scale.Grad, 0);
            DeviceOps.Fill(Shift.Grad, 0);
            return;
        }
        x.Device.Kernels.BatchNormBackward(Features, x.View, gy.View, (gld ?? gy).View, _mean.View, _inv.View, Scale.Value.View, gx.View, Scale.Grad.View, Shift.Grad.View,
            x.Rows, Features, _lastMode);
    }

    /// <summary>Writes the running averages into the host's buffers (the parameters go through <see cref="DeviceParameterLayers.Pairs"/>).</summary>
    public void CopyRunningTo(Tensors.Tensor<float> runningMean, Tensors.Tensor<float> runningVar)
    {
        RunningMean.CopyTo(runningMean.Span);
        RunningVar.CopyTo(runningVar.Span);
    }

    /// <summary>Writes the running averages and the batches tracked into <paramref name="host"/> (its weight and bias go through the parameter pairs).</summary>
    public void CopyTo(BatchNorm1d<float> host)
    {
        CopyRunningTo(host.RunningMean, host.RunningVar);
        _tracked?.CopyTo(host.BatchesTracked.Span);
    }

    public void Dispose()
    {
        _tracked?.Dispose();
        Scale.Dispose(); Shift.Dispose();
        RunningMean.Dispose(); RunningVar.Dispose();
        _mean.Dispose(); _inv.Dispose();
    }
}

/// <summary>
/// Batch normalisation as a flow layer on the device (Transforms/BatchNormTransform): y = (x − μ)·inv·exp(γ) + β,
/// log|det| = Σ_j (γ_j + log inv_j) per row with inv = 1/√(σ² + ε). In a training step μ and σ² are the batch's mean
/// and biased variance (the backward differentiates through them, the log|det|'s dependence on σ² included) and the
/// running averages are updated r ← (1 − momentum)·r + momentum·batch; scoring, sampling and validation use the running
/// averages (the CPU's evaluation mode). The inverse always uses the running averages, as the host's.
/// </summary>
internal sealed class DeviceBatchNorm : IDeviceLayer
{
    private readonly DeviceBatchStatistics _stats;

    public DeviceBatchNorm(ComputeDevice dev, BatchNormTransform<float> host)
        => _stats = new DeviceBatchStatistics(dev, host.LogGamma, host.Beta, host.RunningMean, host.RunningVar, host.Momentum, host.Eps, layer: false);

    /// <summary>Training mode (batch statistics) for the next forward; false: evaluation (running averages).</summary>
    public bool Training { get => _stats.Training; set => _stats.Training = value; }

    public DeviceNetwork? Network => null;

    /// <summary>γ (log_gamma), β (beta): the host transform's order.</summary>
    public IReadOnlyList<DeviceParameter> Parameters => [_stats.Scale, _stats.Shift];

    /// <summary>The running mean and variance [D] on the device.</summary>
    internal (DeviceTensor Mean, DeviceTensor Var) Running => (_stats.RunningMean, _stats.RunningVar);

    public void Forward(DeviceTensor x, DeviceTensor? context, DeviceTensor y, DeviceTensor logDet)
    {
        _stats.Forward(x, y);
        if (x.Rows > 0) _stats.AddLogDet(logDet);
    }

    public void Inverse(DeviceTensor y, DeviceTensor? context, DeviceTensor x, DeviceTensor? logDet = null)
    {
        if (y.Length == 0) return;
        var k = y.Device.Kernels;
        int d = _stats.Features;
        k.BatchNormInverse((int)y.Length, y.View, _stats.RunningMean.View, _stats.RunningVar.View, _stats.Scale.Value.View, _stats.Shift.Value.View, x.View, d, _stats.Eps);
        if (logDet is not null) k.BatchNormInverseLogDet(y.Rows, _stats.RunningVar.View, _stats.Scale.Value.View, logDet.View, d, _stats.Eps);
    }

    public void Backward(DeviceTensor x, DeviceTensor gy, DeviceTensor gld, DeviceTensor gx, DeviceTensor? gContext = null) => _stats.Backward(x, gy, gld, gx);

    /// <summary>Writes the running averages into <paramref name="host"/>'s buffers (its parameters are written with the other layers').</summary>
    public void CopyTo(BatchNormTransform<float> host) => _stats.CopyRunningTo(host.RunningMean, host.RunningVar);

    /// <summary>
    /// Sets every batch norm of <paramref name="layers"/> (flow layers and those in residual conditioners) to training
    /// (a training step's forward) or evaluation mode (scoring, sampling, validation).
    /// </summary>
    internal static void SetTraining(IEnumerable<IDeviceLayer> layers, bool training)
    {
        foreach (var layer in layers)
        {
            if (layer is DeviceBatchNorm b) b.Training = training;
            layer.Network?.SetTraining(training);
        }
    }

    /// <summary>The name of the first batch norm of <paramref name="layers"/> (a flow layer or in a residual conditioner); null without one.</summary>
    internal static string? Find(IEnumerable<IDeviceLayer> layers)
    {
        foreach (var layer in layers)
            if (layer is DeviceBatchNorm) return "BatchNormTransform";
            else if (layer.Network?.BatchNorms.Count > 0) return "BatchNorm1d in a residual conditioner";
        return null;
    }

    public void Dispose() => _stats.Dispose();
}
