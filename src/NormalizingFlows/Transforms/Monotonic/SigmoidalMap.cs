using System.Numerics;

namespace NormalizingFlows.Transforms.Monotonic;

/// <summary>
/// The deep sigmoidal map of neural autoregressive flows (DSF, Huang et al. 2018), one per element:
/// y = σ⁻¹(Σ_k w_k σ(a_k x + b_k)) with K components, a_k = 10⁻³ + softplus(ã_k) and w = softmax(w̃); parameters per
/// element [ã_1 … ã_K, b_1 … b_K, w̃_1 … w̃_K]. Evaluated in log space, in double for float and double alike:
/// y = LSE_k(log w_k + log σ(z_k)) − LSE_k(log w_k + log σ(−z_k)) with z_k = a_k x + b_k (σ⁻¹(p) = log p − log(1 − p) and
/// 1 − Σ w σ(z) = Σ w σ(−z), so nothing cancels), and log dy/dx = LSE_k(log w_k + log a_k + log σ(z_k) + log σ(−z_k))
/// minus the two sums. Tails: it maps ℝ onto ℝ and is asymptotically affine, y ≈ a_min·x + const for x → ±∞ (the
/// component of smallest slope wins), so inputs of any size give finite outputs and log-derivatives. The inverse is
/// the safeguarded Newton of <see cref="MonotonicSolver"/> to <see cref="Tolerance"/>; its gradients are implicit.
/// </summary>
public sealed record SigmoidalMap : IElementwiseMap
{
    /// <summary>The least slope a_k (and UMNN's least scale β): the tails' slope stays ≥ 1e−3 even where softplus underflows.</summary>
    public const double MinSlope = 1e-3;

    /// <summary>softplus⁻¹(1 − <see cref="MinSlope"/>): the raw value of a unit slope.</summary>
    internal static readonly double UnitSlope = Math.Log(Math.Exp(1 - MinSlope) - 1);

    /// <summary>A map with <paramref name="components"/> sigmoids; the inverse converges to <paramref name="tolerance"/> (relative).</summary>
    public SigmoidalMap(int components = 8, double tolerance = 1e-12)
    {
        if (components < 1) throw new ArgumentOutOfRangeException(nameof(components), components, "the sigmoidal map needs at least one component");
        if (!(tolerance > 0 && tolerance < 1)) throw new ArgumentOutOfRangeException(nameof(tolerance), tolerance, "the inverse's tolerance must lie in (0, 1)");
        Components = components;
        Tolerance = tolerance;
    }

    /// <summary>Sigmoid components K.</summary>
    public int Components { get; }

    /// <summary>Relative tolerance of the inverse (raised to 8 float epsilons in float).</summary>
    public double Tolerance { get; }

    /// <inheritdoc/>
    public int ParametersPerElement => 3 * Components;

    /// <summary>
    /// The identity: unit slopes and zero offsets (σ⁻¹(σ(x)) = x for any weights), with weights that differ between
    /// components (w̃_k spread over [−0.5, 0.5]) so that their gradients differ and the components part from the start.
    /// </summary>
    public double[] IdentityParameters()
    {
        int k = Components;
        var p = new double[3 * k];
        for (int j = 0; j < k; j++)
        {
            p[j] = UnitSlope;
            p[2 * k + j] = k == 1 ? 0 : -0.5 + (double)j / (k - 1);
        }
        return p;
    }

    /// <inheritdoc/>
    public void Forward<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> parameters, Span<T> y, Span<T> logAbsDet) where T : unmanaged, IFloatingPointIeee754<T>
    {
        Check(x.Length, parameters.Length, y.Length);
        var c = new Scratch(Components);
        for (int i = 0; i < x.Length; i++)
        {
            c.Load(parameters.Slice(i * ParametersPerElement, ParametersPerElement));
            var (v, ld) = c.Evaluate(double.CreateTruncating(x[i]));
            y[i] = T.CreateTruncating(v);
            logAbsDet[i] = T.CreateTruncating(ld);
        }
    }

    /// <inheritdoc/>
    public void Inverse<T>(ReadOnlySpan<T> y, ReadOnlySpan<T> parameters, Span<T> x, Span<T> logAbsDet) where T : unmanaged, IFloatingPointIeee754<T>
    {
        Check(y.Length, parameters.Length, x.Length);
        var xs = Solve(y, parameters);
        var c = new Scratch(Components);
        for (int i = 0; i < y.Length; i++)
        {
            c.Load(parameters.Slice(i * ParametersPerElement, ParametersPerElement));
            x[i] = T.CreateTruncating(xs[i]);
            logAbsDet[i] = T.CreateTruncating(-c.Evaluate(xs[i]).LogDerivative);
        }
    }

    /// <inheritdoc/>
    public void ForwardBackward<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> parameters, ReadOnlySpan<T> gradY, ReadOnlySpan<T> gradLogAbsDet,
        Span<T> gradX, Span<T> gradParameters) where T : unmanaged, IFloatingPointIeee754<T>
    {
        Check(x.Length, parameters.Length, gradX.Length);
        int m = ParametersPerElement;
        var c = new Scratch(Components);
        var g = new double[m];
        for (int i = 0; i < x.Length; i++)
        {
            c.Load(parameters.Slice(i * m, m));
            Array.Clear(g);
            double gx = c.Backward(double.CreateTruncating(x[i]), double.CreateTruncating(gradY[i]), double.CreateTruncating(gradLogAbsDet[i]), g);
            gradX[i] += T.CreateTruncating(gx);
            var gp = gradParameters.Slice(i * m, m);
            for (int j = 0; j < m; j++) gp[j] += T.CreateTruncating(g[j]);
        }
    }

    /// <inheritdoc/>
    public void InverseBackward<T>(ReadOnlySpan<T> y, ReadOnlySpan<T> parameters, ReadOnlySpan<T> gradX, ReadOnlySpan<T> gradLogAbsDet,
        Span<T> gradY, Span<T> gradParameters) where T : unmanaged, IFloatingPointIeee754<T>
    {
        Check(y.Length, parameters.Length, gradY.Length);
        int m = ParametersPerElement;
        var xs = Solve(y, parameters);
        var c = new Scratch(Components);
        var g = new double[m];
        for (int i = 0; i < y.Length; i++)
        {
            c.Load(parameters.Slice(i * m, m));
            double xi = xs[i];
            if (!double.IsFinite(xi)) { gradY[i] = T.NaN; continue; }
            // implicit differentiation of x = f⁻¹(y; θ), log|dx/dy| = −log f′(x; θ):
            // q = (g_x − g_l·∂log f′/∂x)/f′ is dL/dy, and the θ-gradient is f's backward with (g_y, g_l) = (−q, −g_l)
            double gl = double.CreateTruncating(gradLogAbsDet[i]);
            Array.Clear(g);
            double dLogDerivative = c.Backward(xi, 0, 1, g);
            double q = (double.CreateTruncating(gradX[i]) - gl * dLogDerivative) / Math.Exp(c.Evaluate(xi).LogDerivative);
            Array.Clear(g);
            c.Backward(xi, -q, -gl, g);
            gradY[i] += T.CreateTruncating(q);
            var gp = gradParameters.Slice(i * m, m);
            for (int j = 0; j < m; j++) gp[j] += T.CreateTruncating(g[j]);
        }
    }

    /// <summary>x = f⁻¹(y) per element in double.</summary>
    private double[] Solve<T>(ReadOnlySpan<T> y, ReadOnlySpan<T> parameters) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int n = y.Length, m = ParametersPerElement, k = Components;
        var yd = new double[n]; var xd = new double[n];
        for (int i = 0; i < n; i++) yd[i] = double.CreateTruncating(y[i]);
        var p = new double[n * m];
        for (int i = 0; i < p.Length; i++) p[i] = double.CreateTruncating(parameters[i]);
        var c = new Scratch(k);
        double tolerance = MonotonicSolver.EffectiveTolerance<T>(Tolerance);
        MonotonicSolver.Solve(yd, xd, (xs, f, df) =>
        {
            for (int i = 0; i < xs.Length; i++)
            {
                c.Load(p.AsSpan(i * m, m));
                var (v, ld) = c.Evaluate(xs[i]);
                f[i] = v;
                df[i] = Math.Exp(ld);
            }
        }, tolerance, "sigmoidal map");
        return xd;
    }

    private void Check(int elements, int parameters, int outputs)
    {
        if (parameters != elements * ParametersPerElement)
            throw new ArgumentException($"sigmoidal map: {elements} elements need {elements * ParametersPerElement} parameters ({ParametersPerElement} each), got {parameters}");
        if (outputs != elements) throw new ArgumentException($"sigmoidal map: {elements} inputs but {outputs} outputs");
    }

    /// <summary>One element's components in double: slopes, offsets, log-weights, and the buffers of an evaluation.</summary>
    private sealed class Scratch(int k)
    {
        private readonly double[] _rawSlope = new double[k], _a = new double[k], _logA = new double[k], _b = new double[k], _logW = new double[k];
        private readonly double[] _lp = new double[k], _lm = new double[k], _lj = new double[k];

        public void Load<T>(ReadOnlySpan<T> p) where T : unmanaged, IFloatingPointIeee754<T>
        {
            double max = double.NegativeInfinity;
            for (int j = 0; j < k; j++)
            {
                double raw = double.CreateTruncating(p[j]);
                _rawSlope[j] = raw;
                _a[j] = MinSlope + ElementwiseOp.Softplus(raw);
                _logA[j] = Math.Log(_a[j]);
                _b[j] = double.CreateTruncating(p[k + j]);
                _logW[j] = double.CreateTruncating(p[2 * k + j]);
                max = Math.Max(max, _logW[j]);
            }
            double s = 0;
            for (int j = 0; j < k; j++) s += Math.Exp(_logW[j] - max);
            double lse = max + Math.Log(s);
            for (int j = 0; j < k; j++) _logW[j] -= lse;
        }

        /// <summary>y and log dy/dx at <paramref name="x"/>; fills the per-component log terms.</summary>
        public (double Value, double LogDerivative) Evaluate(double x)
        {
            for (int j = 0; j < k; j++)
            {
                double z = _a[j] * x + _b[j];
                double logSigPlus = -ElementwiseOp.Softplus(-z), logSigMinus = -ElementwiseOp.Softplus(z);
                _lp[j] = _logW[j] + logSigPlus;
                _lm[j] = _logW[j] + logSigMinus;
                _lj[j] = _logW[j] + _logA[j] + logSigPlus + logSigMinus;
            }
            double sp = LogSumExp(_lp), sm = LogSumExp(_lm), sj = LogSumExp(_lj);
            return (sp - sm, sj - sp - sm);
        }

        /// <summary>Adds the parameter gradients of g_y·y + g_l·log dy/dx at <paramref name="x"/> into <paramref name="grad"/>; returns the x-gradient.</summary>
        public double Backward(double x, double gy, double gl, Span<double> grad)
        {
            Evaluate(x);
            double sp = LogSumExp(_lp), sm = LogSumExp(_lm), sj = LogSumExp(_lj);
            double gx = 0, sumW = 0;
            for (int j = 0; j < k; j++)
            {
                double z = _a[j] * x + _b[j];
                double sPlus = ElementwiseOp.Sigmoid(z), sMinus = ElementwiseOp.Sigmoid(-z);
                double p = Math.Exp(_lp[j] - sp), q = Math.Exp(_lm[j] - sm), r = Math.Exp(_lj[j] - sj);
                double gz = gy * (p * sMinus + q * sPlus) + gl * (r * (sMinus - sPlus) - p * sMinus + q * sPlus);
                double glw = gy * (p - q) + gl * (r - p - q);
                gx += gz * _a[j];
                double ga = gz * x + gl * r / _a[j];
                grad[j] += ga * ElementwiseOp.Sigmoid(_rawSlope[j]);
                grad[k + j] += gz;
                grad[2 * k + j] += glw;
                sumW += glw;
            }
            for (int j = 0; j < k; j++) grad[2 * k + j] -= Math.Exp(_logW[j]) * sumW;
            return gx;
        }

        private double LogSumExp(double[] v)
        {
            double max = double.NegativeInfinity;
            for (int j = 0; j < k; j++) max = Math.Max(max, v[j]);
            if (double.IsNegativeInfinity(max)) return max;
            double s = 0;
            for (int j = 0; j < k; j++) s += Math.Exp(v[j] - max);
            return max + Math.Log(s);
        }
    }
}
