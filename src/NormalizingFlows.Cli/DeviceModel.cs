using NormalizingFlows.Autograd;
using NormalizingFlows.Cuda;
using NormalizingFlows.Data;
using NormalizingFlows.Models;
using NormalizingFlows.Tensors;
using NormalizingFlows.Transforms;

namespace NormalizingFlows.Cli;

/// <summary>
/// A trained float32 model for <c>sample</c>, <c>logprob</c> and <c>eval</c> with <c>--device</c>: its preprocessing
/// runs on the host, its flow on the device (<see cref="DeviceFlow"/>). A conditional model's context goes through
/// its context preprocessing (and embedding) on the host and conditions the flow on the device. Float64 models are
/// refused.
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

    /// <summary>
    /// log p per event in original units (given the <paramref name="context"/> of a conditional model: one row per
    /// event or one for all): the preprocessing's log|det| on the host plus the flow's on the device; −∞ outside the
    /// preprocessing's domain.
    /// </summary>
    public double[] LogProb(Table events, Table? context = null)
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
        var lp = _flow.LogProb(x, Context(context, n, perRow: 1));
        var result = new double[n];
        for (int r = 0; r < n; r++)
        {
            result[r] = outside[r] ? double.NegativeInfinity : lp[r] + logDet[r];
            if (double.IsNaN(result[r])) throw new InvalidOperationException($"log p of row {r} is NaN on the device: a numerical fault of the model");
        }
        return result;
    }

    /// <summary>
    /// <paramref name="n"/> samples in original units (the device's generator seeded by <paramref name="seed"/>),
    /// clamped into the training range when asked; for a conditional model <paramref name="n"/> per row of the
    /// <paramref name="context"/>, ordered by context row, the context columns after the model's (as the CPU's sample).
    /// </summary>
    public Table Sample(int n, long seed, bool clamp = false, Table? context = null)
    {
        long total = (long)n * (context?.Rows ?? 1);
        if (total > Array.MaxLength / Math.Max(1, _model.Features + _model.ContextFeatures))
            throw new ArgumentException($"{n} events for each of {context?.Rows} context rows is more than one table holds; sample in several runs");
        using var c = Context(context, (int)total, perRow: n) is { } host ? DeviceTensor.Upload(_device, host) : null;
        using var z = _flow.Sample((int)total, seed, c);
        var x = z.Download();
        _model.Preprocessing?.Postprocess(x, clamp);
        if (context is null) return new Table([.. _model.Columns], x.ToDoubleArray(), n);
        int d = _model.Features, nc = context.Cols;
        var values = new double[total * (d + nc)];
        var xs = x.ReadOnlySpan;
        for (long r = 0; r < total; r++)
        {
            for (int j = 0; j < d; j++) values[r * (d + nc) + j] = xs[(int)(r * d + j)];
            Array.Copy(context.Values, (context.Rows == 1 ? 0 : r / n) * nc, values, r * (d + nc) + d, nc);
        }
        return new Table([.. _model.Columns, .. _model.ContextColumns], values, (int)total);
    }

    /// <summary>
    /// The flow's context for <paramref name="rows"/> rows (row i reads context row i / <paramref name="perRow"/>, or
    /// its only row) through the model's context preprocessing and embedding; null for an unconditional model.
    /// </summary>
    private Tensor<float>? Context(Table? context, int rows, long perRow)
    {
        if (_model.ContextFeatures == 0)
        {
            if (context is not null) throw new ArgumentException("the model is unconditional: it takes no context");
            return null;
        }
        if (context is null || context.Cols != _model.ContextFeatures) throw new ArgumentException($"the model is conditional on ({string.Join(", ", _model.ContextColumns)}): give a context");
        if (context.Rows != 1 && context.Rows * perRow != rows)
            throw new ArgumentException($"the context has {context.Rows} rows for {rows} events: give one row per event or a single row for all");
        int nc = context.Cols;
        var c = Tensor<float>.Zeros(rows, nc);
        var cs = c.Span;
        for (int r = 0; r < rows; r++)
            for (int j = 0; j < nc; j++) cs[r * nc + j] = (float)context.Values[(context.Rows == 1 ? 0 : r / perRow) * nc + j];
        if (_model.Flow.Transform is not EmbeddedContextTransform<float> map) return c;
        using var _ = GradMode.Disable();
        return map.MapContext(new Var<float>(c)).Value.Clone();
    }

    public void Dispose()
    {
        _flow.Dispose();
        _device.Dispose();
    }
}
