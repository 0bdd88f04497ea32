using NormalizingFlows.Autograd;
using NormalizingFlows.Optim;
using NormalizingFlows.Tensors;

namespace NormalizingFlows.Cuda;

/// <summary>The scalars of one Adam step exactly as Optim/Adam computes them (bias corrections in double, then float), and Adam's state between host and device.</summary>
internal static class DeviceAdam
{
    /// <summary>
    /// Step <paramref name="step"/> (from 1) with learning rate <paramref name="lr"/> and weight decay
    /// <paramref name="weightDecay"/>: added to the gradient as L2 (Adam), or, <paramref name="decoupled"/>, the weights
    /// shrunk by 1 − lr·wd first (AdamW).
    /// </summary>
    public static AdamArgs Args(double lr, double beta1, double beta2, double eps, long step, double weightDecay = 0, bool decoupled = false)
    {
        double bc1 = 1 - Math.Pow(beta1, step), bc2 = 1 - Math.Pow(beta2, step);
        return new AdamArgs((float)beta1, (float)beta2, (float)(lr / bc1), (float)(1 / Math.Sqrt(bc2)), (float)eps,
            (float)(decoupled ? 0 : weightDecay), (float)(decoupled ? 1 - lr * weightDecay : 1));
    }

    /// <summary>
    /// Copies Adam's moments of the device linears <paramref name="pairs"/> (host weight and bias → device linear) to
    /// <paramref name="optimizer"/> (<paramref name="toHost"/>, with the step count <paramref name="deviceSteps"/>) or
    /// from it; the optimizer must hold exactly these weights and biases, all at one step count. Returns the step count
    /// (the optimizer's when copying to the device). <paramref name="owner"/> names the caller in errors.
    /// </summary>
    public static long CopyMoments(IReadOnlyCollection<(DeviceFlowLayers.HostLinear Host, DeviceLinear Device)> pairs, Adam<float> optimizer,
        long deviceSteps, bool toHost, string owner, IReadOnlyCollection<(Parameter<float> Host, DeviceParameter Device)>? parameters = null)
    {
        parameters ??= [];
        var index = new Dictionary<Parameter<float>, int>(ReferenceEqualityComparer.Instance);
        for (int i = 0; i < optimizer.Parameters.Count; i++) index[optimizer.Parameters[i]] = i;
        var state = optimizer.ExportState();
        if (pairs.Count * 2 + parameters.Count != index.Count)
            throw new NotSupportedException($"{owner}: the optimizer has {index.Count} parameters, the device trains {pairs.Count * 2 + parameters.Count} (the linear layers' weights and biases{(parameters.Count > 0 ? ", the other layers' parameters" : "")})");
        int At(Parameter<float> p) => index.TryGetValue(p, out int i) ? i
            : throw new NotSupportedException($"{owner}: a weight of the flow is not among the optimizer's parameters");
        long steps = toHost ? deviceSteps : -1;
        var moments = pairs.Select(p => (Indices: new[] { At(p.Host.Weight), At(p.Host.Bias!) }, Copy: (Action<int[]>)(i =>
                p.Device.CopyMoments(state[$"{i[0]}.exp_avg"], state[$"{i[0]}.exp_avg_sq"], state[$"{i[1]}.exp_avg"], state[$"{i[1]}.exp_avg_sq"], toHost))))
            .Concat(parameters.Select(p => (Indices: new[] { At(p.Host) }, Copy: (Action<int[]>)(i => p.Device.CopyMoments(state[$"{i[0]}.exp_avg"], state[$"{i[0]}.exp_avg_sq"], toHost)))));
        foreach (var (indices, copy) in moments)
        {
            copy(indices);
            foreach (int i in indices)
            {
                if (toHost) state[$"{i}.step"] = Tensor<float>.Scalar((float)steps).Untrack();
                else
                {
                    long s = (long)state[$"{i}.step"][0];
                    if (steps >= 0 && s != steps) throw new NotSupportedException($"{owner}: the optimizer's parameters took different numbers of steps ({steps}, {s}); the device keeps one count");
                    steps = s;
                }
            }
        }
        if (toHost)
        {
            state["step"] = Tensor<float>.Scalar((float)steps).Untrack();
            optimizer.ImportState(state);
        }
        return Math.Max(steps, 0);
    }
}

/// <summary>
/// The device buffers of an Adam step over a set of linears: the step's scalars (<see cref="AdamArgs"/>' layout, read
/// by the Adam and clip kernels, so that the step's other launches do not change from step to step), and the global-norm
/// clip's sum of squares and factor (allocated at the first clipped step).
/// </summary>
internal sealed class DeviceAdamStep(ComputeDevice device) : IDisposable
{
    private DeviceTensor? _squares, _clip;

    /// <summary>The step's scalars on the device.</summary>
    public DeviceTensor Scalars { get; } = DeviceTensor.Zeros(device, AdamArgs.Count);

    /// <summary>Σ g² of the last clipped step or <see cref="SumOfSquares"/> (null before either).</summary>
    public DeviceTensor? GradientSquares => _squares;

    /// <summary>Writes the step's scalars (one tiny launch): <paramref name="args"/> and the clip norm (+∞ without a clip).</summary>
    public void WriteScalars(AdamArgs args, double? clipNorm) =>
        DeviceOps.SetAdamScalars(Scalars, args, clipNorm is { } maxNorm ? (float)maxNorm : float.PositiveInfinity);

    /// <summary>
    /// Clips the gradients of <paramref name="linears"/> and <paramref name="parameters"/> (a layer's own, outside
    /// networks) to the global norm of the scalars when <paramref name="clip"/>, then Adam on each.
    /// </summary>
    public void Apply(IEnumerable<DeviceLinear> linears, bool clip, IReadOnlyList<DeviceParameter>? parameters = null)
    {
        parameters ??= [];
        DeviceTensor? scale = null;
        if (clip)
        {
            _squares ??= DeviceTensor.Zeros(device, 1);
            scale = _clip ??= DeviceTensor.Zeros(device, 1);
            DeviceOps.Fill(_squares, 0);
            foreach (var linear in linears) linear.AddGradientSquares(_squares);
            foreach (var p in parameters) p.AddGradientSquares(_squares);
            DeviceOps.ClipScale(_squares, scale, Scalars);
        }
        foreach (var linear in linears) linear.Step(Scalars, scale);
        foreach (var p in parameters) p.Step(Scalars, scale);
    }

    /// <summary>Σ g² of the gradients of <paramref name="linears"/> and <paramref name="parameters"/> (summed on the device in float, read back).</summary>
    public double SumOfSquares(IEnumerable<DeviceLinear> linears, IReadOnlyList<DeviceParameter> parameters)
    {
        _squares ??= DeviceTensor.Zeros(device, 1);
        DeviceOps.Fill(_squares, 0);
        foreach (var linear in linears) linear.AddGradientSquares(_squares);
        foreach (var p in parameters) p.AddGradientSquares(_squares);
        return _squares.Download().ReadOnlySpan[0];
    }

    /// <summary>Adam on each of <paramref name="linears"/> and <paramref name="parameters"/> with the gradients times <paramref name="scale"/> (a clip factor the caller computed).</summary>
    public void Apply(IEnumerable<DeviceLinear> linears, float scale, IReadOnlyList<DeviceParameter> parameters)
    {
        _clip ??= DeviceTensor.Zeros(device, 1);
        DeviceOps.Fill(_clip, scale);
        foreach (var linear in linears) linear.Step(Scalars, _clip);
        foreach (var p in parameters) p.Step(Scalars, _clip);
    }

    public void Dispose()
    {
        Scalars.Dispose();
        _squares?.Dispose();
        _clip?.Dispose();
    }
}
