namespace NormalizingFlows.Cuda;

/// <summary>
/// A residual conditioner on the device: Nn/ResidualNet (nflows' ResidualNet) and the residual MADE (Nn/Made with
/// residual blocks). h₀ = L_in([x, c]) (no activation); per block h_{b+1} = h_b + L₂(act(L₁(act(h_b)))), gated by
/// sigmoid(L_c(c)) in a ResidualNet with context (nflows' GLU); out = L_out(h_B), over [h_B, c] for a MADE with
/// context (its direct context → output path). The masks of a MADE's layers live in their <see cref="DeviceLinear"/>s.
/// Its linears, in <see cref="Linears"/>' order: L_in, then per block L₁, L₂ (and L_c), then L_out. A ResidualNet built
/// with batch norm (ConditionerOptions.BatchNorm) normalises before each activation: per block
/// h_{b+1} = h_b + L₂(act(BN₁(L₁(act(BN₀(h_b)))))), the batch norms (<see cref="DeviceBatchStatistics"/>) in training
/// or evaluation mode as the flow sets them, their backward through the batch statistics in training.
/// </summary>
internal sealed class DeviceResidualNetwork : IDisposable
{
    private readonly DeviceLinear _initial, _final;
    private readonly DeviceLinear[] _l1, _l2;
    private readonly DeviceLinear?[] _gate;
    private readonly int _c, _act, _blocks, _hidden;
    private readonly bool _contextAtOutput;
    private readonly DeviceWorkspace _ws;
    private readonly int _h0, _a0, _u0, _t0, _s0, _z0, _out, _gh, _ga, _gu, _gt, _gz, _ctx, _inIn, _gInIn, _inOut, _gInOut;
    private readonly DeviceIndex? _leadIn, _tailIn, _leadOut, _tailOut;
    private readonly DeviceBatchStatistics[] _bn0 = [], _bn1 = [];   // per block, when the blocks normalise
    private readonly int _n0 = -1, _p0 = -1, _q0 = -1, _gp = -1, _gn = -1; // BN₀(h_b), L₁'s output, BN₁ of it [per block]; their gradients

    /// <summary>
    /// The network over its linears (L_in, per block L₁, L₂ and, when <paramref name="gated"/>, L_c, then L_out) with
    /// <paramref name="contextFeatures"/> context features read by L_in, by the gates when gated and by L_out when
    /// <paramref name="contextAtOutput"/>; <paramref name="activation"/> is a <see cref="DeviceActivation"/> code.
    /// </summary>
    public DeviceResidualNetwork(ComputeDevice dev, DeviceLinear[] linears, int blocks, int contextFeatures, bool gated, bool contextAtOutput, int activation,
        IReadOnlyList<(Nn.BatchNorm1d<float> Bn0, Nn.BatchNorm1d<float> Bn1)>? batchNorms = null, DeviceDropout? dropout = null)
    {
        Dropout = dropout;
        if (gated && contextFeatures == 0) throw new ArgumentException("a gated residual network reads a context");
        int per = gated ? 3 : 2;
        if (linears.Length != 2 + per * blocks) throw new ArgumentException($"a residual network of {blocks} blocks has {2 + per * blocks} linear layers, not {linears.Length}");
        Linears = linears;
        _initial = linears[0];
        _final = linears[^1];
        _blocks = blocks;
        _l1 = Enumerable.Range(0, blocks).Select(b => linears[1 + per * b]).ToArray();
        _l2 = Enumerable.Range(0, blocks).Select(b => linears[2 + per * b]).ToArray();
        _gate = Enumerable.Range(0, blocks).Select(b => gated ? linears[3 + per * b] : null).ToArray();
        _c = contextFeatures;
        _act = activation;
        _contextAtOutput = contextAtOutput && contextFeatures > 0;
        _hidden = _initial.Out;
        int h = _hidden;
        var widths = new List<int>();
        int Add(int width, int count = 1) { int at = widths.Count; for (int i = 0; i < count; i++) widths.Add(width); return at; }
        _h0 = Add(h, blocks + 1);
        _a0 = Add(h, blocks);
        _u0 = Add(h, blocks);
        _t0 = Add(h, blocks);
        _s0 = gated ? Add(h, blocks) : -1;
        _z0 = DeviceActivation.NeedsInput(activation) ? Add(h, blocks) : -1;
        if (batchNorms is { Count: > 0 })
        {
            if (batchNorms.Count != blocks) throw new ArgumentException($"a residual network of {blocks} blocks has {batchNorms.Count} pairs of batch norms");
            if (batchNorms.Any(p => p.Bn0.Features != h || p.Bn1.Features != h)) throw new ArgumentException("DeviceFlow: the residual network's batch norms do not have its hidden width");
            _n0 = Add(h, blocks); _p0 = Add(h, blocks); _q0 = Add(h, blocks);
            _gp = Add(h); _gn = Add(h);
        }
        _out = Add(_final.Out);
        _gh = Add(h); _ga = Add(h); _gu = Add(h);
        _gt = gated ? Add(h) : -1;
        _gz = gated ? Add(h) : -1;
        _ctx = gated && contextFeatures > 0 ? Add(contextFeatures) : -1;   // the gates' input, kept for their backward
        _inIn = _gInIn = _inOut = _gInOut = -1;
        if (contextFeatures > 0)
        {
            int inW = _initial.In;
            if (inW <= contextFeatures) throw new NotSupportedException($"DeviceFlow: a residual conditioner of {inW} inputs cannot read {contextFeatures} context features besides its own");
            _inIn = Add(inW); _gInIn = Add(inW);
            _leadIn = new DeviceIndex(dev, Enumerable.Range(0, inW - contextFeatures).ToArray());
            _tailIn = new DeviceIndex(dev, Enumerable.Range(inW - contextFeatures, contextFeatures).ToArray());
            if (_contextAtOutput)
            {
                _inOut = Add(h + contextFeatures); _gInOut = Add(h + contextFeatures);
                _leadOut = new DeviceIndex(dev, Enumerable.Range(0, h).ToArray());
                _tailOut = new DeviceIndex(dev, Enumerable.Range(h, contextFeatures).ToArray());
            }
        }
        if (_final.In != h + (_contextAtOutput ? contextFeatures : 0) || _l1.Concat(_l2).Any(l => l.In != h || l.Out != h) || _gate.Any(g => g is not null && (g.In != contextFeatures || g.Out != h)))
            throw new ArgumentException("DeviceFlow: the residual network's layer shapes do not chain");
        _ws = new DeviceWorkspace(dev, [.. widths]);
        if (_n0 < 0) return;
        var made = new List<DeviceBatchStatistics>();
        try
        {
            foreach (var (b0, b1) in batchNorms!)
            {
                made.Add(DeviceBatchStatistics.Of(dev, b0));
                made.Add(DeviceBatchStatistics.Of(dev, b1));
            }
        }
        catch
        {
            foreach (var b in made) b.Dispose();
            _ws.Dispose();
            throw;
        }
        _bn0 = [.. made.Where((_, i) => i % 2 == 0)];
        _bn1 = [.. made.Where((_, i) => i % 2 == 1)];
    }

    /// <summary>The blocks' batch norms in parameter order (per block bn0, bn1); none without batch norm.</summary>
    public IReadOnlyList<DeviceBatchStatistics> BatchNorms => [.. _bn0.Zip(_bn1).SelectMany(p => new[] { p.First, p.Second })];

    /// <summary>The blocks' dropout (per block, of act(L₁'s output) before L₂, as Nn/ResidualBlock and the residual Nn/Made); null: none.</summary>
    public DeviceDropout? Dropout { get; }

    /// <summary>The linears in parameter order (L_in, per block L₁, L₂, L_c, then L_out).</summary>
    public DeviceLinear[] Linears { get; }

    /// <summary>The last output (valid after <see cref="Forward"/>).</summary>
    public DeviceTensor Output => _ws[_out];

    private DeviceTensor H(int b) => _ws[_h0 + b];
    private DeviceTensor A(int b) => _ws[_a0 + b];
    private DeviceTensor U(int b) => _ws[_u0 + b];
    private DeviceTensor T(int b) => _ws[_t0 + b];
    private DeviceTensor? S(int b) => _s0 < 0 ? null : _ws[_s0 + b];
    private DeviceTensor? Z(int b) => _z0 < 0 ? null : _ws[_z0 + b];

    /// <summary>The output for x [N, in] and the context [N, C] (null without context features).</summary>
    public DeviceTensor Forward(DeviceTensor x, DeviceTensor? context)
    {
        _ws.Prepare(x.Rows);
        Dropout?.Prepare(x.Rows);
        var input = x;
        if (_c > 0)
        {
            DeviceOps.Scatter(x, _ws[_inIn], _leadIn!);
            DeviceOps.Scatter(context!, _ws[_inIn], _tailIn!);
            input = _ws[_inIn];
        }
        if (_ctx >= 0) DeviceOps.Scale(_ws[_ctx], context!, 1);
        _initial.Forward(input, H(0), DeviceActivation.None);
        for (int b = 0; b < _blocks; b++)
        {
            if (_n0 >= 0)
            {
                // h_b → BN₀ → act → L₁ → BN₁ → act
                _bn0[b].Forward(H(b), _ws[_n0 + b]);
                DeviceActivationOps.Activate(_ws[_n0 + b], A(b), _act);
                _l1[b].Forward(A(b), _ws[_p0 + b], DeviceActivation.None);
                _bn1[b].Forward(_ws[_p0 + b], _ws[_q0 + b]);
                DeviceActivationOps.Activate(_ws[_q0 + b], U(b), _act);
            }
            else
            {
                DeviceActivationOps.Activate(H(b), A(b), _act);
                _l1[b].Forward(A(b), U(b), _act, Z(b));
            }
            _l2[b].Forward(Dropout is null ? U(b) : Dropout.Forward(b, U(b)), T(b), DeviceActivation.None);
            if (_gate[b] is { } gate) gate.Forward(_ws[_ctx], S(b)!, (int)Nn.Activation.Sigmoid + 1);
            DeviceActivationOps.ResidualAdd(H(b + 1), H(b), T(b), S(b));
        }
        var last = H(_blocks);
        if (_contextAtOutput)
        {
            DeviceOps.Scatter(last, _ws[_inOut], _leadOut!);
            DeviceOps.Scatter(context!, _ws[_inOut], _tailOut!);
            last = _ws[_inOut];
        }
        _final.Forward(last, Output, DeviceActivation.None);
        return Output;
    }

    /// <summary>As <see cref="DeviceNetwork.Backward"/> (after <see cref="Forward"/> on x and the context).</summary>
    public void Backward(DeviceTensor x, DeviceTensor gOut, DeviceTensor? gx, DeviceTensor? gContext, bool parameterGradients)
    {
        var gh = _ws[_gh];
        if (_contextAtOutput)
        {
            _final.Backward(_ws[_inOut], gOut, _ws[_gInOut], parameterGradients);
            DeviceOps.Gather(_ws[_gInOut], gh, _leadOut!);
            if (gContext is not null) DeviceOps.GatherAdd(_ws[_gInOut], gContext, _tailOut!);
        }
        else _final.Backward(H(_blocks), gOut, gh, parameterGradients);
        for (int b = _blocks - 1; b >= 0; b--)
        {
            // gh is the gradient of h_{b+1}: it passes to h_b through the skip, and through the block's update
            var gUpdate = gh;
            if (_gate[b] is { } gate)
            {
                DeviceActivationOps.GateBackward(gh, T(b), S(b)!, _ws[_gt], _ws[_gz]);
                gate.Backward(_ws[_ctx], _ws[_gz], null, parameterGradients);
                if (gContext is not null) DeviceOps.MatMul(_ws[_gz], false, gate.W, false, gContext, beta: 1);
                gUpdate = _ws[_gt];
            }
            _l2[b].Backward(Dropout is null ? U(b) : Dropout.Output(b, U(b)), gUpdate, _ws[_gu], parameterGradients);
            Dropout?.Backward(b, _ws[_gu]);
            if (_n0 >= 0)
            {
                DeviceActivationOps.Backward(_ws[_gu], U(b), _ws[_q0 + b], _act);
                _bn1[b].Backward(_ws[_p0 + b], _ws[_gu], null, _ws[_gp]);
                _l1[b].Backward(A(b), _ws[_gp], _ws[_ga], parameterGradients);
                DeviceActivationOps.Backward(_ws[_ga], A(b), _ws[_n0 + b], _act);
                _bn0[b].Backward(H(b), _ws[_ga], null, _ws[_gn]);
                DeviceOps.Add(gh, _ws[_gn]);
                continue;
            }
            DeviceActivationOps.Backward(_ws[_gu], U(b), Z(b), _act);
            _l1[b].Backward(A(b), _ws[_gu], _ws[_ga], parameterGradients);
            DeviceActivationOps.Backward(_ws[_ga], A(b), H(b), _act);
            DeviceOps.Add(gh, _ws[_ga]);
        }
        if (_c > 0)
        {
            bool full = gx is not null || gContext is not null;
            _initial.Backward(_ws[_inIn], gh, full ? _ws[_gInIn] : null, parameterGradients);
            if (gx is not null) DeviceOps.Gather(_ws[_gInIn], gx, _leadIn!);
            if (gContext is not null) DeviceOps.GatherAdd(_ws[_gInIn], gContext, _tailIn!);
        }
        else _initial.Backward(x, gh, gx, parameterGradients);
    }

    public void Dispose()
    {
        _ws.Dispose();
        Dropout?.Dispose();
        foreach (var b in _bn0.Concat(_bn1)) b.Dispose();
        foreach (var i in new[] { _leadIn, _tailIn, _leadOut, _tailOut }) i?.Dispose();
    }
}
