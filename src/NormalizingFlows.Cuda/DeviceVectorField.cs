using NormalizingFlows.Nn;
using NormalizingFlows.Transforms.Continuous;

namespace NormalizingFlows.Cuda;

/// <summary>
/// A continuous flow's velocity v_θ(x, t[, c]) (<see cref="VectorField{T}"/>) on the device: a tanh MLP on
/// [x, τ(t), c] with τ(t) = (t, sin 2πkt, cos 2πkt) for k = 1…F (computed per row in double from t rounded to float, as
/// the CPU does) and a linear output of D.
/// <para>
/// For flow matching call <see cref="Forward"/>(x [N, D], time [N], context [N, C] or null) → v [N, D] (valid until
/// the next call), then <see cref="Backward"/>(gv [N, D], gx [N, D] or null, gContext [N, C] or null, accumulate) for
/// the parameter gradients (assigned in <see cref="Linears"/>' GW/GB like other device networks' unless
/// <c>accumulate</c>), gx (assigned) and the context's gradient (added). <see cref="Network"/> holds the same
/// linears for the device flow's Adam, gradient norm and copies (its own Forward also gives v when handed [τ(t), c] as
/// its context columns).
/// </para>
/// <para>
/// The ODE solver (DeviceContinuous) evaluates through <see cref="Evaluate"/> on a <see cref="Tape"/>
/// per Runge–Kutta stage: v and, along probe rows P [N·k, D], tr(∂v/∂x) ≈ Σ_j p_jᵀ(∂v/∂x)p_j by forward-mode tangents
/// through the layers (GEMMs over N·k rows; P = the unit vectors, k = D, for the exact trace), as
/// VectorField.EvaluateWithDivergence does; <see cref="BackwardStage"/> is the backward of both (the tangent recursion
/// to x and θ), always adding to the parameter gradients.
/// </para>
/// </summary>
internal sealed class DeviceVectorField : IDisposable
{
    private readonly ComputeDevice _dev;
    private readonly DeviceLinear[] _hidden;  // the tanh layers (input, hidden1, …)
    private readonly DeviceLinear _output;
    private readonly DeviceIndex? _contextColumns;
    private readonly DeviceWorkspace _rows;     // per row: gh_i [N, H] × L, extra_i [N, H] × L, gu [N, In], gv [N, D]
    private readonly DeviceWorkspace _tangents; // per tangent row: gT, gU [N·k, H], gvDot [N·k, D]
    private readonly DeviceTensor _leading;     // [H, D]: the first layer's weight gradient from the tangents
    private readonly Tape _default;
    private DeviceTensor? _zeroState;           // a 1-element stand-in for an absent view argument

    /// <summary>The device copy of <paramref name="field"/>'s layers (their weights uploaded).</summary>
    public DeviceVectorField(ComputeDevice dev, VectorField<float> field)
    {
        ArgumentNullException.ThrowIfNull(field);
        _dev = dev;
        Features = field.Features; Hidden = field.Hidden; Layers = field.Layers; ContextFeatures = field.ContextFeatures; TimeFrequencies = field.TimeFrequencies;
        var linears = new List<DeviceLinear>();
        try
        {
            foreach (var l in HostLinears(field)) linears.Add(new DeviceLinear(dev, l.Weight, l.Bias, null, "the vector field of ContinuousTransform"));
        }
        catch
        {
            foreach (var l in linears) l.Dispose();
            throw;
        }
        Linears = [.. linears];
        _hidden = Linears[..^1];
        _output = Linears[^1];
        InputWidth = Features + 1 + 2 * TimeFrequencies + ContextFeatures;
        Network = new DeviceNetwork(dev, Linears, InputWidth - Features, contextAtOutput: false, activation: Tanh);
        if (ContextFeatures > 0) _contextColumns = new DeviceIndex(dev, Enumerable.Range(InputWidth - ContextFeatures, ContextFeatures).ToArray());
        _rows = new DeviceWorkspace(dev, [.. Enumerable.Repeat(Hidden, 2 * Layers), InputWidth, Features]);
        _tangents = new DeviceWorkspace(dev, Hidden, Hidden, Features);
        _leading = DeviceTensor.Zeros(dev, Hidden, Features);
        _default = NewTape();
    }

    /// <summary>The host field's linear layers in its parameter order: input, hidden1 … hidden(L−1), output.</summary>
    internal static List<Linear<float>> HostLinears(VectorField<float> field)
    {
        var modules = field.NamedChildren().ToDictionary(p => p.Key, p => p.Value);
        return [.. Enumerable.Range(0, field.Layers).Select(i => i == 0 ? "input" : $"hidden{i}").Append("output").Select(name =>
            modules.TryGetValue(name, out var m) && m is Linear<float> l ? l : throw new NotSupportedException($"DeviceFlow: the vector field has no linear layer {name}"))];
    }

    /// <summary>The tanh activation's kernel code.</summary>
    internal static int Tanh => DeviceActivation.Code(Activation.Tanh);

    /// <summary>Data features D.</summary>
    public int Features { get; }

    /// <summary>Hidden units H per layer.</summary>
    public int Hidden { get; }

    /// <summary>Hidden (tanh) layers L.</summary>
    public int Layers { get; }

    /// <summary>Context features C (0: unconditional).</summary>
    public int ContextFeatures { get; }

    /// <summary>Time frequencies F.</summary>
    public int TimeFrequencies { get; }

    /// <summary>The first layer's input width D + 1 + 2F + C.</summary>
    public int InputWidth { get; }

    /// <summary>The layers in the host field's parameter order: input, hidden1 … hidden(L−1), output.</summary>
    public DeviceLinear[] Linears { get; }

    /// <summary>A device network over <see cref="Linears"/> (tanh, the E + C columns [τ(t), c] as its context): the device flow trains and copies the field through it.</summary>
    public DeviceNetwork Network { get; }

    /// <summary>v(x, t, c) [N, D] for x [N, D], per-row times <paramref name="time"/> [N] and the context [N, C] (null without context features); valid until the next call.</summary>
    public DeviceTensor Forward(DeviceTensor x, DeviceTensor time, DeviceTensor? context)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(time);
        x.Check("DeviceVectorField: x", x.Rows, Features);
        time.Check("DeviceVectorField: time", x.Rows);
        Evaluate(_default, x, time, 0, context, null, null);
        return _default.V;
    }

    /// <summary>
    /// The backward of the last <see cref="Forward"/> from gv [N, D]: the parameter gradients assigned (added when
    /// <paramref name="accumulate"/>), gx [N, D] assigned when given, the context's gradient added to <paramref name="gContext"/> [N, C] when given.
    /// </summary>
    public void Backward(DeviceTensor gv, DeviceTensor? gx, DeviceTensor? gContext = null, bool accumulate = false)
    {
        ArgumentNullException.ThrowIfNull(gv);
        gv.Check("DeviceVectorField: gv", _default.Rows, Features);
        if (!accumulate) ZeroGradients();
        BackwardCore(_default, gv, null, gx, gContext);
    }

    /// <summary>Sets every parameter gradient to 0 (before <see cref="BackwardStage"/>s that add to them).</summary>
    public void ZeroGradients()
    {
        foreach (var l in Linears) { DeviceOps.Fill(l.GW, 0); DeviceOps.Fill(l.GB, 0); }
    }

    /// <summary>A fresh set of activation buffers for one evaluation (one per Runge–Kutta stage whose backward is taken).</summary>
    public Tape NewTape() => new(this);

    /// <summary>
    /// One evaluation on <paramref name="tape"/>: the field input from the first D columns of <paramref name="state"/>
    /// [N, W], the time (per row from <paramref name="time"/> [N], else <paramref name="t"/> for every row) and the
    /// context; v into the tape; with <paramref name="probes"/> [N·k, D] also the tangents, and when
    /// <paramref name="derivative"/> [N, W] is given, v and (W = D + 1) the divergence packed into it.
    /// </summary>
    public void Evaluate(Tape tape, DeviceTensor state, DeviceTensor? time, double t, DeviceTensor? context, DeviceTensor? probes, DeviceTensor? derivative)
    {
        if ((context is null) != (ContextFeatures == 0))
            throw new ArgumentException($"DeviceVectorField: a field with {ContextFeatures} context features got {(context is null ? "no context" : $"a context of {context.Cols}")}");
        if (context is not null) context.Check("DeviceVectorField: context", state.Rows, ContextFeatures);
        int n = state.Rows, width = state.Cols;
        tape.Prepare(n, probes is null ? 0 : probes.Rows);
        var k = _dev.Kernels;
        var zero = Zero();
        if (n > 0)
            k.CnfFieldInput(n * InputWidth, tape.U.View, state.View, (time ?? zero).View, (context ?? zero).View,
                new FieldInputArgs(Features, TimeFrequencies, ContextFeatures, width, time is null ? 0 : 1, t));
        for (int i = 0; i < Layers; i++) _hidden[i].Forward(i == 0 ? tape.U : tape.A(i - 1), tape.A(i), Tanh);
        _output.Forward(tape.A(Layers - 1), tape.V, DeviceActivation.None);
        tape.Probes = probes;
        tape.K = probes is null ? 0 : probes.Rows / Math.Max(1, n);
        if (probes is not null && n > 0)
        {
            if (probes.Rows != n * tape.K || probes.Cols != Features) throw new ArgumentException($"DeviceVectorField: probes of [{probes.Rows}, {probes.Cols}] for {n} rows of {Features} features");
            int rows = probes.Rows;
            k.CnfTangentSeed(rows * Hidden, tape.TU(0).View, tape.T(0).View, probes.View, _hidden[0].W.View, tape.A(0).View, tape.K, Hidden, Features, InputWidth);
            for (int i = 1; i < Layers; i++)
            {
                DeviceOps.MatMul(tape.T(i - 1), false, _hidden[i].W, true, tape.TU(i));
                k.CnfTangentScale(rows * Hidden, tape.TU(i).View, tape.T(i).View, tape.A(i).View, tape.K, Hidden);
            }
            DeviceOps.MatMul(tape.T(Layers - 1), false, _output.W, true, tape.VDot);
        }
        if (derivative is null) return;
        if (derivative.Rows != n || (derivative.Cols != Features && derivative.Cols != Features + 1) || (derivative.Cols > Features && probes is null))
            throw new ArgumentException($"DeviceVectorField: a derivative of [{derivative.Rows}, {derivative.Cols}] for {n} rows ({(probes is null ? "no probes" : "with probes")})");
        if (n > 0)
            k.CnfPack(n, derivative.View, tape.V.View, (probes is null ? zero : tape.VDot).View, (probes ?? zero).View, Features, derivative.Cols, tape.K);
    }

    /// <summary>
    /// The backward of the evaluation on <paramref name="tape"/> from the derivative's gradient <paramref name="gDerivative"/>
    /// [N, W] (velocity in the first D columns, divergence in column D when W = D + 1): the parameter gradients added,
    /// gx [N, D] assigned, the context's gradient added to <paramref name="gContext"/> when given.
    /// </summary>
    public void BackwardStage(Tape tape, DeviceTensor gDerivative, DeviceTensor gx, DeviceTensor? gContext)
    {
        int n = tape.Rows;
        _rows.Prepare(n);
        var gv = _rows[2 * Layers + 1];
        if (n > 0) _dev.Kernels.CnfLeadingColumns(n * Features, gv.View, gDerivative.View, Features, gDerivative.Cols);
        BackwardCore(tape, gv, gDerivative.Cols > Features ? gDerivative : null, gx, gContext);
    }

    private void BackwardCore(Tape tape, DeviceTensor gv, DeviceTensor? gDerivative, DeviceTensor? gx, DeviceTensor? gContext)
    {
        int n = tape.Rows, l = Layers;
        _rows.Prepare(n);
        var kernels = _dev.Kernels;
        bool divergence = gDerivative is not null && tape.Probes is not null;
        if (divergence)
        {
            var probes = tape.Probes!;
            int rows = probes.Rows;
            _tangents.Prepare(rows);
            DeviceTensor gT = _tangents[0], gU = _tangents[1], gvDot = _tangents[2];
            if (rows > 0) kernels.CnfProbeGradient(rows * Features, gvDot.View, gDerivative!.View, probes.View, tape.K, Features, gDerivative.Cols);
            DeviceOps.MatMul(gvDot, true, tape.T(l - 1), false, _output.GW, beta: 1);
            DeviceOps.MatMul(gvDot, false, _output.W, false, gT);
            for (int i = l - 1; i >= 0; i--)
            {
                if (n > 0) kernels.CnfSlopeBackward(n * Hidden, gT.View, tape.TU(i).View, tape.A(i).View, gU.View, Extra(i).View, tape.K, Hidden);
                if (i > 0)
                {
                    DeviceOps.MatMul(gU, true, tape.T(i - 1), false, _hidden[i].GW, beta: 1);
                    DeviceOps.MatMul(gU, false, _hidden[i].W, false, gT);
                }
                else
                {
                    DeviceOps.MatMul(gU, true, probes, false, _leading);
                    kernels.CnfAddLeadingColumns(Hidden * Features, _hidden[0].GW.View, _leading.View, Features, InputWidth);
                }
            }
        }
        // the velocity's backward, with the divergence's gradients of the activations added at each layer
        DeviceOps.MatMul(gv, true, tape.A(l - 1), false, _output.GW, beta: 1);
        DeviceOps.Gemm(_dev.Ones(n), false, gv, false, _output.GB, 1, Features, n, 1, 1);
        DeviceOps.MatMul(gv, false, _output.W, false, GH(l - 1));
        for (int i = l - 1; i >= 0; i--)
        {
            var g = GH(i);
            if (divergence) DeviceOps.Add(g, Extra(i));
            DeviceActivationOps.Backward(g, tape.A(i), null, Tanh);
            DeviceOps.MatMul(g, true, i == 0 ? tape.U : tape.A(i - 1), false, _hidden[i].GW, beta: 1);
            DeviceOps.Gemm(_dev.Ones(n), false, g, false, _hidden[i].GB, 1, Hidden, n, 1, 1);
            if (i > 0) DeviceOps.MatMul(g, false, _hidden[i].W, false, GH(i - 1));
            else if (gx is not null || (gContext is not null && ContextFeatures > 0))
            {
                var gu = _rows[2 * Layers];
                DeviceOps.MatMul(g, false, _hidden[0].W, false, gu);
                if (gx is not null && n > 0) kernels.CnfLeadingColumns(n * Features, gx.View, gu.View, Features, InputWidth);
                if (gContext is not null && ContextFeatures > 0) DeviceOps.GatherAdd(gu, gContext, _contextColumns!);
            }
        }
    }

    private DeviceTensor GH(int i) => _rows[i];

    private DeviceTensor Extra(int i) => _rows[Layers + i];

    private DeviceTensor Zero() => _zeroState ??= DeviceTensor.Zeros(_dev, 1);

    public void Dispose()
    {
        Network.Dispose(); // disposes the linears
        _contextColumns?.Dispose();
        _rows.Dispose();
        _tangents.Dispose();
        _leading.Dispose();
        _default.Dispose();
        _zeroState?.Dispose();
    }

    /// <summary>The activations of one evaluation: the input u, the hidden outputs a_i, v, and with probes the tangents U_i, T_i and vDot.</summary>
    internal sealed class Tape : IDisposable
    {
        private readonly int _layers;
        private readonly DeviceWorkspace _rows, _tangents;

        internal Tape(DeviceVectorField f)
        {
            _layers = f.Layers;
            _rows = new DeviceWorkspace(f._dev, [f.InputWidth, .. Enumerable.Repeat(f.Hidden, f.Layers), f.Features]);
            _tangents = new DeviceWorkspace(f._dev, [.. Enumerable.Repeat(f.Hidden, 2 * f.Layers), f.Features]);
        }

        /// <summary>Rows N of the last evaluation.</summary>
        public int Rows { get; private set; }

        /// <summary>Probe rows per data row (0: no tangents).</summary>
        public int K { get; internal set; }

        /// <summary>The probes of the last evaluation (null: none).</summary>
        public DeviceTensor? Probes { get; internal set; }

        public DeviceTensor U => _rows[0];
        public DeviceTensor A(int i) => _rows[1 + i];
        public DeviceTensor V => _rows[1 + _layers];
        public DeviceTensor TU(int i) => _tangents[i];
        public DeviceTensor T(int i) => _tangents[_layers + i];
        public DeviceTensor VDot => _tangents[2 * _layers];

        internal void Prepare(int rows, int tangentRows)
        {
            Rows = rows;
            _rows.Prepare(rows);
            if (tangentRows > 0) _tangents.Prepare(tangentRows);
        }

        public void Dispose()
        {
            _rows.Dispose();
            _tangents.Dispose();
        }
    }
}
