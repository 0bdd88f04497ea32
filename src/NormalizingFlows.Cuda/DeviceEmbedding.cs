using NormalizingFlows.Nn;
using NormalizingFlows.Nn.Embeddings;

namespace NormalizingFlows.Cuda;

/// <summary>
/// A trainable context embedding (summary network) on the device, between the context given to a
/// <see cref="DeviceFlow"/> and its conditioners: the MLP embedding (<see cref="MlpEmbedding{T}"/>, a ReLU MLP) or the
/// deep-sets embedding (<see cref="SetEmbedding{T}"/>: each element's features standardised, φ per element, the sum
/// over the present elements, ρ). <see cref="Backward"/> takes the gradient of the output (the conditioners' context
/// gradients summed over the layers) to the parameters; the embedding's input gets none, as on the CPU.
/// </summary>
internal sealed class DeviceEmbedding : IDisposable
{
    private readonly DeviceNetwork _net;          // the MLP; a set's ρ
    private readonly DeviceNetwork? _phi;         // a set's φ
    private readonly DeviceTensor? _mean, _std;   // a set's per-feature standardisation [F]
    private readonly DeviceWorkspace? _elements;  // a set's element features [N·K, F], flags [N·K], φ's gradient [N·K, H]
    private readonly DeviceWorkspace? _pooled;    // a set's pooled φ and its gradient [N, H]
    private readonly int _elementsPerRow;

    private DeviceEmbedding(int inputFeatures, DeviceNetwork net)
    {
        InputFeatures = inputFeatures;
        _net = net;
    }

    private DeviceEmbedding(ComputeDevice dev, SetEmbedding<float> set, DeviceNetwork phi, DeviceNetwork rho) : this(set.InputFeatures, rho)
    {
        _phi = phi;
        _elementsPerRow = set.Elements;
        int hidden = rho.Layers[0].In;
        var buffers = set.NamedBuffers().ToDictionary(b => b.Key, b => b.Value);
        _mean = DeviceTensor.Upload(dev, buffers["feature_mean"]);
        _std = DeviceTensor.Upload(dev, buffers["feature_std"]);
        _elements = new DeviceWorkspace(dev, set.ElementFeatures, DeviceWorkspace.Vector, hidden);
        _pooled = new DeviceWorkspace(dev, hidden, hidden);
    }

    /// <summary>
    /// <paramref name="embedding"/> (its current weights) on <paramref name="dev"/>; another kind than the MLP and
    /// deep-sets embeddings is refused with a <see cref="NotSupportedException"/> naming it.
    /// </summary>
    public static DeviceEmbedding Compile(ContextEmbedding<float> embedding, ComputeDevice dev)
    {
        var nets = Networks(embedding);
        var compiled = new List<DeviceNetwork>();
        try
        {
            foreach (var (name, mlp) in nets) compiled.Add(Network(dev, mlp, $"the {name} of the context embedding {Name(embedding)}"));
            return embedding is SetEmbedding<float> set ? new DeviceEmbedding(dev, set, compiled[0], compiled[1]) : new DeviceEmbedding(embedding.InputFeatures, compiled[0]);
        }
        catch
        {
            foreach (var n in compiled) n.Dispose();
            throw;
        }
    }

    /// <summary>The embedding's linear layers on the host, in the order of <see cref="Linears"/> (a set: φ's, then ρ's).</summary>
    public static List<DeviceFlowLayers.HostLinear> HostLinears(ContextEmbedding<float> embedding)
        => Networks(embedding).SelectMany(n => n.Net.Layers.Select(l => new DeviceFlowLayers.HostLinear(l.Weight, l.Bias, null))).ToList();

    // the embedding's MLPs (any hidden activation) by name, checked
    private static List<(string Name, Mlp<float> Net)> Networks(ContextEmbedding<float> embedding)
    {
        ArgumentNullException.ThrowIfNull(embedding);
        string[] names = embedding switch
        {
            MlpEmbedding<float> => ["net"],
            SetEmbedding<float> => ["phi", "rho"],
            _ => throw new NotSupportedException($"DeviceFlow: the context embedding {Name(embedding)} is not supported (the MLP and sum-pooling embeddings are)"),
        };
        var children = embedding.NamedChildren().ToDictionary(c => c.Key, c => c.Value);
        var nets = new List<(string, Mlp<float>)>();
        foreach (var name in names)
        {
            if (children.GetValueOrDefault(name) is not Mlp<float> mlp) throw new NotSupportedException($"DeviceFlow: the context embedding {Name(embedding)} has no MLP '{name}'");
            if (mlp.NamedChildren().Any(c => c.Key == "dropout")) throw new NotSupportedException($"DeviceFlow: the {name} of the context embedding {Name(embedding)} has dropout (not supported)");
            nets.Add((name, mlp));
        }
        return nets;
    }

    private static DeviceNetwork Network(ComputeDevice dev, Mlp<float> mlp, string where)
    {
        var linears = new List<DeviceLinear>();
        try
        {
            foreach (var l in mlp.Layers) linears.Add(new DeviceLinear(dev, l.Weight, l.Bias, null, where));
            return new DeviceNetwork(dev, [.. linears], activation: DeviceActivation.Code(mlp.Activation));
        }
        catch
        {
            foreach (var l in linears) l.Dispose();
            throw;
        }
    }

    private static string Name(object o)
    {
        var t = o.GetType();
        return t.IsGenericType ? t.Name[..t.Name.IndexOf('`')] : t.Name;
    }

    /// <summary>Context values per row the embedding reads.</summary>
    public int InputFeatures { get; }

    /// <summary>Features per row it gives the conditioners.</summary>
    public int OutputFeatures => _net.Layers[^1].Out;

    /// <summary>The linear layers it trains (a set: φ's, then ρ's).</summary>
    public IEnumerable<DeviceLinear> Linears => (_phi?.Layers ?? []).Concat(_net.Layers);

    /// <summary>The embedding of the context c [N, in] (valid until the next call); its activations are kept for <see cref="Backward"/>.</summary>
    public DeviceTensor Forward(DeviceTensor c)
    {
        if (_phi is null) return _net.Forward(c, null);
        int n = c.Rows;
        _elements!.Prepare(n * _elementsPerRow);
        _pooled!.Prepare(n);
        DeviceOps.SetInput(c, _elements[0], _elements[1], _mean!, _std!);
        DeviceOps.SumPool(_phi.Forward(_elements[0], null), _elements[1], _pooled[0]);
        return _net.Forward(_pooled[0], null);
    }

    /// <summary>The parameter gradients (assigned) from the output's gradient gOut [N, out], after <see cref="Forward"/> on c.</summary>
    public void Backward(DeviceTensor c, DeviceTensor gOut)
    {
        if (_phi is null)
        {
            _net.Backward(c, gOut, null);
            return;
        }
        _net.Backward(_pooled![0], gOut, _pooled[1]);
        DeviceOps.SumPoolBackward(_pooled[1], _elements![1], _elements[2]);
        _phi.Backward(_elements[0], _elements[2], null);
    }

    public void Dispose()
    {
        _net.Dispose();
        _phi?.Dispose();
        _mean?.Dispose(); _std?.Dispose();
        _elements?.Dispose(); _pooled?.Dispose();
    }
}
