using NormalizingFlows.Autograd;
using NormalizingFlows.Cuda;
using NormalizingFlows.Data;
using NormalizingFlows.Models;
using NormalizingFlows.Tensors;
using NormalizingFlows.Transforms;

namespace NormalizingFlows.Cli;

/// <summary>
/// A trained float32 model for <c>sample</c>, <c>logprob</c>, <c>eval</c> and <c>infer sample|calibrate</c> with
/// <c>--device</c>: its preprocessing runs on the host, its flow on the device (<see cref="DeviceFlow"/>). A
/// conditional model's context goes through its context preprocessing on the host, then through its context
/// embedding (summary network), if any, and the flow on the device. Samples stream in blocks through buffers reused from block to block (<see cref="Source"/>), so
/// device memory stays bounded whatever the count. Float64 models are refused.
/// </summary>
internal sealed class DeviceModel : IDisposable
{
    private readonly FlowModel<float> _model;
    private readonly ComputeDevice _device;
    private readonly DeviceFlow _flow;
    private readonly DeviceWorkspace _block; // a sample block and its mapped context [rows, ·], kept for the next block

    private DeviceModel(FlowModel<float> model, ComputeDevice device, DeviceFlow flow)
    {
        _model = model; _device = device; _flow = flow;
        _block = new DeviceWorkspace(device, flow.Features, Math.Max(1, flow.ContextFeatures));
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
            return new DeviceModel(m, dev, DeviceOption.Refusing(device, () => DeviceFlow.Compile(m.Inner, dev, m.Embedding)));
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
        return LogProb(x, Context(context, events.Rows, perRow: 1));
    }

    /// <summary>
    /// log p per row of <paramref name="x"/> [N, D] in original units given its row of the <paramref name="context"/>
    /// [N, C] in original units (conditional models), with <see cref="FlowModel{T}.LogProb"/>'s rules: −∞ outside the
    /// preprocessing's domain and for far rows (an infinite value, or beyond <see cref="FlowModel{T}.FarLimit"/> after
    /// preprocessing), a NaN input an <see cref="ArgumentException"/> naming its row and column; <paramref name="x"/>
    /// is left as it is.
    /// </summary>
    public double[] LogProb(Tensor<float> x, Tensor<float>? context)
    {
        _model.ValidateInput(x);
        int n = x.Rows, d = x.Cols;
        double limit = _model.FarLimit;
        var logDet = new double[n];
        var input = x;
        if (_model.Preprocessing is { } pre)
        {
            using var _ = GradMode.Disable();
            var (y, ld) = pre.Forward(new Var<float>(x));
            input = y.Value.Clone();
            logDet = ld.Value.ToDoubleArray();
        }
        var outside = new bool[n];
        for (int r = 0; r < n; r++)
        {
            bool inside = double.IsFinite(logDet[r]);
            for (int j = 0; j < d && inside; j++) inside = Math.Abs(input.ReadOnlySpan[r * d + j]) <= limit;
            if (inside) continue;
            if (ReferenceEquals(input, x)) input = x.Clone(); // the caller's rows stay as given
            outside[r] = true;
            input.Span.Slice(r * d, d).Clear(); // outside the domain or far: scored as 0, reported as −∞
        }
        var lp = _flow.LogProb(input, MapContext(context));
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
        => FlowModelTables.Sample(_model, n, Source(seed, Math.Max(1, n), Math.Max(1, n), 0), clamp, context: context);

    /// <summary>
    /// The device's sample stream seeded by <paramref name="seed"/> for <see cref="SampleStream"/>'s blocks: the
    /// rows <paramref name="offset"/> … <paramref name="offset"/> + <paramref name="perRow"/> − 1 of each run of
    /// <paramref name="stride"/> rows, i.e. a shard's share of <paramref name="stride"/> samples per context row
    /// (perRow = stride, offset 0: the whole stream, the rows <see cref="DeviceFlow.Sample(int, long, DeviceTensor?)"/>
    /// draws at once). Each block is drawn into the reused device buffers and downloaded once; its log p is one
    /// device pass over the block as written (after the host's postprocessing).
    /// </summary>
    public ISampleSource<float> Source(long seed, long perRow, long stride, long offset) => new DeviceDraws(this, seed, perRow, stride, offset);

    private sealed class DeviceDraws(DeviceModel owner, long seed, long perRow, long stride, long offset) : ISampleSource<float>
    {
        public Tensor<float> Sample(long start, int rows, Tensor<float>? context, bool clamp)
            => owner.SampleRows(rows, context, new NoiseArgs(seed, start, perRow, stride, offset, owner._flow.Features), clamp);

        public double[] LogProb(Tensor<float> x, Tensor<float>? context) => owner.LogProb(x, context);
    }

    private Tensor<float> SampleRows(int rows, Tensor<float>? context, NoiseArgs noise, bool clamp)
    {
        var c = MapContext(context);
        _block.Prepare(rows);
        if (c is not null) _block[1].CopyFrom(c);
        _flow.Sample(_block[0], c is null ? null : _block[1], noise);
        var x = _block[0].Download();
        if (_model.Preprocessing is not { } pre) return x;
        using (GradMode.Disable()) x = pre.Inverse(new Var<float>(x)).X.Value.Clone(); // into original units, as the full flow's inverse
        pre.Postprocess(x, clamp);
        return x;
    }

    /// <summary>
    /// The context in original units for <paramref name="rows"/> rows (row i reads context row i / <paramref name="perRow"/>,
    /// or its only row); null for an unconditional model.
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
        return c;
    }

    /// <summary>
    /// The device flow's context: <paramref name="context"/> (original units) through the model's context
    /// preprocessing on the host (the embedding, if any, runs on the device).
    /// </summary>
    private Tensor<float>? MapContext(Tensor<float>? context)
    {
        if (_model.ContextFeatures == 0)
        {
            if (context is not null) throw new ArgumentException("the model is unconditional: it takes no context");
            return null;
        }
        if (context is null) throw new ArgumentException($"the model is conditional on ({string.Join(", ", _model.ContextColumns)}): give a context");
        if (_model.Flow.Transform is not EmbeddedContextTransform<float> map) return context;
        using var _ = GradMode.Disable();
        if (_model.Embedding is not null)
            return _model.ContextPreprocessing is { } pre ? pre.Forward(new Var<float>(context)).Y.Value.Clone() : context;
        return map.MapContext(new Var<float>(context)).Value.Clone();
    }

    public void Dispose()
    {
        _block.Dispose();
        _flow.Dispose();
        _device.Dispose();
    }
}
