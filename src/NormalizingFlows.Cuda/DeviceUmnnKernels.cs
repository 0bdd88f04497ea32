using ILGPU;
using ILGPU.Algorithms;

namespace NormalizingFlows.Cuda;

/// <summary>
/// The elementwise kernels of the UMNN update on the device (<see cref="DeviceUmnn"/>; the CPU's
/// Transforms/Monotonic/UmnnUpdate, UmnnQuadrature and IntegrandNetwork): R = N·K elements, each with parameters
/// [α, β̃, h_1 … h_E] (stride P = 2 + E), Q Clenshaw–Curtis nodes with position factors c_j (c_0 = 1: the end point)
/// and weights w_j/2, the integrand network's hidden width H. The network's layers run as GEMMs between these kernels.
/// Float arithmetic in the CPU's order: g = ELU(o) + 1 (expm1 through double), β = softplus(β̃) + 10⁻³,
/// y = β·(Σ_j w_j g_j)·x + α, log dy/dx = log β + (o_0 &lt; 0 ? o_0 : log1p(max(o_0, 0))).
/// </summary>
internal static class DeviceUmnnKernels
{
    private const float MinSlope = (float)Transforms.Monotonic.SigmoidalMap.MinSlope;

    /// <summary>h[r, e] = p[r·P + 2 + e] for h [R, E].</summary>
    public static void Embeddings(Index1D i, ArrayView<float> p, ArrayView<float> h, int embedding, int stride)
    {
        int r = i / embedding, e = i - r * embedding;
        h[i] = p[(long)(int)r * stride + 2 + e];
    }

    /// <summary>
    /// The first layer at every node: z[(r·Q + j)·H + u] = tanh(a[r, u] + s_rj·v_u) with s_rj = x_r·c_j, and
    /// s[r·Q + j] = s_rj (written by the u = 0 thread).
    /// </summary>
    public static void Expand(Index1D i, ArrayView<float> a, ArrayView<float> x, ArrayView<float> v, ArrayView<float> c, ArrayView<float> z, ArrayView<float> s, int q, int hidden)
    {
        int rj = i / hidden, u = i - rj * hidden, r = rj / q, j = rj - r * q;
        float position = x[r] * c[j];
        z[i] = XMath.Tanh(a[(long)(int)r * hidden + u] + position * v[u]);
        if (u == 0) s[rj] = position;
    }

    /// <summary>The update per element from the network's outputs o [R·Q]: y and log dy/dx.</summary>
    public static void Combine(Index1D r, ArrayView<float> x, ArrayView<float> p, ArrayView<float> o, ArrayView<float> w, ArrayView<float> y, ArrayView<float> ld, int q, int stride)
    {
        float sum = Sum(o, w, (long)(int)r * q, q);
        long b = (long)(int)r * stride;
        float beta = Softplus(p[b + 1]) + MinSlope;
        y[r] = beta * (sum * x[r]) + p[b];
        ld[r] = LogSlope(beta, o[(long)(int)r * q]);
    }

    /// <summary>
    /// The backward per element: gp's α and β̃ slots, gx = ∂y/∂x at fixed network outputs (β·Σ_j w_j g_j; assigned) and
    /// go [R·Q] = ∂loss/∂o_j (the quadrature's w_j·g′(o_j) times ∂loss/∂Σ, and the log-slope's term at node 0), for
    /// gy [R] and the row log-det gradient gld [N] (K = <paramref name="cols"/> elements a row).
    /// </summary>
    public static void Backward(Index1D r, ArrayView<float> x, ArrayView<float> p, ArrayView<float> o, ArrayView<float> w, ArrayView<float> gy, ArrayView<float> gld,
        ArrayView<float> go, ArrayView<float> gp, ArrayView<float> gx, int q, int stride, int cols)
    {
        long n = (long)(int)r * q, b = (long)(int)r * stride;
        float sum = Sum(o, w, n, q), xv = x[r], bt = p[b + 1];
        float beta = Softplus(bt) + MinSlope;
        float g = gy[r], gl = gld[r / cols];
        gp[b] = g;
        float gBeta = g * (sum * xv) + gl / beta;
        gp[b + 1] = gBeta * Sigmoid(bt);
        float gSum = g * beta * xv;
        gx[r] = g * beta * sum;
        for (int j = 0; j < q; j++)
        {
            float oj = o[n + j];
            float slope = oj > 0 ? 1f : Elu(oj) + 1;
            float v = gSum * w[j] * slope;
            if (j == 0) v += gl * (oj < 0 ? 1f : oj > 0 ? 1f / (1 + oj) : 0f); // log1p(relu(o)): relu′(0) = 0, as the CPU's
            go[n + j] = v;
        }
    }

    /// <summary>The first layer's backward per row and unit: ga[r, u] = Σ_j gz[(r·Q + j)·H + u] (gz: the pre-activation gradient).</summary>
    public static void SumNodes(Index1D i, ArrayView<float> gz, ArrayView<float> ga, int q, int hidden)
    {
        int r = i / hidden, u = i - r * hidden;
        long o = (long)(int)r * q * hidden + u;
        float acc = 0;
        for (int j = 0; j < q; j++) acc += gz[o + (long)j * hidden];
        ga[i] = acc;
    }

    /// <summary>gx[r] += Σ_j c_j·t[r·Q + j] with t = gz·v (the network's dependence on x through s_rj = x_r·c_j).</summary>
    public static void AddPositionGradient(Index1D r, ArrayView<float> t, ArrayView<float> c, ArrayView<float> gx, int q)
    {
        long o = (long)(int)r * q;
        float acc = 0;
        for (int j = 0; j < q; j++) acc += c[j] * t[o + j];
        gx[r] += acc;
    }

    /// <summary>gp[r·P + 2 + e] = gh[r, e].</summary>
    public static void ScatterEmbeddings(Index1D i, ArrayView<float> gh, ArrayView<float> gp, int embedding, int stride)
    {
        int r = i / embedding, e = i - r * embedding;
        gp[(long)(int)r * stride + 2 + e] = gh[i];
    }

    /// <summary>Doubles of solver state per element: x, lo, hi, f(lo), f(hi), the next expansion's width, the step before last, the last step, the step count, the status.</summary>
    public const int SolverState = 10;

    /// <summary>Status codes of an element's solve: open, done, the map NaN, no bracket, no convergence.</summary>
    public const int Open = 0, Done = 1, MapNaN = 2, NoBracket = 3, NoConvergence = 4;

    /// <summary>
    /// MonotonicSolver.Solve's start per element of y: a non-finite target is its own answer (done), a finite one opens
    /// at x = y with the expansion width max(1, |y|); probe = x as float.
    /// </summary>
    public static void SolverStart(Index1D i, ArrayView<float> y, ArrayView<double> state, ArrayView<float> probe, ArrayView<float> x)
    {
        long b = (long)(int)i * SolverState;
        double yi = y[i];
        state[b + 1] = double.NaN; state[b + 2] = double.NaN; state[b + 8] = 0;
        if (XMath.IsNaN(yi) || XMath.IsInfinity(yi))
        {
            x[i] = y[i];
            state[b] = 0; state[b + 9] = Done;
            probe[i] = 0;
            return;
        }
        state[b] = yi; state[b + 5] = XMath.Max(1.0, XMath.Abs(yi)); state[b + 9] = Open;
        probe[i] = (float)yi;
    }

    /// <summary>
    /// One round of MonotonicSolver.Solve per element, from f and log f′ at the probe x: the expansion while the bracket
    /// is open, then Newton when it lands in the bracket and is at most half the step before last, else bisection, a
    /// sub-tolerance step lengthened towards the root, the secant through a bracket narrower than 2·tol (the answer, into
    /// x). open[i] = 1 while the element needs another evaluation (at the new probe), failed[i] = 1 once its solve failed
    /// (where the CPU throws; the status code says why).
    /// </summary>
    public static void SolverStep(Index1D i, ArrayView<float> y, ArrayView<float> f, ArrayView<float> logSlope, ArrayView<double> state,
        ArrayView<float> probe, ArrayView<float> x, ArrayView<float> open, ArrayView<float> failed, double tolerance)
    {
        long b = (long)(int)i * SolverState;
        open[i] = 0;
        double status = state[b + 9];
        failed[i] = status >= MapNaN ? 1 : 0;
        if (status != Open) return;
        double target = y[i], xs = state[b], fx = f[i], dfx = XMath.Exp((double)logSlope[i]);
        double lo = state[b + 1], hi = state[b + 2], flo = state[b + 3], fhi = state[b + 4];
        int steps = (int)state[b + 8];
        if (XMath.IsNaN(fx)) { Fail(state, b, failed, i, MapNaN); return; }
        if (fx == target) { x[i] = (float)xs; state[b + 9] = Done; return; }
        bool bracketed = !XMath.IsNaN(lo) && !XMath.IsNaN(hi);
        if (fx < target) { lo = xs; flo = fx; } else { hi = xs; fhi = fx; }
        state[b + 1] = lo; state[b + 2] = hi; state[b + 3] = flo; state[b + 4] = fhi;
        if (XMath.IsNaN(lo) || XMath.IsNaN(hi))
        {
            bool up = XMath.IsNaN(hi);
            double width = state[b + 5];
            if (steps == DeviceMonotonicStep.MaxExpansions || XMath.IsInfinity(width) || XMath.IsNaN(width)) { Fail(state, b, failed, i, NoBracket); return; }
            xs = up ? lo + width : hi - width;
            state[b + 5] = width * 2;
            Advance(state, b, probe, open, i, xs, steps + 1);
            return;
        }
        if (!bracketed) { state[b + 6] = hi - lo; state[b + 7] = hi - lo; steps = 0; }
        double w = hi - lo, tol = tolerance * XMath.Max(1.0, XMath.Abs(xs));
        if (w <= 2 * tol)
        {
            x[i] = (float)DeviceMonotonicStep.Secant(target, lo, hi, flo, fhi);
            state[b + 9] = Done;
            return;
        }
        if (steps == DeviceMonotonicStep.MaxSteps) { Fail(state, b, failed, i, NoConvergence); return; }
        double next = DeviceMonotonicStep.Next(xs, fx, dfx, target, lo, hi, state[b + 6], tol);
        state[b + 6] = state[b + 7]; state[b + 7] = XMath.Abs(next - xs);
        Advance(state, b, probe, open, i, next, steps + 1);
    }

    private static void Advance(ArrayView<double> state, long b, ArrayView<float> probe, ArrayView<float> open, Index1D i, double xs, int steps)
    {
        state[b] = xs; state[b + 8] = steps;
        probe[i] = (float)xs;
        open[i] = 1;
    }

    private static void Fail(ArrayView<double> state, long b, ArrayView<float> failed, Index1D i, int status)
    {
        state[b + 9] = status;
        failed[i] = 1;
    }

    private static float Sum(ArrayView<float> o, ArrayView<float> w, long n, int q)
    {
        float sum = 0;
        for (int j = 0; j < q; j++) sum += (Elu(o[n + j]) + 1) * w[j];
        return sum;
    }

    private static float LogSlope(float beta, float end)
        => (float)XMath.Log((double)beta) + (end < 0 ? end : (float)Log1p(end > 0 ? end : 0));

    private static float Elu(float v) => v > 0 ? v : (float)(XMath.Exp((double)v) - 1);

    private static double Log1p(double v)
    {
        double u = 1 + v;
        return u == 1 ? v : XMath.Log(u) * v / (u - 1);
    }

    private static float Softplus(float v) => (float)(XMath.Max((double)v, 0.0) + Log1p(XMath.Exp(-XMath.Abs((double)v))));

    private static float Sigmoid(float v) => (float)(1 / (1 + XMath.Exp(-(double)v)));
}
