using NormalizingFlows.Nn;
using NormalizingFlows.Transforms.Continuous;

namespace NormalizingFlows.Cuda;

/// <summary>
/// A <see cref="VectorField{T}"/>'s velocity v_θ(x, t, c) on the device for flow matching: the tanh MLP of
/// <see cref="DeviceNetwork"/> whose input is [x, τ(t), c] (its context columns are τ(t) = (t, sin 2πkt, cos 2πkt), k =
/// 1…F, then c; no context at the output), with its parameter gradients and the gradient of c (for a context embedding
/// in front). Layers in the field's parameter order: input, hidden1 … hidden{L−1}, output.
/// </summary>
internal sealed class DeviceFlowMatchingVelocity : IDisposable
{
    private readonly DeviceNetwork _net;
    private readonly DeviceWorkspace _ws; // the context columns [τ(t), c] and their gradient [rows, 1 + 2F + C]
    private readonly DeviceIndex? _contextColumns; // c's columns among them

    public DeviceFlowMatchingVelocity(ComputeDevice dev, VectorField<float> field)
    {
        ArgumentNullException.ThrowIfNull(field);
        Features = field.Features; ContextFeatures = field.ContextFeatures; TimeFrequencies = field.TimeFrequencies;
        int width = 1 + 2 * TimeFrequencies + ContextFeatures;
        var linears = new List<DeviceLinear>();
        try
        {
            foreach (var host in HostLinears(field)) linears.Add(new DeviceLinear(dev, host.Weight, host.Bias, null, "the velocity field"));
            _net = new DeviceNetwork(dev, [.. linears], width, contextAtOutput: false, DeviceActivation.Code(Activation.Tanh));
        }
        catch
        {
            foreach (var l in linears) l.Dispose();
            throw;
        }
        _ws = new DeviceWorkspace(dev, width, width);
        if (ContextFeatures > 0) _contextColumns = new DeviceIndex(dev, Enumerable.Range(1 + 2 * TimeFrequencies, ContextFeatures).ToArray());
    }

    /// <summary>Data features D.</summary>
    public int Features { get; }

    /// <summary>Context features C the field reads (0: none).</summary>
    public int ContextFeatures { get; }

    /// <summary>Time frequencies F.</summary>
    public int TimeFrequencies { get; }

    /// <summary>The linear layers (input, hidden, output).</summary>
    public DeviceLinear[] Linears => _net.Layers;

    /// <summary>The field's linear layers on the host, in <see cref="Linears"/>' order.</summary>
    public static List<DeviceFlowLayers.HostLinear> HostLinears(VectorField<float> field)
    {
        var named = field.NamedChildren().ToDictionary(c => c.Key, c => c.Value);
        DeviceFlowLayers.HostLinear At(string name) => named.GetValueOrDefault(name) is Linear<float> l ? new DeviceFlowLayers.HostLinear(l.Weight, l.Bias, null)
            : throw new NotSupportedException($"flow matching on the device: the velocity field has no linear layer '{name}'");
        return [At("input"), .. Enumerable.Range(1, field.Layers - 1).Select(i => At($"hidden{i}")), At("output")];
    }

    /// <summary>v(x, t, c) [N, D] for x [N, D], the times [N] and the context [N, C] (null without context features); valid until the next call.</summary>
    public DeviceTensor Forward(DeviceTensor x, DeviceTensor time, DeviceTensor? context)
    {
        if ((context is null) != (ContextFeatures == 0)) throw new ArgumentException($"the velocity field reads {ContextFeatures} context features, got {(context is null ? "none" : $"{context.Cols}")}", nameof(context));
        int n = x.Rows;
        _ws.Prepare(n);
        var features = _ws[0];
        if (n > 0) x.Device.Kernels.MatchingTimeFeatures(n, time.View, features.View, features.Cols, TimeFrequencies);
        if (context is not null) DeviceOps.Scatter(context, features, _contextColumns!);
        return _net.Forward(x, features);
    }

    /// <summary>The parameter gradients (assigned) from gv [N, D] after <see cref="Forward"/> on x; the context's gradient into <paramref name="gContext"/> [N, C] (assigned) when given.</summary>
    public void Backward(DeviceTensor x, DeviceTensor gv, DeviceTensor? gContext)
    {
        if (gContext is null)
        {
            _net.Backward(x, gv, null);
            return;
        }
        var gFeatures = _ws[1];
        DeviceOps.Fill(gFeatures, 0);
        _net.Backward(x, gv, null, gFeatures);
        DeviceOps.Gather(gFeatures, gContext, _contextColumns!);
    }

    public void Dispose()
    {
        _net.Dispose();
        _ws.Dispose();
        _contextColumns?.Dispose();
    }
}
