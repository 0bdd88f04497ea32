namespace NormalizingFlows.Cuda;

/// <summary>
/// A network of linear layers (an MLP or a MADE) on the device, with its activations kept for the backward: ReLU or
/// another hidden activation (<see cref="DeviceActivation"/>; SiLU and softplus also keep their pre-activations), or a
/// residual network (<see cref="DeviceResidualNetwork"/>, to which the calls go).
/// With context features C the first layer reads [x, context] (Nn/Mlp over [x_a, context], Nn/Made) and, with
/// <c>contextAtOutput</c>, the last layer reads [h, context] too (the MADE's direct context → output path); the
/// context gets no gradient.
/// </summary>
internal sealed class DeviceNetwork : IDisposable
{
    private readonly DeviceWorkspace _h, _gh;
    private readonly int _contextFeatures;
    private readonly int[] _slot;            // per layer: its [input, context] slot in _in/_gin, or −1
    private readonly DeviceWorkspace? _in, _gin;
    private readonly DeviceIndex[] _lead = [], _tail = [];
    private readonly int _activation = DeviceActivation.Relu;
    private readonly DeviceWorkspace? _pre;          // the hidden pre-activations, for an activation whose backward reads them
    private readonly DeviceResidualNetwork? _residual;
    private readonly DeviceDropout? _dropout;        // Nn/Dropout after each hidden layer (before the next layer reads it), in training passes

    /// <summary>
    /// A feed-forward network; <paramref name="activation"/>: the hidden layers' <see cref="DeviceActivation"/> code;
    /// <paramref name="dropout"/>: dropout of each hidden layer's output (as Nn/Mlp and Nn/Made), its places the hidden layers.
    /// </summary>
    public DeviceNetwork(ComputeDevice dev, DeviceLinear[] layers, int contextFeatures = 0, bool contextAtOutput = false, int activation = DeviceActivation.Relu,
        DeviceDropout? dropout = null)
    {
        Layers = layers;
        _dropout = dropout;
        _contextFeatures = contextFeatures;
        _activation = activation;
        _h = new(dev, layers.Select(l => l.Out).ToArray());
        _gh = new(dev, layers.SkipLast(1).Select(l => l.Out).ToArray());
        if (DeviceActivation.NeedsInput(activation)) _pre = new(dev, layers.SkipLast(1).Select(l => l.Out).ToArray());
        _slot = Enumerable.Repeat(-1, layers.Length).ToArray();
        if (contextFeatures == 0) return;
        var withContext = contextAtOutput && layers.Length > 1 ? new[] { 0, layers.Length - 1 } : [0];
        for (int s = 0; s < withContext.Length; s++) _slot[withContext[s]] = s;
        var widths = withContext.Select(l => layers[l].In).ToArray();
        if (widths.Any(w => w <= contextFeatures)) throw new NotSupportedException($"DeviceFlow: a conditioner layer of {widths.Min()} inputs cannot read {contextFeatures} context features besides its own");
        _in = new(dev, widths);
        _gin = new(dev, widths);
        _lead = widths.Select(w => new DeviceIndex(dev, Enumerable.Range(0, w - contextFeatures).ToArray())).ToArray();
        _tail = widths.Select(w => new DeviceIndex(dev, Enumerable.Range(w - contextFeatures, contextFeatures).ToArray())).ToArray();
    }

    /// <summary>A residual network (its linears in <see cref="DeviceResidualNetwork.Linears"/>' order).</summary>
    public DeviceNetwork(ComputeDevice dev, DeviceResidualNetwork residual, int contextFeatures)
    {
        Layers = residual.Linears;
        _contextFeatures = contextFeatures;
        _residual = residual;
        _dropout = residual.Dropout;
        _h = new(dev);
        _gh = new(dev);
        _slot = [];
    }

    public DeviceLinear[] Layers { get; }

    /// <summary>The batch norms of a residual network's blocks (per block bn0, bn1; none otherwise).</summary>
    public IReadOnlyList<DeviceBatchStatistics> BatchNorms => _residual?.BatchNorms ?? [];

    /// <summary>The trainable parameters outside the linears: the batch norms' weights and biases (per block bn0's, then bn1's).</summary>
    public IReadOnlyList<DeviceParameter> Parameters => [.. BatchNorms.SelectMany(b => new[] { b.Scale, b.Shift })];

    /// <summary>Sets the batch norms to training (the batch's statistics) or evaluation mode (the running averages).</summary>
    public void SetTraining(bool training)
    {
        foreach (var b in BatchNorms) b.Training = training;
    }

    /// <summary>The network's dropout (null: none).</summary>
    public DeviceDropout? Dropout => _dropout;

    /// <summary>Turns dropout on for a training pass with the flow's step-count buffer <paramref name="step"/>, or off (null: evaluation mode).</summary>
    public void SetDropout(DeviceTensor? step)
    {
        if (_dropout is not null) _dropout.Step = step;
    }

    /// <summary>What layer l + 1 reads of hidden layer l's output: h_l, or h_l∘mask in a training pass with dropout.</summary>
    private DeviceTensor Hidden(int l) => _dropout is { Active: true } d ? d.Output(l, _h[l]) : _h[l];

    /// <summary>Context features the network reads (0: none).</summary>
    public int ContextFeatures => _contextFeatures;

    /// <summary>The last output (valid after <see cref="Forward"/>).</summary>
    public DeviceTensor Output => _residual?.Output ?? _h[Layers.Length - 1];

    /// <summary>The network's output for x [N, in] and the context [N, C] (null without context features).</summary>
    public DeviceTensor Forward(DeviceTensor x, DeviceTensor? context)
    {
        if ((context is null) != (_contextFeatures == 0)) throw new ArgumentException($"DeviceFlow: a conditioner with {_contextFeatures} context features got {(context is null ? "no context" : $"a context of {context.Cols}")}");
        if (_residual is not null) return _residual.Forward(x, context);
        _pre?.Prepare(x.Rows);
        _h.Prepare(x.Rows);
        _gh.Prepare(x.Rows);
        _in?.Prepare(x.Rows);
        _gin?.Prepare(x.Rows);
        _dropout?.Prepare(x.Rows);
        for (int l = 0; l < Layers.Length; l++)
        {
            var input = l == 0 ? x : _dropout is null ? _h[l - 1] : _dropout.Forward(l - 1, _h[l - 1]);
            if (_slot[l] is var s and >= 0)
            {
                DeviceOps.Scatter(input, _in![s], _lead[s]);
                DeviceOps.Scatter(context!, _in[s], _tail[s]);
                input = _in[s];
            }
            bool hidden = l < Layers.Length - 1;
            Layers[l].Forward(input, _h[l], hidden ? _activation : DeviceActivation.None, hidden ? _pre?[l] : null);
        }
        return Output;
    }

    /// <summary>
    /// Parameter gradients from the output gradient gOut (after <see cref="Forward"/> on x and the context); gx when
    /// asked; the context's gradient (the context columns of each layer that reads it) added to <paramref name="gContext"/> [N, C] when given.
    /// Without <paramref name="parameterGradients"/> only the input's (and context's) gradient is computed (a frozen network).
    /// </summary>
    public void Backward(DeviceTensor x, DeviceTensor gOut, DeviceTensor? gx, DeviceTensor? gContext = null, bool parameterGradients = true)
    {
        if (_residual is not null)
        {
            _residual.Backward(x, gOut, gx, gContext, parameterGradients);
            return;
        }
        var g = gOut;
        for (int l = Layers.Length - 1; l >= 0; l--)
        {
            var target = l == 0 ? gx : _gh[l - 1];
            if (_slot[l] is var s and >= 0)
            {
                // the gradient of [input, context]: its leading columns are the input's, its last the context's
                bool full = target is not null || gContext is not null;
                Layers[l].Backward(_in![s], g, full ? _gin![s] : null, parameterGradients);
                if (target is not null) DeviceOps.Gather(_gin![s], target, _lead[s]);
                if (gContext is not null) DeviceOps.GatherAdd(_gin![s], gContext, _tail[s]);
            }
            else Layers[l].Backward(l == 0 ? x : Hidden(l - 1), g, target, parameterGradients);
            if (l > 0)
            {
                _dropout?.Backward(l - 1, _gh[l - 1]);
                DeviceActivationOps.Backward(_gh[l - 1], _h[l - 1], _pre?[l - 1], _activation);
                g = _gh[l - 1];
            }
        }
    }

    public void Dispose()
    {
        _h.Dispose();
        _gh.Dispose();
        _in?.Dispose();
        _gin?.Dispose();
        _pre?.Dispose();
        _residual?.Dispose();
        if (_residual is null) _dropout?.Dispose();
        foreach (var i in _lead.Concat(_tail)) i.Dispose();
        foreach (var l in Layers) l.Dispose();
    }
}
