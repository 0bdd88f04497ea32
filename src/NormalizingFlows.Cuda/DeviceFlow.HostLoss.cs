namespace NormalizingFlows.Cuda;

// A loss computed on the host from the flow's log-density: forward here, the loss and its gradient with respect to
// log q there, backward and Adam here (IAcceleratedFlow.ForwardLogProb, BackwardLogProb, ApplyGradients).
public sealed partial class DeviceFlow
{
    /// <summary>
    /// log q(x | context) per row of <paramref name="x"/> [N, D] into <paramref name="logProb"/> [N], keeping the pass
    /// for <see cref="BackwardLogProb"/>: log|det ∂z/∂x| + log p_base(z), a unit-cube base's density taken as 1 (as
    /// <see cref="DivergenceStep"/> does: the points must lie in [0, 1]^D).
    /// </summary>
    internal void ForwardLogProb(DeviceTensor x, DeviceTensor? context, DeviceTensor logProb)
    {
        CheckInput(x, nameof(x), context);
        Check(logProb, nameof(logProb), x.Rows);
        Forward(x, context);
        if (UnitCubeBase) DeviceOps.Scale(logProb, LogDet, 1);
        else BaseLogProb(X(_layers.Count), LogDet, logProb);
    }

    /// <summary>
    /// Backward of the last <see cref="ForwardLogProb"/> (of the same <paramref name="x"/> and <paramref name="context"/>,
    /// nothing run in between) from the upstream gradient ∂L/∂log q_r [N] <paramref name="gradient"/>: every linear's
    /// gradients (assigned, not stepped) and their sum of squares Σ g², returned (read back).
    /// </summary>
    internal double BackwardLogProb(DeviceTensor x, DeviceTensor? context, DeviceTensor gradient)
    {
        if (!Trainable) throw new NotSupportedException(IafTrainingRefusal);
        if (DeviceBatchNorm.Find(_layers) is { } bn) // ForwardLogProb scores with the running averages; a training pass would use the batch's
            throw new NotSupportedException($"DeviceFlow: training with a loss computed on the host (BackwardLogProb) through batch norm ({bn}) is not supported; maximum-likelihood and sampled-divergence steps are");
        if (_dropoutStep is not null) // likewise: ForwardLogProb runs in evaluation mode, the CPU's training pass would drop
            throw new NotSupportedException("DeviceFlow: training with a loss computed on the host (BackwardLogProb) through a conditioner with dropout is not supported; maximum-likelihood and sampled-divergence steps are");
        CheckInput(x, nameof(x), context);
        Check(gradient, nameof(gradient), x.Rows);
        var z = X(_layers.Count);
        // ∂L/∂z = g_r ∂log p_base/∂z: −g_r z_r for the standard normal (0 on periodic columns), 0 for the unit cube
        if (UnitCubeBase) DeviceOps.Fill(GA, 0);
        else DeviceOps.ScaleRows(GA, z, gradient, -1);
        if (_periodic is { } pa) DeviceOps.ZeroPeriodic(GA, pa);
        DeviceOps.Scale(GLogDet, gradient, 1); // ∂L/∂log|det| of every layer
        Backward(x, context);
        return _adam.SumOfSquares(_linears, _parameters);
    }

    /// <summary>
    /// One Adam step with <paramref name="learningRate"/> on the gradients of the last <see cref="BackwardLogProb"/>,
    /// each multiplied by <paramref name="gradientScale"/> first (a global-norm clip factor computed by the caller; 1: none).
    /// </summary>
    internal void ApplyGradients(double learningRate, double gradientScale)
    {
        if (!Trainable) throw new NotSupportedException(IafTrainingRefusal);
        if (!(learningRate >= 0)) throw new ArgumentOutOfRangeException(nameof(learningRate), learningRate, "must be ≥ 0");
        if (!(gradientScale >= 0 && double.IsFinite(gradientScale))) throw new ArgumentOutOfRangeException(nameof(gradientScale), gradientScale, "must be finite and ≥ 0");
        BeginStep(learningRate);
        _adam.Apply(_linears, (float)gradientScale, _parameters);
    }
}
