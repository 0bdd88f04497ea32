using ILGPU;
using ILGPU.Algorithms;

namespace NormalizingFlows.Cuda;

/// <summary>
/// The deep sigmoidal map of NAF (Transforms/Monotonic/SigmoidalMap, <see cref="Transforms.Monotonic.SigmoidalUpdate"/>):
/// K components per element, 3K parameters [ã_1 … ã_K, b_1 … b_K, w̃_1 … w̃_K]; <see cref="Tolerance"/> is the inverse's
/// relative tolerance as the CPU's float solve uses it (the map's tolerance raised to 8 float epsilons); the direction
/// and the element count per row.
/// </summary>
internal readonly record struct SigmoidalArgs(int Components, double Tolerance, int Inverse, int Cols)
{
    /// <summary>Parameters per element: 3K.</summary>
    public int ParametersPerElement => 3 * Components;
}

/// <summary>
/// The sigmoidal map's kernels, one thread per element, computed in double as SigmoidalMap computes them for float:
/// y = LSE_k(log w_k + log σ(z_k)) − LSE_k(log w_k + log σ(−z_k)) with z_k = a_k x + b_k, a_k = 10⁻³ + softplus(ã_k),
/// log w = w̃ − LSE(w̃), log dy/dx = LSE_k(log w_k + log a_k + log σ(z_k) + log σ(−z_k)) minus the two sums (each
/// log-sum-exp in two passes, the maximum then the sum, as the CPU's); the inverse is MonotonicSolver's safeguarded
/// Newton per element (bracket by doubling from x = y, then Newton when it lands in the bracket and is at most half
/// the step before last, else bisection, a sub-tolerance step lengthened towards the root, the secant through the
/// final bracket); its log|det| is −log dy/dx at the solution.
/// The components' terms are recomputed in each pass (no per-thread arrays).
/// </summary>
internal static class DeviceSigmoidalKernels
{
    private const double MinSlope = Transforms.Monotonic.SigmoidalMap.MinSlope;

    /// <summary>
    /// The map (Inverse 0: y and log dy/dx) or its inverse (Inverse 1: x and −log dy/dx at x) per element of x [N, D]
    /// with parameters [N, D·3K]. An inverse that cannot be bracketed or does not converge (only with non-finite
    /// parameters: the map is onto ℝ for finite ones) gives NaN, where the CPU's solve throws.
    /// </summary>
    public static void Apply(Index1D e, ArrayView<float> x, ArrayView<float> p, ArrayView<float> y, ArrayView<float> ld, SigmoidalArgs a)
    {
        int k = a.Components;
        long o = (long)(int)e * 3 * k;
        double lseW = LogSumExpWeights(p, o, k);
        double v = x[e];
        if (a.Inverse == 0)
        {
            double fv = Evaluate(p, o, k, lseW, v, out double logDerivative);
            y[e] = (float)fv;
            ld[e] = (float)logDerivative;
        }
        else
        {
            double xv = Solve(p, o, k, lseW, v, a.Tolerance);
            Evaluate(p, o, k, lseW, xv, out double logDerivative);
            y[e] = (float)xv;
            ld[e] = (float)-logDerivative;
        }
    }

    /// <summary>
    /// Backward of the forward map: gx [N, D] and gp [N, D·3K] (assigned) from gy [N, D] and the row log-det gradient
    /// gld [N], as SigmoidalMap.ForwardBackward (softmax weights: the w̃ gradients less w_k·Σ of them).
    /// </summary>
    public static void Backward(Index1D e, ArrayView<float> x, ArrayView<float> p, ArrayView<float> gy, ArrayView<float> gld,
        ArrayView<float> gx, ArrayView<float> gp, SigmoidalArgs a)
    {
        int k = a.Components;
        long o = (long)(int)e * 3 * k;
        double lseW = LogSumExpWeights(p, o, k);
        double v = x[e], g = gy[e], gl = gld[e / a.Cols];
        Sums(p, o, k, lseW, v, out double sp, out double sm, out double sj);
        double gxv = 0, sumW = 0;
        for (int j = 0; j < k; j++)
        {
            Component(p, o, k, j, lseW, v, g, gl, sp, sm, sj, out double gz, out double glw, out double ga, out double slope);
            gxv += gz * slope;
            gp[o + j] = (float)(ga * Sigmoid(p[o + j]));
            gp[o + k + j] = (float)gz;
            sumW += glw;
        }
        for (int j = 0; j < k; j++)
        {
            Component(p, o, k, j, lseW, v, g, gl, sp, sm, sj, out _, out double glw, out _, out _);
            gp[o + 2 * k + j] = (float)(glw - XMath.Exp(p[o + 2 * k + j] - lseW) * sumW);
        }
        gx[e] = (float)gxv;
    }

    /// <summary>One component's gradients: by z_k, by log w_k (before the softmax), by a_k; and a_k.</summary>
    private static void Component(ArrayView<float> p, long o, int k, int j, double lseW, double x, double gy, double gl, double sp, double sm, double sj,
        out double gz, out double glw, out double ga, out double slope)
    {
        Terms(p, o, k, j, lseW, x, out double lp, out double lm, out double lj, out slope, out double z);
        double sPlus = Sigmoid(z), sMinus = Sigmoid(-z);
        double pk = XMath.Exp(lp - sp), qk = XMath.Exp(lm - sm), rk = XMath.Exp(lj - sj);
        gz = gy * (pk * sMinus + qk * sPlus) + gl * (rk * (sMinus - sPlus) - pk * sMinus + qk * sPlus);
        glw = gy * (pk - qk) + gl * (rk - pk - qk);
        ga = gz * x + gl * rk / slope;
    }

    /// <summary>y at <paramref name="x"/> and log dy/dx.</summary>
    private static double Evaluate(ArrayView<float> p, long o, int k, double lseW, double x, out double logDerivative)
    {
        Sums(p, o, k, lseW, x, out double sp, out double sm, out double sj);
        logDerivative = sj - sp - sm;
        return sp - sm;
    }

    /// <summary>The three log-sum-exps over the components (each: maximum, then Σ exp(· − max); −∞ when the maximum is).</summary>
    private static void Sums(ArrayView<float> p, long o, int k, double lseW, double x, out double sp, out double sm, out double sj)
    {
        double mp = double.NegativeInfinity, mm = double.NegativeInfinity, mj = double.NegativeInfinity;
        for (int j = 0; j < k; j++)
        {
            Terms(p, o, k, j, lseW, x, out double lp, out double lm, out double lj, out _, out _);
            mp = Max(mp, lp); mm = Max(mm, lm); mj = Max(mj, lj);
        }
        double tp = 0, tm = 0, tj = 0;
        for (int j = 0; j < k; j++)
        {
            Terms(p, o, k, j, lseW, x, out double lp, out double lm, out double lj, out _, out _);
            tp += XMath.Exp(lp - mp); tm += XMath.Exp(lm - mm); tj += XMath.Exp(lj - mj);
        }
        sp = Finish(mp, tp); sm = Finish(mm, tm); sj = Finish(mj, tj);
    }

    private static double Finish(double max, double sum) => max == double.NegativeInfinity ? max : max + XMath.Log(sum);

    /// <summary>Component j's log terms at x: log w + log σ(z), log w + log σ(−z), log w + log a + both; its slope a and z.</summary>
    private static void Terms(ArrayView<float> p, long o, int k, int j, double lseW, double x, out double lp, out double lm, out double lj, out double slope, out double z)
    {
        slope = MinSlope + Softplus(p[o + j]);
        double logW = p[o + 2 * k + j] - lseW;
        z = slope * x + p[o + k + j];
        double logSigPlus = -Softplus(-z), logSigMinus = -Softplus(z);
        lp = logW + logSigPlus;
        lm = logW + logSigMinus;
        lj = logW + XMath.Log(slope) + logSigPlus + logSigMinus;
    }

    /// <summary>LSE(w̃) of the element's weight parameters (log w_k = w̃_k − LSE).</summary>
    private static double LogSumExpWeights(ArrayView<float> p, long o, int k)
    {
        double max = double.NegativeInfinity;
        for (int j = 0; j < k; j++) max = Max(max, p[o + 2 * k + j]);
        double s = 0;
        for (int j = 0; j < k; j++) s += XMath.Exp(p[o + 2 * k + j] - max);
        return max + XMath.Log(s);
    }

    /// <summary>
    /// x with f(x) = <paramref name="target"/>: MonotonicSolver.Solve for one element (NaN stays NaN, ±∞ maps to ±∞;
    /// NaN where the CPU throws).
    /// </summary>
    private static double Solve(ArrayView<float> p, long o, int k, double lseW, double target, double tolerance)
    {
        if (XMath.IsNaN(target) || XMath.IsInfinity(target)) return target;
        double xs = target;
        double fx = Evaluate(p, o, k, lseW, xs, out double ldx);
        double dfx = XMath.Exp(ldx);
        if (fx == target) return xs;
        double lo = 0, hi = 0, flo = 0, fhi = 0;
        bool hasLo = fx < target, hasHi = !hasLo;
        if (hasLo) { lo = xs; flo = fx; } else { hi = xs; fhi = fx; }
        double width = XMath.Max(1.0, XMath.Abs(target));

        // bracket: one probe per round on the missing side, doubling the distance
        for (int round = 0; !(hasLo && hasHi); round++)
        {
            bool up = !hasHi;
            if (round == DeviceMonotonicStep.MaxExpansions || XMath.IsInfinity(width) || XMath.IsNaN(width)) return double.NaN;
            double probe = up ? lo + width : hi - width;
            width *= 2;
            if (probe == xs) continue;
            double v = Evaluate(p, o, k, lseW, probe, out double ldp);
            if (XMath.IsNaN(v)) return double.NaN;
            if (v == target) return probe;
            if (v < target) { lo = probe; flo = v; hasLo = true; } else { hi = probe; fhi = v; hasHi = true; }
            xs = probe; fx = v; dfx = XMath.Exp(ldp);
        }

        // safeguarded Newton from the last point evaluated (MonotonicSolver's steps and rules)
        double older = hi - lo, old = older;
        for (int step = 0; ; step++)
        {
            double w = hi - lo, tol = tolerance * XMath.Max(1.0, XMath.Abs(xs));
            if (w <= 2 * tol) return DeviceMonotonicStep.Secant(target, lo, hi, flo, fhi);
            if (step == DeviceMonotonicStep.MaxSteps) return double.NaN;
            double next = DeviceMonotonicStep.Next(xs, fx, dfx, target, lo, hi, older, tol);
            older = old; old = XMath.Abs(next - xs);
            xs = next;
            fx = Evaluate(p, o, k, lseW, xs, out double ld);
            dfx = XMath.Exp(ld);
            if (XMath.IsNaN(fx)) return double.NaN;
            if (fx == target) return xs;
            if (fx < target) { lo = xs; flo = fx; } else { hi = xs; fhi = fx; }
        }
    }

    /// <summary>Math.Max: NaN when either is.</summary>
    private static double Max(double a, double b) => XMath.IsNaN(a) || XMath.IsNaN(b) ? double.NaN : (a > b ? a : b);

    /// <summary>ElementwiseOp.Softplus: max(v, 0) + log1p(e^−|v|).</summary>
    private static double Softplus(double v) => XMath.Max(v, 0.0) + Log1p(XMath.Exp(-XMath.Abs(v)));

    /// <summary>ElementwiseOp.Sigmoid.</summary>
    private static double Sigmoid(double v)
    {
        if (v >= 0) return 1.0 / (1.0 + XMath.Exp(-v));
        double ev = XMath.Exp(v);
        return ev / (1.0 + ev);
    }

    /// <summary>ElementwiseOp.Log1p: log(1 + v) by Kahan's trick.</summary>
    private static double Log1p(double v)
    {
        double u = 1.0 + v;
        if (u == 1.0) return v;
        if (XMath.IsInfinity(u)) return XMath.Log(u);
        return XMath.Log(u) * v / (u - 1.0);
    }
}

/// <summary>The sigmoidal map's launches with their shape checks (as <see cref="DeviceOps"/> has for the splines).</summary>
internal static class DeviceSigmoidal
{
    /// <summary>The map (or its inverse) per element of x [N, D] with parameters [N, D·3K]; y and the per-element log-det.</summary>
    public static void Apply(DeviceTensor x, DeviceTensor p, DeviceTensor y, DeviceTensor ld, SigmoidalArgs a)
    {
        if (p.Length != x.Length * a.ParametersPerElement || y.Length != x.Length || ld.Length != x.Length)
            throw new ArgumentException($"sigmoidal map: parameters must be [N, D·{a.ParametersPerElement}], outputs [N, D]");
        if (x.Length > 0) x.Device.Kernels.SigmoidalApply((int)x.Length, x.View, p.View, y.View, ld.View, a with { Cols = x.Cols });
    }

    /// <summary>Backward of the forward map: gx and gp (assigned) from gy and the row log-det gradient gld [N].</summary>
    public static void Backward(DeviceTensor x, DeviceTensor p, DeviceTensor gy, DeviceTensor gld, DeviceTensor gx, DeviceTensor gp, SigmoidalArgs a)
    {
        if (gy.Length != x.Length || gx.Length != x.Length || gp.Length != p.Length || p.Length != x.Length * a.ParametersPerElement || gld.Length != x.Rows)
            throw new ArgumentException("sigmoidal map backward: gradient shapes differ from the forward's");
        if (x.Length > 0) x.Device.Kernels.SigmoidalBackward((int)x.Length, x.View, p.View, gy.View, gld.View, gx.View, gp.View, a with { Cols = x.Cols });
    }
}
