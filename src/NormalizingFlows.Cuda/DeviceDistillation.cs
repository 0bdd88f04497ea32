using System.Runtime.CompilerServices;
using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Runtime;
using NormalizingFlows.Autograd;
using NormalizingFlows.Distributions;
using NormalizingFlows.Flows;
using NormalizingFlows.Optim;
using NormalizingFlows.Tensors;
using NormalizingFlows.Training;

namespace NormalizingFlows.Cuda;

/// <summary>
/// Probability density distillation (Training/DensityDistillationLoss) on the device: the frozen MAF teacher and the IAF
/// student compiled side by side, and one step computes the six MSE terms, the student's gradients by a hand-chained
/// backward and Adam on the student only (the device Adam and global-norm clip of <see cref="DeviceFlow"/>).
/// <para>
/// z-pass: the student maps the base draws z to s_0 (s_l = τ⁻¹(s_{l+1}; θ′_l(s_{l+1}))), the teacher maps s_0 back
/// (t_{l+1} = τ(t_l; θ_l(t_l))); its backward runs through the teacher to its input only (no parameter gradients),
/// with MSE(θ, θ′)'s gradient injected on θ, then through the student. x-pass: the teacher maps the data to z without gradients, the student maps that z back.
/// The student's sampling direction x = τ⁻¹(y; θ) is differentiated with the forward update's backward kernel at x:
/// ∂x/∂y = 1/τ′(x), ∂x/∂θ = −(∂τ/∂θ)(x)/τ′(x), i.e. the forward backward with gy = g′ = −g·exp(−log τ′(x)) gives gθ and
/// gy = −g′. The two passes' gradients are summed, then clipped and stepped.
/// </para>
/// </summary>
internal sealed class DeviceDistillation : IAcceleratedDistillation
{
    private const int TermZ = 0, TermX = 1, TermIz = 2, TermIx = 3, TermPz = 4, TermPx = 5;

    private readonly ComputeDevice _dev;
    private readonly DistillationKernels.Set _k;
    private readonly DeviceAutoregressive[] _teacher;
    private readonly DeviceInverseAutoregressive[] _student;
    private readonly DeviceLinear[] _linears;          // the student's: clipped and stepped
    private readonly DeviceTensor[] _acc = [];         // the z-pass's weight and bias gradients while the x-pass runs (both passes)
    private readonly int _layers, _features, _context;
    private readonly DeviceWorkspace _ws;               // s_0 … s_L−1, t_1 … t_L, Y, Ld, GA, GB, GNet, G′ [rows, D]; diff [rows, max(D, P)]; zeros [rows]
    private readonly DeviceWorkspace[] _gp;             // per layer: the gradient of θ′ (and of θ) [rows, P_l]
    private readonly DeviceWorkspace _batch;            // the step's events, context and base draws
    private readonly DeviceTensor _terms;               // the six terms, summed over the steps since TakeLossSums
    private DeviceTensor? _data, _dataContext;
    private DeviceAdamStep? _adam;
    private DeviceIndex? _rows;

    public DeviceDistillation(ComputeDevice device, Flow<float> teacher, Flow<float> student, Adam<float>? optimizer, bool zPass, bool xPass)
    {
        ArgumentNullException.ThrowIfNull(device);
        // the library's checks: MAF teacher layers, one IAF student layer of the same shape each
        _ = new DensityDistillationLoss<float>(teacher, student, zPass, xPass);
        if (teacher.Base is not StandardNormal<float>)
            throw new NotSupportedException($"DeviceDistillation: the teacher's base {teacher.Base.GetType().Name} is not supported (a standard normal is)");
        _dev = device;
        _k = DistillationKernels.Of(device);
        ZPass = zPass; XPass = xPass;
        // the student trains without the flow's training-mode passes: dropout in it would silently not apply (the teacher runs in evaluation mode, where dropout is the identity)
        if (DeviceFlowLayers.Steps(student).FirstOrDefault(st => DeviceFlowLayers.DropoutOf(st) > 0) is { } dropped)
            throw new NotSupportedException($"DeviceDistillation: the conditioner of the student's {dropped.GetType().Name.Split('`')[0]} has dropout (not supported in distillation: build the student without dropout or distil on the CPU)");
        var t = DeviceFlowLayers.Compile(teacher, device, frozen: true); // weights only: no gradient, Adam or incremental-MADE buffers
        List<IDeviceLayer> s = [];
        try
        {
            s = DeviceFlowLayers.Compile(student, device);
            _teacher = t.Cast<DeviceAutoregressive>().ToArray();
            _student = s.Cast<DeviceInverseAutoregressive>().ToArray();
            _layers = _teacher.Length;
            _features = teacher.Features;
            _context = teacher.ContextFeatures;
            _linears = _student.SelectMany(l => l.Network.Layers).ToArray();
            if (zPass && xPass) _acc = _linears.SelectMany(l => new[] { DeviceTensor.Zeros(device, l.Out, l.In), DeviceTensor.Zeros(device, l.Out) }).ToArray();
            int maxParams = _teacher.Max(l => l.Update.ParametersPerFeature) * _features;
            _ws = new DeviceWorkspace(device, [.. Enumerable.Repeat(_features, 2 * _layers + 6), Math.Max(_features, maxParams), DeviceWorkspace.Vector]);
            _gp = _teacher.Select(l => new DeviceWorkspace(device, l.Update.ParametersPerFeature * _features)).ToArray();
            _batch = new DeviceWorkspace(device, _features, Math.Max(1, _context), _features);
            _terms = DeviceTensor.Zeros(device, 6);
            if (optimizer is not null)
            {
                (Beta1, Beta2, Eps, WeightDecay, DecoupledWeightDecay) = (optimizer.Beta1, optimizer.Beta2, optimizer.Eps, optimizer.WeightDecay, optimizer.Decoupled);
                Steps = DeviceAdam.CopyMoments(Pairs(student), optimizer, 0, toHost: false, "DeviceDistillation");
            }
        }
        catch
        {
            foreach (var l in t.Concat(s)) l.Dispose();
            foreach (var a in _acc) a.Dispose();
            _ws?.Dispose();
            foreach (var w in _gp ?? []) w.Dispose();
            _batch?.Dispose();
            _terms?.Dispose();
            throw;
        }
    }

    /// <summary>Whether the z-pass runs.</summary>
    public bool ZPass { get; }

    /// <summary>Whether the x-pass runs.</summary>
    public bool XPass { get; }

    public double Beta1 { get; set; } = 0.9;
    public double Beta2 { get; set; } = 0.999;
    public double Eps { get; set; } = 1e-8;
    public double WeightDecay { get; set; }
    public bool DecoupledWeightDecay { get; set; }

    /// <summary>Adam steps taken (the bias corrections count from it).</summary>
    public long Steps { get; private set; }

    /// <summary>The student's device linear layers in parameter order (their GW, GB hold the last step's gradients; for tests).</summary>
    internal IReadOnlyList<DeviceLinear> StudentLinears => _linears;

    /// <summary>The frozen teacher's device linear layers (for tests).</summary>
    internal IEnumerable<DeviceLinear> TeacherLinears => _teacher.SelectMany(l => l.Network.Layers);

    private DeviceTensor S(int l) => _ws[l];                     // s_l (z-pass) or v_l (x-pass), l < L
    private DeviceTensor T(int l) => _ws[_layers + l - 1];       // t_l, 1 ≤ l ≤ L
    private DeviceTensor Y => _ws[2 * _layers];
    private DeviceTensor Ld => _ws[2 * _layers + 1];
    private DeviceTensor GA => _ws[2 * _layers + 2];
    private DeviceTensor GB => _ws[2 * _layers + 3];
    private DeviceTensor GNet => _ws[2 * _layers + 4];
    private DeviceTensor GPrime => _ws[2 * _layers + 5];
    private DeviceTensor DiffBuffer => _ws[2 * _layers + 6];
    private DeviceTensor Zeros => _ws[2 * _layers + 7];

    private static DeviceTensor? ContextOf(IDeviceLayer layer, DeviceTensor? context) => (layer.Network?.ContextFeatures ?? 0) == 0 ? null : context;

    public void SetTrainingData(Tensor<float> x, Tensor<float>? context = null)
    {
        ArgumentNullException.ThrowIfNull(x);
        if (x.Rank != 2 || x.Dim(1) != _features) throw new ArgumentException($"distillation data must be [rows, {_features}], got {x.ShapeString}", nameof(x));
        int n = x.Dim(0);
        if ((context is null) != (_context == 0) || context is not null && (context.Rank != 2 || context.Dim(0) != n || context.Dim(1) != _context))
            throw new ArgumentException($"the teacher has {_context} context features: the data's context must be {(_context == 0 ? "absent" : $"[{n}, {_context}]")}, got {context?.ShapeString ?? "none"}", nameof(context));
        _data?.Dispose(); _dataContext?.Dispose();
        _data = _dataContext = null;
        _data = DeviceTensor.Upload(_dev, x);
        if (context is not null) _dataContext = DeviceTensor.Upload(_dev, context);
    }

    public void Step(ReadOnlySpan<int> rows, Tensor<float>? baseDraws, double learningRate, double? clipNorm)
    {
        var data = _data ?? throw new InvalidOperationException("Step before SetTrainingData");
        int n = rows.Length;
        if (n < 1) throw new ArgumentException("a distillation step needs at least one row", nameof(rows));
        if (ZPass != baseDraws is not null) throw new ArgumentException(ZPass ? "the z-pass needs base draws [rows, D]" : "base draws given without the z-pass", nameof(baseDraws));
        if (baseDraws is not null && (baseDraws.Rank != 2 || baseDraws.Dim(0) != n || baseDraws.Dim(1) != _features))
            throw new ArgumentException($"base draws must be [{n}, {_features}], got {baseDraws.ShapeString}", nameof(baseDraws));
        if (_rows is null || _rows.Capacity < n) { _rows?.Dispose(); _rows = new DeviceIndex(_dev, new int[n]); }
        _rows.CopyFrom(rows);
        _batch.Prepare(n);
        DeviceOps.GatherRows(data, _batch[0], _rows);
        if (_dataContext is not null) DeviceOps.GatherRows(_dataContext, _batch[1], _rows);
        if (baseDraws is not null) _batch[2].CopyFrom(baseDraws);
        Run(_batch[0], _dataContext is null ? null : _batch[1], baseDraws is null ? null : _batch[2], learningRate, clipNorm);
    }

    /// <summary>One step on device tensors: the x-pass on <paramref name="x"/>, the z-pass from <paramref name="z"/>, their context; gradients, clip, Adam.</summary>
    internal void Run(DeviceTensor x, DeviceTensor? context, DeviceTensor? z, double learningRate, double? clipNorm)
    {
        if (!(learningRate >= 0)) throw new ArgumentOutOfRangeException(nameof(learningRate), learningRate, "must be ≥ 0");
        int n = x.Rows;
        _ws.Prepare(n);
        foreach (var g in _gp) g.Prepare(n);
        DeviceOps.Fill(Zeros, 0);
        if (ZPass)
        {
            ZPassBackward(z!, context);
            if (XPass)
                for (int i = 0; i < _linears.Length; i++)
                {
                    DeviceOps.Scale(_acc[2 * i], _linears[i].GW, 1);
                    DeviceOps.Scale(_acc[2 * i + 1], _linears[i].GB, 1);
                }
        }
        if (XPass)
        {
            XPassBackward(x, context);
            if (ZPass)
                for (int i = 0; i < _linears.Length; i++)
                {
                    DeviceOps.Add(_linears[i].GW, _acc[2 * i]);
                    DeviceOps.Add(_linears[i].GB, _acc[2 * i + 1]);
                }
        }
        Steps++;
        var args = DeviceAdam.Args(learningRate, Beta1, Beta2, Eps, Steps, WeightDecay, DecoupledWeightDecay);
        _adam ??= new DeviceAdamStep(_dev);
        _adam.WriteScalars(args, clipNorm);
        _adam.Apply(_linears, clipNorm is not null);
    }

    /// <summary>The z-pass's forward, its terms and the student's gradients (assigned).</summary>
    private void ZPassBackward(DeviceTensor z, DeviceTensor? context)
    {
        int last = _layers;
        DeviceTensor s(int l) => l == last ? z : S(l);
        DeviceTensor t(int l) => l == 0 ? S(0) : T(l);
        for (int l = _layers - 1; l >= 0; l--)
        {
            var theta = _student[l].Network.Forward(s(l + 1), ContextOf(_student[l], context));
            _student[l].Update.Apply(s(l + 1), theta, s(l), Ld, inverse: true);
        }
        for (int l = 0; l < _layers; l++)
        {
            var theta = _teacher[l].Network.Forward(t(l), ContextOf(_teacher[l], context));
            _teacher[l].Update.Apply(t(l), theta, t(l + 1), Ld, inverse: false);
        }
        // backward through the teacher (to its input; θ gets MSE(θ, θ′)'s gradient), from MSE(z′, z)
        var g = GA; var gx = GB;
        Mse(t(last), z, TermZ, g, 1, assign: true);
        for (int l = _layers - 1; l >= 0; l--)
        {
            if (l < _layers - 1) Mse(t(l + 1), s(l + 1), TermIz, g, 1);
            var thetaT = _teacher[l].Network.Output;
            var gp = _gp[l][0];
            _teacher[l].Update.Backward(t(l), thetaT, g, Zeros, gx, gp);
            Mse(thetaT, _student[l].Network.Output, TermPz, gp, 1);
            _teacher[l].Network.Backward(t(l), gp, GNet, parameterGradients: false); // the frozen teacher: its input's gradient only
            DeviceOps.Add(gx, GNet);
            (g, gx) = (gx, g);
        }
        // g = d loss/d s_0: backward through the student, layer 0 first
        for (int l = 0; l < _layers; l++)
        {
            if (l >= 1) Mse(t(l), s(l), -1, g, -1);
            var thetaS = _student[l].Network.Output;
            var gp = _gp[l][0];
            InverseBackward(_student[l].Update, s(l), thetaS, g, gp, gx);
            Mse(_teacher[l].Network.Output, thetaS, -1, gp, -1);
            _student[l].Network.Backward(s(l + 1), gp, l < _layers - 1 ? GNet : null);
            if (l < _layers - 1)
            {
                DeviceOps.Add(gx, GNet);
                (g, gx) = (gx, g);
            }
        }
    }

    /// <summary>The x-pass's forward (the teacher without gradients), its terms and the student's gradients (assigned).</summary>
    private void XPassBackward(DeviceTensor x, DeviceTensor? context)
    {
        int last = _layers;
        DeviceTensor t(int l) => l == 0 ? x : T(l);
        DeviceTensor v(int l) => l == last ? T(last) : S(l);
        for (int l = 0; l < _layers; l++)
        {
            var theta = _teacher[l].Network.Forward(t(l), ContextOf(_teacher[l], context));
            _teacher[l].Update.Apply(t(l), theta, t(l + 1), Ld, inverse: false);
        }
        for (int l = _layers - 1; l >= 0; l--)
        {
            var theta = _student[l].Network.Forward(v(l + 1), ContextOf(_student[l], context));
            _student[l].Update.Apply(v(l + 1), theta, v(l), Ld, inverse: true);
        }
        var g = GA; var gx = GB;
        Mse(v(0), t(0), TermX, g, 1, assign: true);
        for (int l = 0; l < _layers; l++)
        {
            if (l >= 1) Mse(v(l), t(l), TermIx, g, 1);
            var thetaS = _student[l].Network.Output;
            var gp = _gp[l][0];
            InverseBackward(_student[l].Update, v(l), thetaS, g, gp, gx);
            Mse(thetaS, _teacher[l].Network.Output, TermPx, gp, 1);
            _student[l].Network.Backward(v(l + 1), gp, l < _layers - 1 ? GNet : null);
            if (l < _layers - 1)
            {
                DeviceOps.Add(gx, GNet);
                (g, gx) = (gx, g);
            }
        }
    }

    /// <summary>
    /// The backward of the sampling direction x = τ⁻¹(y; θ) at its output <paramref name="x"/>: from gx =
    /// <paramref name="g"/>, gθ (assigned to <paramref name="gTheta"/>) = −g·(∂τ/∂θ)(x)/τ′(x) and gy (assigned to
    /// <paramref name="gy"/>) = g/τ′(x), by the forward update's backward at x with gy′ = −g·exp(−log τ′(x)), gld = 0.
    /// </summary>
    private void InverseBackward(DeviceUpdate update, DeviceTensor x, DeviceTensor theta, DeviceTensor g, DeviceTensor gTheta, DeviceTensor gy)
        => InverseBackward(_k, update, x, theta, g, gTheta, gy, Y, Ld, GPrime, Zeros);

    /// <summary>As above with the scratch tensors given: <paramref name="y"/>, <paramref name="ld"/>, <paramref name="gPrime"/> like x, <paramref name="zeros"/> [rows] of 0.</summary>
    internal static void InverseBackward(DistillationKernels.Set k, DeviceUpdate update, DeviceTensor x, DeviceTensor theta, DeviceTensor g, DeviceTensor gTheta, DeviceTensor gy,
        DeviceTensor y, DeviceTensor ld, DeviceTensor gPrime, DeviceTensor zeros)
    {
        update.Apply(x, theta, y, ld, inverse: false);      // ld = log τ′(x) per element
        k.InverseGradient((int)g.Length, g.View, ld.View, gPrime.View);
        update.Backward(x, theta, gPrime, zeros, y, gTheta); // its gx (g′·τ′ = −g) is not needed
        DeviceOps.Scale(gy, gPrime, -1);
    }

    /// <summary>
    /// MSE(a, b) = mean (a − b)²: added to term <paramref name="term"/> (none when −1), and its gradient by a,
    /// times <paramref name="sign"/> (−1: by b), added to (or assigned to) <paramref name="grad"/>.
    /// </summary>
    private void Mse(DeviceTensor a, DeviceTensor b, int term, DeviceTensor grad, float sign, bool assign = false)
    {
        var d = DiffBuffer.Reshaped(a.Rows, a.Cols);
        long length = a.Length;
        _k.Diff((int)length, a.View, b.View, d.View);
        if (term >= 0) DeviceOps.Gemm(d, false, d, false, _terms.RowRange(term, 1), 1, 1, (int)length, 1f / length, 1);
        float scale = sign * 2f / length;
        if (assign) DeviceOps.Scale(grad, d, scale);
        else _k.Axpy((int)length, grad.View, d.View, scale);
    }

    public DistillationLoss TakeLossSums()
    {
        var t = _terms.Download().ReadOnlySpan;
        var sums = new DistillationLoss(t[TermZ], t[TermX], t[TermIz], t[TermIx], t[TermPz], t[TermPx]);
        DeviceOps.Fill(_terms, 0);
        return sums;
    }

    public void CopyTo(Flow<float> student, Adam<float>? optimizer = null)
    {
        foreach (var (host, device) in Pairs(student)) device.CopyTo(host.Weight, host.Bias!, host.Mask);
        if (optimizer is not null) DeviceAdam.CopyMoments(Pairs(student), optimizer, Steps, toHost: true, "DeviceDistillation");
    }

    /// <summary>Each student device linear beside the host student's, in parameter order.</summary>
    private List<(DeviceFlowLayers.HostLinear Host, DeviceLinear Device)> Pairs(Flow<float> student)
    {
        ArgumentNullException.ThrowIfNull(student);
        var steps = DeviceFlowLayers.Steps(student);
        if (steps.Count != _layers) throw new ArgumentException($"DeviceDistillation: the student has {steps.Count} layers, the device's {_layers}", nameof(student));
        var pairs = new List<(DeviceFlowLayers.HostLinear, DeviceLinear)>();
        for (int l = 0; l < steps.Count; l++)
        {
            var hosts = DeviceFlowLayers.Linears(steps[l]);
            var device = _student[l].Network.Layers;
            if (hosts.Count != device.Length) throw new ArgumentException($"DeviceDistillation: student layer {l} has {hosts.Count} linear layers on the host, {device.Length} on the device", nameof(student));
            for (int i = 0; i < hosts.Count; i++) pairs.Add((hosts[i], device[i]));
        }
        return pairs;
    }
    public void Dispose()
    {
        foreach (var l in _teacher) l.Dispose();
        foreach (var l in _student) l.Dispose();
        foreach (var a in _acc) a.Dispose();
        foreach (var w in _gp) w.Dispose();
        _ws.Dispose();
        _batch.Dispose();
        _rows?.Dispose();
        foreach (var t in new[] { _terms, _data, _dataContext }) t?.Dispose();
        _adam?.Dispose();
    }
}

/// <summary>The distillation's elementwise kernels, loaded once per device.</summary>
internal static class DistillationKernels
{
    /// <summary>d = a − b.</summary>
    public static void Diff(Index1D e, ArrayView<float> a, ArrayView<float> b, ArrayView<float> d) => d[e] = a[e] - b[e];

    /// <summary>y += s·x.</summary>
    public static void Axpy(Index1D e, ArrayView<float> y, ArrayView<float> x, float s) => y[e] += s * x[e];

    /// <summary>result = −g·exp(−ld): the output gradient of the forward update's backward that gives the inverse's gradients.</summary>
    public static void InverseGradient(Index1D e, ArrayView<float> g, ArrayView<float> ld, ArrayView<float> result) => result[e] = -g[e] * XMath.Exp(-ld[e]);

    internal sealed class Set(Accelerator a)
    {
        public readonly Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>> Diff =
            a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>>(DistillationKernels.Diff);
        public readonly Action<Index1D, ArrayView<float>, ArrayView<float>, float> Axpy =
            a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, float>(DistillationKernels.Axpy);
        public readonly Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>> InverseGradient =
            a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>>(DistillationKernels.InverseGradient);
    }

    private static readonly ConditionalWeakTable<ComputeDevice, Set> Sets = new();

    public static Set Of(ComputeDevice device) => Sets.GetValue(device, d => new Set(d.Accelerator));
}
