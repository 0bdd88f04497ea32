using ILGPU;
using ILGPU.Runtime;
using NormalizingFlows.Nn;
using NormalizingFlows.Transforms.Monotonic;

namespace NormalizingFlows.Cuda;

/// <summary>
/// The UMNN update (<see cref="UmnnUpdate"/>) of one layer on the device, with that layer's integrand network
/// (<see cref="IntegrandNetwork{T}"/>, the layer's module "update") as trainable <see cref="DeviceParameter"/>s in the
/// host network's parameter order (so they are clipped, stepped, moment-copied and written back with the layer's).
/// Forward: the R = N·K elements' embeddings through the input layer once per element, the first tanh layer at the
/// R·Q node positions x·c_j, the hidden tanh layers and the output layer as GEMMs over [R·Q, H], then one kernel per
/// element for y = β·x·Σ_j w_j g_j + α and log dy/dx = log β + log g(x) (<see cref="DeviceUmnnKernels"/>). Backward:
/// the network re-evaluated at the same x (as the CPU's UmnnQuadrature does), the outputs' gradients per node, then
/// the layers' GEMMs back to the weights, the embeddings and x (the Leibniz rule term by term). Inverse: the CPU's
/// MonotonicSolver (safeguarded Newton, rtsafe's step rule) on the device, driven by a host loop: per round one
/// batched evaluation of the map and its derivative at every element's probe, one solver-step kernel (one thread per
/// element, its state in double) and the open elements' count read back; its log|det| is −log dy/dx at the solution.
/// </summary>
internal sealed class DeviceUmnn : IDisposable
{
    private static readonly int Tanh = DeviceActivation.Code(Activation.Tanh);

    private readonly ComputeDevice _dev;
    private readonly int _embedding, _hidden, _q, _stride;
    private readonly double _tolerance;
    private readonly DeviceTensor _c, _w;
    private readonly DeviceParameter _inW, _inB, _position, _outW, _outB;
    private readonly DeviceParameter[] _hiddenW, _hiddenB;
    private readonly DeviceWorkspace _rows;   // per element: h [R, E], a [R, H], ga [R, H], gh [R, E]
    private readonly DeviceWorkspace _nodes;  // per node: z_0 … z_{L−1} [R·Q, H], two gradients [R·Q, H], o, go, s, t [R·Q]
    private readonly DeviceWorkspace _probe;  // the inverse's probe points, f, log f′ and the open and failed flags [R]
    private readonly DeviceTensor _count;     // the open (or failed) elements' count
    private MemoryBuffer1D<double, Stride1D.Dense>? _state; // the inverse's solver state [R·SolverState], grown as needed
    private readonly List<DeviceParameter> _parameters = [];

    /// <summary>The update <paramref name="settings"/> with the layer's integrand network <paramref name="network"/> (its current weights).</summary>
    public DeviceUmnn(ComputeDevice dev, UmnnUpdate settings, IntegrandNetwork<float> network)
    {
        _dev = dev;
        (_embedding, _hidden, _q, _stride) = (settings.Embedding, settings.Hidden, settings.Nodes, settings.ParametersPerFeature);
        _tolerance = Math.Max(settings.Tolerance, 8 * (double)(MathF.BitIncrement(1f) - 1f)); // MonotonicSolver.EffectiveTolerance<float>
        var (t, w) = ClenshawCurtis.Rule(settings.Nodes);
        _c = DeviceTensor.Upload(dev, Tensors.Tensor<float>.From(t.Select(v => (float)(0.5 * (1 + v))).ToArray(), settings.Nodes));
        _w = DeviceTensor.Upload(dev, Tensors.Tensor<float>.From(w.Select(v => (float)(0.5 * v)).ToArray(), settings.Nodes));
        var named = new Dictionary<string, DeviceParameter>();
        try
        {
            foreach (var (name, p) in network.NamedParameters())
            {
                var d = new DeviceParameter(dev, p);
                _parameters.Add(d);
                named[name] = d;
            }
            DeviceParameter At(string name) => named.TryGetValue(name, out var d) ? d
                : throw new NotSupportedException($"DeviceFlow: the UMNN integrand network has no parameter {name}");
            (_inW, _inB, _position, _outW, _outB) = (At("input.weight"), At("input.bias"), At("position"), At("output.weight"), At("output.bias"));
            _hiddenW = [.. Enumerable.Range(0, settings.Layers - 1).Select(i => At($"hidden{i}.weight"))];
            _hiddenB = [.. Enumerable.Range(0, settings.Layers - 1).Select(i => At($"hidden{i}.bias"))];
            if (_inW.Length != _hidden * _embedding || _position.Length != _hidden || _outW.Length != _hidden || _outB.Length != 1 || _parameters.Count != 5 + 2 * _hiddenW.Length)
                throw new NotSupportedException("DeviceFlow: the UMNN integrand network does not match its update's settings");
        }
        catch
        {
            foreach (var d in _parameters) d.Dispose();
            _c.Dispose(); _w.Dispose();
            throw;
        }
        _rows = new DeviceWorkspace(dev, _embedding, _hidden, _hidden, _embedding);
        _nodes = new DeviceWorkspace(dev, [.. Enumerable.Repeat(_hidden, settings.Layers + 2), DeviceWorkspace.Vector, DeviceWorkspace.Vector, DeviceWorkspace.Vector, DeviceWorkspace.Vector]);
        _probe = new DeviceWorkspace(dev, DeviceWorkspace.Vector, DeviceWorkspace.Vector, DeviceWorkspace.Vector, DeviceWorkspace.Vector, DeviceWorkspace.Vector);
        _count = DeviceTensor.Zeros(dev, 1);
        Layers = settings.Layers;
    }

    private int Layers { get; }

    /// <summary>Parameters per feature: 2 + E.</summary>
    public int ParametersPerFeature => _stride;

    /// <summary>The integrand network's parameters in the host network's order (NamedParameters).</summary>
    public IReadOnlyList<DeviceParameter> Parameters => _parameters;

    /// <summary>y and log dy/dx per element (<paramref name="inverse"/>: x = f⁻¹(y) and −log dy/dx at x) for x [N, K] and parameters [N, K·(2 + E)].</summary>
    public void Apply(DeviceTensor x, DeviceTensor p, DeviceTensor y, DeviceTensor ld, bool inverse)
    {
        Check(x, p);
        if (inverse) { Inverse(x, p, y, ld); return; }
        Evaluate(x, p);
        Map(x, p, y, ld);
    }

    /// <summary>gx [N, K] and gp [N, K·(2 + E)] (assigned) and the integrand network's weight gradients (assigned) from gy [N, K] and the row log-det gradient gld [N].</summary>
    public void Backward(DeviceTensor x, DeviceTensor p, DeviceTensor gy, DeviceTensor gld, DeviceTensor gx, DeviceTensor gp)
    {
        Check(x, p);
        int r = (int)x.Length, rq = r * _q, h = _hidden, last = Layers - 1;
        if (r == 0)
        {
            foreach (var d in _parameters) DeviceOps.Fill(d.Grad, 0);
            return;
        }
        Evaluate(x, p);
        var k = _dev.Kernels;
        var (o, go, s, t) = (_nodes[Layers + 2], _nodes[Layers + 3], _nodes[Layers + 4], _nodes[Layers + 5]);
        k.UmnnBackward(r, x.View, p.View, o.View, _w.View, gy.View, gld.View, go.View, gp.View, gx.View, _q, _stride, x.Cols);
        // output layer o = z_{L−1}·w_oᵀ + b_o
        DeviceOps.Gemm(go, true, _nodes[last], false, _outW.Grad, 1, h, rq);
        DeviceOps.Sum(go, _outB.Grad);
        var (gz, other) = (_nodes[Layers], _nodes[Layers + 1]);
        DeviceOps.Gemm(go, false, _outW.Value, false, gz, rq, h, 1);
        for (int l = last; l >= 1; l--)
        {
            DeviceActivationOps.Backward(gz, _nodes[l], null, Tanh);
            DeviceOps.Gemm(gz, true, _nodes[l - 1], false, _hiddenW[l - 1].Grad, h, h, rq);
            DeviceOps.ColumnSums(gz, _hiddenB[l - 1].Grad);
            DeviceOps.Gemm(gz, false, _hiddenW[l - 1].Value, false, other, rq, h, h);
            (gz, other) = (other, gz);
        }
        // the first layer: pre[r·Q + j] = a_r + s_rj·v, a = h·W_inᵀ + b_in
        DeviceActivationOps.Backward(gz, _nodes[0], null, Tanh);
        DeviceOps.Gemm(gz, true, s, false, _position.Grad, h, 1, rq);
        DeviceOps.Gemm(gz, false, _position.Value, false, t, rq, 1, h);
        k.UmnnAddPositionGradient(r, t.View, _c.View, gx.View, _q);
        var (emb, ga, gh) = (_rows[0], _rows[2], _rows[3]);
        k.UmnnSumNodes(r * h, gz.View, ga.View, _q, h);
        DeviceOps.Gemm(ga, true, emb, false, _inW.Grad, h, _embedding, r);
        DeviceOps.ColumnSums(ga, _inB.Grad);
        DeviceOps.Gemm(ga, false, _inW.Value, false, gh, r, _embedding, h);
        k.UmnnScatterEmbeddings(r * _embedding, gh.View, gp.View, _embedding, _stride);
    }

    /// <summary>The network's outputs o [R·Q] at every node of every element of x (and the activations kept for the backward).</summary>
    private void Evaluate(DeviceTensor x, DeviceTensor p)
    {
        int r = (int)x.Length, rq = r * _q, h = _hidden;
        if (r == 0) return;
        _rows.Prepare(r);
        _nodes.Prepare(rq);
        var k = _dev.Kernels;
        var (emb, a) = (_rows[0], _rows[1]);
        k.UmnnEmbeddings(r * _embedding, p.View, emb.View, _embedding, _stride);
        DeviceOps.Gemm(emb, false, _inW.Value, true, a, r, h, _embedding);
        DeviceActivationOps.BiasActivation(a, _inB.Value, DeviceActivation.None, null);
        k.UmnnExpand(rq * h, a.View, x.View, _position.Value.View, _c.View, _nodes[0].View, _nodes[Layers + 4].View, _q, h);
        for (int l = 1; l < Layers; l++)
        {
            DeviceOps.Gemm(_nodes[l - 1], false, _hiddenW[l - 1].Value, true, _nodes[l], rq, h, h);
            DeviceActivationOps.BiasActivation(_nodes[l], _hiddenB[l - 1].Value, Tanh, null);
        }
        var o = _nodes[Layers + 2];
        DeviceOps.Gemm(_nodes[Layers - 1], false, _outW.Value, true, o, rq, 1, h);
        DeviceActivationOps.BiasActivation(o, _outB.Value, DeviceActivation.None, null);
    }

    /// <summary>y and log dy/dx from the outputs of the last <see cref="Evaluate"/> at x.</summary>
    private void Map(DeviceTensor x, DeviceTensor p, DeviceTensor y, DeviceTensor ld)
    {
        int r = (int)x.Length;
        if (r > 0) _dev.Kernels.UmnnCombine(r, x.View, p.View, _nodes[Layers + 2].View, _w.View, y.View, ld.View, _q, _stride);
    }

    /// <summary>
    /// x = f⁻¹(y) by MonotonicSolver's rounds on the device: each round one evaluation of f and log f′ at every
    /// element's probe, then one thread per element takes its solver step (<see cref="DeviceUmnnKernels.SolverStep"/>),
    /// and the count of open elements is read back; ld = −log f′(x). A solve that fails where the CPU's throws
    /// (a NaN map, no bracket, no convergence) throws the same <see cref="ArgumentException"/>.
    /// </summary>
    private void Inverse(DeviceTensor y, DeviceTensor p, DeviceTensor x, DeviceTensor ld)
    {
        int r = (int)y.Length;
        if (r == 0) return;
        _probe.Prepare(r);
        var (probe, f, logSlope, open, failed) = (_probe[0], _probe[1], _probe[2], _probe[3], _probe[4]);
        long size = (long)r * DeviceUmnnKernels.SolverState;
        if (_state is null || _state.Length < size)
        {
            _state?.Dispose();
            _state = _dev.Accelerator.Allocate1D<double>(size);
        }
        var state = _state.View.SubView(0, size);
        var k = _dev.Kernels;
        var count = new float[1];
        k.UmnnSolverStart(r, y.View, state, probe.View, x.View);
        for (int round = 0; ; round++)
        {
            Evaluate(probe, p);
            Map(probe, p, f, logSlope);
            k.UmnnSolverStep(r, y.View, f.View, logSlope.View, state, probe.View, x.View, open.View, failed.View, _tolerance);
            DeviceOps.Sum(open, _count);
            _count.CopyTo(count);
            if (count[0] == 0) break;
        }
        DeviceOps.Sum(failed, _count);
        _count.CopyTo(count);
        if (count[0] > 0) throw Failure(y, state, r);
        Evaluate(x, p);
        Map(x, p, f, ld);
        DeviceOps.Scale(ld, ld, -1);
    }

    /// <summary>The CPU solver's exception for the first element whose solve failed.</summary>
    private ArgumentException Failure(DeviceTensor y, ArrayView<double> state, int r)
    {
        var s = new double[state.Length];
        _dev.Download(state, s.AsSpan());
        var targets = new float[r];
        y.CopyTo(targets);
        for (int i = 0; i < r; i++)
        {
            long b = (long)i * DeviceUmnnKernels.SolverState;
            switch ((int)s[b + 9])
            {
                case DeviceUmnnKernels.MapNaN:
                    return new ArgumentException($"UMNN update: the map is NaN at x = {s[b]} (element {i})");
                case DeviceUmnnKernels.NoBracket:
                    return new ArgumentException($"UMNN update: cannot bracket the inverse of y = {targets[i]} (element {i}): the map stays {(double.IsNaN(s[b + 2]) ? "below" : "above")} it up to x = {s[b]:G6}; its range ends before y");
                case DeviceUmnnKernels.NoConvergence:
                    return new ArgumentException($"UMNN update: the inverse of y = {targets[i]} (element {i}) did not converge in {DeviceMonotonicStep.MaxSteps} steps (bracket [{s[b + 1]}, {s[b + 2]}])");
            }
        }
        return new ArgumentException("UMNN update: the inverse failed");
    }

    private void Check(DeviceTensor x, DeviceTensor p)
    {
        if (p.Length != x.Length * _stride)
            throw new ArgumentException($"UMNN update: {x.Length} elements need {x.Length * _stride} parameters ({_stride} each), got {p.Length}");
    }

    public void Dispose()
    {
        foreach (var d in _parameters) d.Dispose();
        _c.Dispose(); _w.Dispose();
        _rows.Dispose(); _nodes.Dispose(); _probe.Dispose(); _count.Dispose(); _state?.Dispose();
    }
}
