using System.Collections.ObjectModel;
using ILGPU;
using ILGPU.Runtime;
using NormalizingFlows.Tensors;
using NormalizingFlows.Transforms.Continuous;

namespace NormalizingFlows.Cuda;

/// <summary>
/// A continuous flow (<see cref="ContinuousTransform{T}"/>) on the device: the ODE dx/dt = v_θ(x, t[, c]) solved as
/// OdeIntegrator does, with the state [x, ℓ] (ℓ = ∫ tr(∂v/∂x) dt) in one [N, D + 1] tensor, or x alone [N, D] for
/// sampling without the log-det (InverseWithoutLogDet). Forward integrates from t = 1 to 0 (the density direction),
/// Inverse from 0 to 1. RK4 takes the fixed steps; Dormand–Prince 5(4) adapts them as the CPU does (FSAL, Hairer's
/// initial step, per-row RMS error with the largest row deciding, the same step-size factors, MaxSteps and underflow
/// errors): the step control reads one scalar back per step attempt (the error norm, reduced on the device), three
/// for the initial step, so an adaptive solve is host-driven and never part of a captured graph (a flow with a
/// continuous layer trains eagerly). The divergence is exact (D tangent rows per row, the unit probes) or Hutchinson's
/// (one Rademacher probe row per row, drawn on the host from a stream seeded with the options' ProbeSeed, as the CPU
/// transform draws its own: a fresh device layer and a fresh CPU transform draw the same probes solve for solve).
/// <para>
/// Backward is discretise-then-differentiate, as the CPU's autograd through the solver: Forward records each accepted
/// step's start state, time and step size (memory grows with the steps, N·(D + 1) floats each); Backward re-evaluates
/// each step's stages (one activation tape per stage) and takes their backward in reverse, the divergence's tangent
/// recursion included, so gx and θ's gradients are those of the computed map (the step sizes are constants).
/// </para>
/// </summary>
internal sealed class DeviceContinuous : IDeviceLayer
{
    private static readonly ReadOnlyCollection<double> C = DormandPrinceTableau.Nodes;
    private static readonly ReadOnlyCollection<ReadOnlyCollection<double>> A = DormandPrinceTableau.StageWeights;

    private readonly ComputeDevice _dev;
    private readonly int _d;
    private readonly Rng _probeStream;
    private float[] _probeValues = [];                     // the host side of the Rademacher rows, reused solve to solve
    private readonly float[][] _coefficients = [.. Enumerable.Range(0, 8).Select(s => new float[s])]; // Stage(s)'s s weights
    private readonly DeviceVectorField.Tape[] _tapes;
    private readonly Buffers _full, _xOnly;               // state width D + 1 and D
    private DeviceTensor? _probes;                         // [N·D, D] unit probes (exact) or [N, D] Rademacher rows
    private int _probeRows = -1;                           // rows the exact probes were built for
    private readonly List<DeviceTensor> _states = [];      // the recorded steps' start states [N, D + 1]
    private readonly List<(double T, double H)> _steps = [];
    private int _recordedRows = -1;                        // rows of the recorded Forward (−1: none)
    private DeviceTensor? _context;                        // the recorded Forward's context (the backward re-evaluates the stages with it)
    private readonly DeviceWorkspace _gradients;           // gY [N, D + 1], gStage [N, D + 1], gx [N, D], [N] scratch
    private readonly DeviceWorkspace _gk;                  // the stage derivatives' gradients [S·N, D + 1]

    public DeviceContinuous(ComputeDevice dev, ContinuousTransform<float> transform)
    {
        ArgumentNullException.ThrowIfNull(transform);
        _dev = dev;
        Options = transform.Options;
        Field = new DeviceVectorField(dev, transform.Field);
        _d = Field.Features;
        _probeStream = new Rng(Options.ProbeSeed);
        _tapes = [.. Enumerable.Range(0, 7).Select(_ => Field.NewTape())];
        _full = new Buffers(dev, _d + 1);
        _xOnly = new Buffers(dev, _d);
        _gradients = new DeviceWorkspace(dev, _d + 1, _d + 1, _d, DeviceWorkspace.Vector);
        _gk = new DeviceWorkspace(dev, _d + 1);
    }

    /// <summary>The solver and trace settings (the host transform's).</summary>
    public ContinuousFlowOptions Options { get; }

    /// <summary>The velocity field.</summary>
    public DeviceVectorField Field { get; }

    /// <inheritdoc/>
    public DeviceNetwork Network => Field.Network;

    /// <summary>Accepted steps of the last solve (for tests).</summary>
    internal int LastSteps { get; private set; }

    /// <inheritdoc/>
    public void Forward(DeviceTensor x, DeviceTensor? context, DeviceTensor y, DeviceTensor logDet)
    {
        int n = x.Rows;
        Solve(x, context, 1, 0, logDet: true, record: true);
        Finish(_full, n, y, logDet);
        _recordedRows = n;
        _context = context;
    }

    /// <inheritdoc/>
    public void Inverse(DeviceTensor y, DeviceTensor? context, DeviceTensor x, DeviceTensor? logDet = null)
    {
        int n = y.Rows;
        _recordedRows = -1; // a Hutchinson solve draws fresh probes: the recorded Forward's are gone
        Solve(y, context, 0, 1, logDet is not null, record: false);
        if (logDet is not null) Finish(_full, n, x, logDet);
        else if (n > 0) _dev.Kernels.CnfLeadingColumns(n * _d, x.View, _xOnly.Y.View, _d, _d);
    }

    /// <summary>x(t1) from x(t0) = <paramref name="start"/> (and ℓ from 0 when <paramref name="logDet"/>) into the buffers' Y.</summary>
    private void Solve(DeviceTensor start, DeviceTensor? context, double t0, double t1, bool logDet, bool record)
    {
        if (record) { _steps.Clear(); _recordedRows = -1; }
        int n = start.Rows;
        var b = logDet ? _full : _xOnly;
        b.Prepare(n);
        if (n > 0) _dev.Kernels.CnfPadColumns(n * b.Width, b.Y.View, start.View, _d, b.Width);
        var probes = logDet ? Probes(n) : null;
        LastSteps = 0;
        if (n == 0) return;
        if (Options.Solver == OdeSolver.RungeKutta4) Rk4(b, context, probes, t0, t1, record);
        else DormandPrince(b, context, probes, t0, t1, record);
    }

    /// <summary>x into <paramref name="x"/>, logDet += ℓ.</summary>
    private void Finish(Buffers b, int n, DeviceTensor x, DeviceTensor logDet)
    {
        if (n == 0) return;
        _dev.Kernels.CnfLeadingColumns(n * _d, x.View, b.Y.View, _d, b.Width);
        _gradients.Prepare(n);
        var column = _gradients[3];
        DeviceOps.CopyColumn(b.Y, _d, column, 0);
        DeviceOps.Add(logDet, column);
    }

    /// <summary>The probe rows for <paramref name="n"/> rows: the unit vectors (exact, built once per batch size) or a fresh Rademacher draw.</summary>
    private DeviceTensor Probes(int n)
    {
        if (Options.Trace == TraceEstimator.Exact)
        {
            if (_probeRows == n) return _probes!;
            _probes?.Dispose();
            _probes = DeviceTensor.Zeros(_dev, n * _d, _d);
            if (n > 0) _dev.Kernels.CnfIdentityProbes(n * _d * _d, _probes.View, _d);
            _probeRows = n;
            return _probes;
        }
        if (_probeValues.Length != n * _d) _probeValues = new float[n * _d];
        var values = _probeValues;
        for (int i = 0; i < values.Length; i++) values[i] = (_probeStream.NextUInt64() >> 63) == 0 ? 1f : -1f;
        if (_probes is null || _probes.Rows != n) { _probes?.Dispose(); _probes = DeviceTensor.Zeros(_dev, n, _d); }
        _probes.CopyFrom(values);
        _probeRows = -1;
        return _probes;
    }

    /// <summary>K_s = f(t, state) on tape s (velocity and, with probes, the divergence).</summary>
    private void F(Buffers b, int s, double t, DeviceTensor state, DeviceTensor? context, DeviceTensor? probes)
        => Field.Evaluate(_tapes[s], state, null, t, context, probes, b.K(s));

    /// <summary>dst = y + Σ_j c_j K_j.</summary>
    private void Combine(Buffers b, DeviceTensor dst, DeviceTensor y, float[] c)
        => _dev.Kernels.CnfCombine((int)dst.Length, dst.View, y.View, b.KAll.View, CombineArgs.Of(c, (int)y.Length));

    private void Record(Buffers b, double t, double h)
    {
        int i = _steps.Count;
        if (i == _states.Count || _states[i].Rows != b.Y.Rows || _states[i].Cols != b.Width)
        {
            var fresh = DeviceTensor.Zeros(_dev, b.Y.Rows, b.Width);
            if (i == _states.Count) _states.Add(fresh);
            else { _states[i].Dispose(); _states[i] = fresh; }
        }
        Combine(b, _states[i], b.Y, []);
        _steps.Add((t, h));
    }

    /// <summary>The stage coefficients (float, as the CPU's Combine) of stage <paramref name="s"/> (s = S: the step's result) and its time offset.</summary>
    /// <remarks>The coefficients are written into stage <paramref name="s"/>'s own buffer (s entries), valid until the next call for that stage: no allocation per stage.</remarks>
    private (float[] Coefficients, double Offset) Stage(int s, double h)
    {
        var c = _coefficients[s];
        if (Options.Solver == OdeSolver.RungeKutta4)
        {
            Array.Clear(c);
            switch (s)
            {
                case 0: return (c, 0);
                case 1: c[0] = (float)(h / 2); return (c, h / 2);
                case 2: c[1] = (float)(h / 2); return (c, h / 2);
                case 3: c[2] = (float)h; return (c, h);
                default: (c[0], c[1], c[2], c[3]) = ((float)(h / 6), (float)(h / 3), (float)(h / 3), (float)(h / 6)); return (c, h);
            }
        }
        for (int j = 0; j < s; j++) c[j] = (float)(h * A[s][j]);
        return (c, C[s] * h);
    }

    /// <summary>Stages whose derivatives make the step's result: 4 (RK4) or 6 (Dormand–Prince: its 7th evaluation is the next step's first).</summary>
    private int StageCount => Options.Solver == OdeSolver.RungeKutta4 ? 4 : 6;

    private void Rk4(Buffers b, DeviceTensor? context, DeviceTensor? probes, double t0, double t1, bool record)
    {
        int steps = Options.Steps;
        double h = (t1 - t0) / steps;
        for (int step = 0; step < steps; step++)
        {
            double t = t0 + step * h;
            if (record) Record(b, t, h);
            F(b, 0, t, b.Y, context, probes);
            for (int s = 1; s < 4; s++)
            {
                var (c, offset) = Stage(s, h);
                Combine(b, b.Stage, b.Y, c);
                F(b, s, t + offset, b.Stage, context, probes);
            }
            Combine(b, b.YNew, b.Y, Stage(4, h).Coefficients);
            b.Swap();
            LastSteps++;
        }
    }

    private void DormandPrince(Buffers b, DeviceTensor? context, DeviceTensor? probes, double t0, double t1, bool record)
    {
        var o = Options;
        double span = t1 - t0, dir = Math.Sign(span);
        if (span == 0) return;
        F(b, 0, t0, b.Y, context, probes);
        double h = dir * Math.Min(Math.Abs(span), InitialStep(b, context, probes, t0, span));
        double t = t0;
        int attempts = 0;
        while (dir * (t1 - t) > 0)
        {
            if (dir * (t + h - t1) > 0) h = t1 - t;
            DormandPrinceStepControl.CheckStep(o, t0, t1, t, h, ++attempts, nameof(Single));
            for (int s = 1; s < 7; s++)
            {
                var (c, offset) = Stage(s, h);
                var stage = s == 6 ? b.YNew : b.Stage;
                Combine(b, stage, b.Y, c);
                F(b, s, t + offset, stage, context, probes);
            }
            double err = Norm(b, new RowNormArgs(2, b.Width, o.AbsoluteTolerance, o.RelativeTolerance, h, (int)b.Y.Length), b.Y, b.Y, b.YNew);
            if (err <= 1)
            {
                if (record) Record(b, t, h);
                t += h;
                b.Swap();
                Combine(b, b.K(0), b.K(6), []); // first same as last
                LastSteps++;
            }
            h = DormandPrinceStepControl.NextStep(h, err);
        }
    }

    /// <summary>Hairer, Nørsett &amp; Wanner's starting step (OdeIntegrator.InitialStep): f(t0, y0) is in K_0; K_1 and Stage are scratch.</summary>
    private double InitialStep(Buffers b, DeviceTensor? context, DeviceTensor? probes, double t0, double span)
    {
        var o = Options;
        double d0 = Norm(b, new RowNormArgs(0, b.Width, o.AbsoluteTolerance, o.RelativeTolerance, 0, 0), b.Y, b.Y, b.Y);
        double d1 = Norm(b, new RowNormArgs(0, b.Width, o.AbsoluteTolerance, o.RelativeTolerance, 0, 0), b.K(0), b.Y, b.Y);
        double h0 = DormandPrinceStepControl.TrialStep(d0, d1, span);
        Combine(b, b.Stage, b.Y, [(float)(Math.Sign(span) * h0)]);
        F(b, 1, t0 + Math.Sign(span) * h0, b.Stage, context, probes);
        double d2 = Norm(b, new RowNormArgs(1, b.Width, o.AbsoluteTolerance, o.RelativeTolerance, 0, 0), b.K(1), b.Y, b.K(0)) / h0;
        return DormandPrinceStepControl.InitialStep(h0, d1, d2);
    }

    /// <summary>max over rows of the per-row RMS (<see cref="RowNormArgs"/>), +∞ when a row's is NaN: one double read back.</summary>
    private double Norm(Buffers b, RowNormArgs args, DeviceTensor a, DeviceTensor y, DeviceTensor c)
    {
        int n = b.Y.Rows;
        _dev.Kernels.CnfRowNorm(n, b.Rms.View.SubView(1, n), a.View, y.View, c.View, b.KAll.View, args);
        _dev.Kernels.CnfMaxNorm(1, b.Rms.View.SubView(1, n), b.Rms.View.SubView(0, 1), n);
        Span<double> result = stackalloc double[1];
        _dev.Download(b.Rms.View.SubView(0, 1), result);
        return result[0];
    }

    /// <inheritdoc/>
    public void Backward(DeviceTensor x, DeviceTensor gy, DeviceTensor gld, DeviceTensor gx, DeviceTensor? gContext = null)
    {
        int n = x.Rows;
        if (_recordedRows != n)
            throw new InvalidOperationException($"DeviceContinuous: Backward needs the Forward of the same {n} rows just before it (its recorded solver steps)");
        var b = _full;
        int w = b.Width, stages = StageCount;
        Field.ZeroGradients();
        if (n == 0) return;
        _gradients.Prepare(n);
        _gk.Prepare(stages * n);
        DeviceTensor gY = _gradients[0], gStage = _gradients[1], gxField = _gradients[2];
        var probes = _probes!;
        var k = _dev.Kernels;
        k.CnfPadColumns(n * w, gY.View, gy.View, _d, w);
        DeviceOps.CopyColumn(gld.Reshaped(n, 1), 0, gY, _d);
        var contextGradient = gContext is not null && Field.ContextFeatures > 0 ? gContext : null;
        for (int step = _steps.Count - 1; step >= 0; step--)
        {
            var (t, h) = _steps[step];
            var y = _states[step];
            // the step's stages again, each on its own tape
            F(b, 0, t, y, _context, probes);
            for (int s = 1; s < stages; s++)
            {
                var (c, offset) = Stage(s, h);
                Combine(b, b.Stage, y, c);
                F(b, s, t + offset, b.Stage, _context, probes);
            }
            // the result y + Σ b_j K_j: each K_j's gradient b_j·gY, the identity's gY stays
            DeviceOps.Fill(_gk[0], 0);
            var result = Stage(stages, h).Coefficients;
            for (int j = 0; j < stages; j++)
                if (result[j] != 0) k.CnfAddScaled(n * w, GK(j, n).View, gY.View, result[j]);
            for (int s = stages - 1; s >= 0; s--)
            {
                Field.BackwardStage(_tapes[s], GK(s, n), gxField, contextGradient);
                k.CnfPadColumns(n * w, gStage.View, gxField.View, _d, w);
                k.CnfAddScaled(n * w, gY.View, gStage.View, 1f);
                var (c, _) = Stage(s, h);
                for (int j = 0; j < c.Length; j++)
                    if (c[j] != 0) k.CnfAddScaled(n * w, GK(j, n).View, gStage.View, c[j]);
            }
        }
        k.CnfLeadingColumns(n * _d, gx.View, gY.View, _d, w);
    }

    private DeviceTensor GK(int s, int n) => _gk[0].RowRange(s * n, n);

    public void Dispose()
    {
        Field.Dispose();
        foreach (var t in _tapes) t.Dispose();
        _full.Dispose();
        _xOnly.Dispose();
        _probes?.Dispose();
        foreach (var s in _states) s.Dispose();
        _gradients.Dispose();
        _gk.Dispose();
    }

    /// <summary>The solver's buffers for a state of <see cref="Width"/> columns: Y, YNew, a stage, the 7 derivatives K and the per-row norms.</summary>
    private sealed class Buffers(ComputeDevice dev, int width) : IDisposable
    {
        private readonly DeviceWorkspace _rows = new(dev, width, width, width);
        private readonly DeviceWorkspace _k = new(dev, width);
        private MemoryBuffer1D<double, Stride1D.Dense>? _rms;
        private int _n;
        private bool _swapped;

        public int Width => width;
        public DeviceTensor Y => _rows[_swapped ? 1 : 0];
        public DeviceTensor YNew => _rows[_swapped ? 0 : 1];
        public DeviceTensor Stage => _rows[2];
        public DeviceTensor KAll => _k[0];
        public DeviceTensor K(int s) => _k[0].RowRange(s * _n, _n);
        public MemoryBuffer1D<double, Stride1D.Dense> Rms => _rms!;

        public void Prepare(int n)
        {
            _n = n;
            _swapped = false;
            _rows.Prepare(n);
            _k.Prepare(7 * n);
            if (_rms is null || _rms.Length < n + 1)
            {
                _rms?.Dispose();
                _rms = dev.Accelerator.Allocate1D<double>(n + 1);
            }
        }

        public void Swap() => _swapped = !_swapped;

        public void Dispose()
        {
            _rows.Dispose();
            _k.Dispose();
            _rms?.Dispose();
        }
    }
}
