using NormalizingFlows.Autograd;
using NormalizingFlows.Cuda;
using NormalizingFlows.Data;
using NormalizingFlows.Models;
using NormalizingFlows.Tensors;

namespace NormalizingFlows.Cli;

/// <summary>
/// A trained float32 model for <c>sample</c>, <c>logprob</c> and <c>eval</c> with <c>--device</c>: its preprocessing
/// runs on the host, its flow on the device (<see cref="DeviceFlow"/>). Conditional and float64 models are refused.
/// </summary>
internal sealed class DeviceModel : IDisposable
{
    private readonly FlowModel<float> _model;
    private readonly ComputeDevice _device;
    private readonly DeviceFlow _flow;

    private DeviceModel(FlowModel<float> model, ComputeDevice device, DeviceFlow flow)
    {
        _model = model; _device = device; _flow = flow;
        model.Flow.Eval(); // the preprocessing as in FlowModel.LogProb and Sample
    }

    /// <summary>Null for <c>--device cpu</c>; otherwise the model's flow compiled onto the device (errors name the device and the part refused).</summary>
    public static DeviceModel? Open<T>(string device, FlowModel<T> model) where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        if (device == "cpu") return null;
        if (model is not FlowModel<float> m) throw new ArgumentException($"{DeviceOption.Name} {device}: the model is float64; the device computes in float32 (train with --dtype float32)");
        if (m.ContextFeatures > 0) throw new ArgumentException($"{DeviceOption.Name} {device}: conditional models (trained with --context) are not supported on the device yet");
        var dev = DeviceOption.Open(device)!;
        try
        {
            return new DeviceModel(m, dev, DeviceOption.Refusing(device, () => DeviceFlow.Compile(m.Inner, dev)));
        }
        catch
        {
            dev.Dispose();
            throw;
        }
    }

    /// <summary>log p per event in original units: the preprocessing's log|det| on the host plus the flow's on the device; −∞ outside the preprocessing's domain.</summary>
    public double[] LogProb(Table events)
    {
        var x = Tensor<float>.FromDoubles(events.Values.AsSpan(0, events.Rows * events.Cols), events.Rows, events.Cols);
        int n = events.Rows, d = events.Cols;
        var logDet = new double[n];
        if (_model.Preprocessing is { } pre)
        {
            using var _ = GradMode.Disable();
            var (y, ld) = pre.Forward(new Var<float>(x));
            x = y.Value.Clone();
            logDet = ld.Value.ToDoubleArray();
        }
        var xs = x.Span;
        var outside = new bool[n];
        for (int r = 0; r < n; r++)
        {
            bool finite = double.IsFinite(logDet[r]);
            for (int j = 0; j < d && finite; j++) finite = float.IsFinite(xs[r * d + j]);
            if (finite) continue;
            outside[r] = true;
            xs.Slice(r * d, d).Clear(); // scored as 0, reported as −∞
        }
        var lp = _flow.LogProb(x);
        var result = new double[n];
        for (int r = 0; r < n; r++)
        {
            result[r] = outside[r] ? double.NegativeInfinity : lp[r] + logDet[r];
            if (double.IsNaN(result[r])) throw new InvalidOperationException($"log p of row {r} is NaN on the device: a numerical fault of the model");
        }
        return result;
    }

    /// <summary><paramref name="n"/> samples in original units (the device's generator seeded by <paramref name="seed"/>), clamped into the training range when asked.</summary>
    public Table Sample(int n, long seed, bool clamp = false)
    {
        using var z = _flow.Sample(n, seed);
        var x = z.Download();
        _model.Preprocessing?.Postprocess(x, clamp);
        return new Table([.. _model.Columns], x.ToDoubleArray(), n);
    }

    public void Dispose()
    {
        _flow.Dispose();
        _device.Dispose();
    }
}
