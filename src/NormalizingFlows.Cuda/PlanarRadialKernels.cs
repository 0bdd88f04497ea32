using ILGPU;
using ILGPU.Algorithms;

namespace NormalizingFlows.Cuda;

/// <summary>
/// The kernels of the planar and radial layers (<see cref="DevicePlanar"/>, <see cref="DeviceRadial"/>), one thread
/// per row, then one per parameter for the gradients' sums over the rows. Everything runs in double as
/// Transforms/Planar and Transforms/Radial compute it for float (the same expressions in the same order, the per-row
/// values the CPU keeps between its forward and backward kept in a double state [rows, width]), rounding to float
/// where the library does. Each thread recomputes the few scalars it needs from the parameters (Planar's û = u + k·w
/// with k and wᵀû, Radial's α and β) rather than reading them from a buffer.
/// </summary>
internal static class PlanarRadialKernels
{
    /// <summary>Planar's per-row state: tanh(a), 1 − tanh²(a) (forward), then ∂L/∂(wᵀy) and ∂L/∂(wᵀû) (backward).</summary>
    public const int PlanarState = 4;

    /// <summary>Radial's per-row state: r, R = ‖y − z₀‖, S (forward), then the backward's α and β terms and ∂L/∂R / R.</summary>
    public const int RadialState = 8;

    // Transforms/ElementwiseOp's scalar functions, as the library writes them
    private static double Log1p(double v)
    {
        double u = 1.0 + v;
        if (u == 1.0) return v;
        if (double.IsInfinity(u)) return XMath.Log(u);
        return XMath.Log(u) * v / (u - 1.0);
    }

    private static double Softplus(double v) => XMath.Max(v, 0.0) + Log1p(XMath.Exp(-XMath.Abs(v)));

    private static double Sigmoid(double v)
    {
        if (v >= 0) return 1.0 / (1.0 + XMath.Exp(-v));
        double e = XMath.Exp(v);
        return e / (1.0 + e);
    }

    private static double LogSech2(double v)
    {
        double a = XMath.Abs(v);
        return 2.0 * (XMath.Log(2.0) - a - Softplus(-2.0 * a));
    }

    // ---- planar: f(z) = z + û·tanh(wᵀz + b), û = u + k·w, k = (softplus(−wᵀu) − 1)/‖w‖² (Planar.Constrain) ----

    /// <summary>k of û = u + k·w, with c = wᵀu and n2 = ‖w‖², and v = wᵀû (each dot product summed in index order, as Planar.Dot).</summary>
    private static double Constrain(ArrayView<float> u, ArrayView<float> w, int d, out double c, out double n2, out double v)
    {
        c = 0; n2 = 0;
        for (int j = 0; j < d; j++)
        {
            double wj = w[j];
            c += wj * u[j];
            n2 += wj * wj;
        }
        double k = n2 > 0 ? (Softplus(-c) - 1.0) / n2 : 0.0;
        v = 0;
        for (int j = 0; j < d; j++)
        {
            double wj = w[j];
            v += wj * (u[j] + k * wj);
        }
        return k;
    }

    /// <summary>
    /// Planar.SolveAlpha: α + v·tanh(α + b) = t (v &gt; −1, strictly increasing) by Newton steps kept inside the
    /// bracket [t − |v|, t + |v|], bisection when a step leaves it, to full double precision (at most 300 steps).
    /// </summary>
    private static double SolveAlpha(double t, double v, double b)
    {
        double lo = t - XMath.Abs(v), hi = t + XMath.Abs(v);
        if (lo == hi) return t;
        double alpha = t - v * XMath.Tanh(t + b);
        if (alpha < lo) alpha = lo;
        else if (alpha > hi) alpha = hi;
        for (int it = 0; it < 300; it++)
        {
            double a = alpha + b, g = alpha + v * XMath.Tanh(a) - t;
            if (g == 0) return alpha;
            if (g < 0) lo = alpha; else hi = alpha;
            double gp = 1.0 + v * XMath.Exp(LogSech2(a));
            double next = alpha - g / gp;
            if (!(next > lo && next < hi)) next = 0.5 * (lo + hi);
            if (XMath.Abs(next - alpha) <= 1e-16 * XMath.Max(1.0, XMath.Abs(alpha))) return next;
            if (hi - lo <= 4e-16 * XMath.Max(1.0, XMath.Abs(alpha))) return next;
            alpha = next;
        }
        return alpha;
    }

    /// <summary>
    /// The density direction (Planar.Forward) of row r of y [N, D]: α = wᵀz solves α + v·tanh(α + b) = wᵀy, then
    /// z = y − û·tanh(α + b) and logDet[r] += −log(1 + v·(1 − tanh²(α + b))); tanh and 1 − tanh² kept in the state.
    /// </summary>
    public static void PlanarForward(Index1D r, ArrayView<float> y, ArrayView<float> u, ArrayView<float> w, ArrayView<float> bias,
        ArrayView<float> z, ArrayView<float> logDet, ArrayView<double> state, int d)
    {
        double k = Constrain(u, w, d, out _, out _, out double v);
        double b = bias[0];
        long o = (long)(int)r * d;
        double t = 0;
        for (int j = 0; j < d; j++) t += w[j] * (double)y[o + j];
        double alpha = SolveAlpha(t, v, b);
        double h = XMath.Tanh(alpha + b), q = XMath.Exp(LogSech2(alpha + b));
        state[(long)(int)r * PlanarState] = h;
        state[(long)(int)r * PlanarState + 1] = q;
        for (int j = 0; j < d; j++) z[o + j] = (float)(y[o + j] - (u[j] + k * w[j]) * h);
        logDet[r] += (float)-Log1p(v * q);
    }

    /// <summary>
    /// The sampling direction (Planar.Inverse) of row r of z [N, D]: y = z + û·tanh(wᵀz + b); with
    /// <paramref name="withLogDet"/> ≠ 0, logDet[r] += log(1 + v·(1 − tanh²(wᵀz + b))).
    /// </summary>
    public static void PlanarInverse(Index1D r, ArrayView<float> z, ArrayView<float> u, ArrayView<float> w, ArrayView<float> bias,
        ArrayView<float> y, ArrayView<float> logDet, int withLogDet, int d)
    {
        double k = Constrain(u, w, d, out _, out _, out double v);
        long o = (long)(int)r * d;
        double a = bias[0];
        for (int j = 0; j < d; j++) a += w[j] * (double)z[o + j];
        double h = XMath.Tanh(a), q = XMath.Exp(LogSech2(a));
        for (int j = 0; j < d; j++) y[o + j] = (float)(z[o + j] + (u[j] + k * w[j]) * h);
        if (withLogDet != 0) logDet[r] += (float)Log1p(v * q);
    }

    /// <summary>
    /// Planar.Forward's backward for row r (after <see cref="PlanarForward"/> on the same y): by implicit
    /// differentiation of the root, ∂α/∂t = 1/(1 + v·q), ∂α/∂v = −tanh/(1 + v·q); gy = gz + (∂L/∂t)·w (assigned), and
    /// ∂L/∂t and ∂L/∂v into the state for the parameters' sums.
    /// </summary>
    public static void PlanarBackwardRows(Index1D r, ArrayView<float> u, ArrayView<float> w, ArrayView<float> gz, ArrayView<float> gld,
        ArrayView<float> gy, ArrayView<double> state, int d)
    {
        double k = Constrain(u, w, d, out _, out _, out double v);
        long o = (long)(int)r * d, s = (long)(int)r * PlanarState;
        double h = state[s], q = state[s + 1], den = 1.0 + v * q, gl = gld[r];
        double gh = 0;
        for (int j = 0; j < d; j++) gh -= gz[o + j] * (u[j] + k * w[j]);
        double ga = gh * q + gl * 2.0 * v * h * q / den;
        double gv = -gl * q / den;
        double gt = ga / den;
        gv += -ga * h / den;
        state[s + 2] = gt;
        state[s + 3] = gv;
        for (int j = 0; j < d; j++) gy[o + j] = (float)(gz[o + j] + gt * w[j]);
    }

    /// <summary>
    /// The parameters' sums over the <paramref name="rows"/> rows (in row order, as Planar's backward) into
    /// sums [2D + 1]: ∂L/∂û_j (i = j &lt; D), ∂L/∂w_j before the constraint (i = D + j), ∂L/∂b (i = 2D).
    /// </summary>
    public static void PlanarBackwardColumns(Index1D i, ArrayView<float> y, ArrayView<float> u, ArrayView<float> w, ArrayView<float> gz,
        ArrayView<double> state, ArrayView<double> sums, int d, int rows)
    {
        double k = Constrain(u, w, d, out _, out _, out _);
        double acc = 0;
        if (i < d)
        {
            double wj = w[i];
            for (int r = 0; r < rows; r++)
                acc += -gz[(long)r * d + i] * state[(long)r * PlanarState] + state[(long)r * PlanarState + 3] * wj;
        }
        else if (i < 2 * d)
        {
            int j = i - d;
            double uh = u[j] + k * w[j];
            for (int r = 0; r < rows; r++)
                acc += state[(long)r * PlanarState + 2] * y[(long)r * d + j] + state[(long)r * PlanarState + 3] * uh;
        }
        else
        {
            for (int r = 0; r < rows; r++) acc += state[(long)r * PlanarState + 2];
        }
        sums[i] = acc;
    }

    /// <summary>
    /// The parameters' gradients from the sums (Planar.Finish and BackpropConstraint, assigned): gu = gû + s·k_c·w,
    /// gw = (the direct sum, rounded) + (k·gû + s·(k_c·u + 2·k_n·w), rounded), gb; s = gûᵀw, k_c = ∂k/∂c, k_n = ∂k/∂‖w‖².
    /// </summary>
    public static void PlanarFinish(Index1D j, ArrayView<float> u, ArrayView<float> w, ArrayView<double> sums,
        ArrayView<float> gu, ArrayView<float> gw, ArrayView<float> gb, int d)
    {
        double k = Constrain(u, w, d, out double c, out double n2, out _);
        double s = 0;
        for (int i = 0; i < d; i++) s += sums[i] * w[i];
        double kc = n2 > 0 ? -Sigmoid(-c) / n2 : 0.0;
        double kn = n2 > 0 ? -k / n2 : 0.0;
        double guh = sums[j], wj = w[j];
        gu[j] = (float)(guh + s * kc * wj);
        gw[j] = (float)sums[d + j] + (float)(k * guh + s * (kc * u[j] + 2.0 * kn * wj));
        if (j == 0) gb[0] = (float)sums[2 * d];
    }

    // ---- radial: f(z) = z + β·(z − z₀)/(α + ‖z − z₀‖), α = softplus(α̂), β = −α + softplus(β̂) ----

    private static double Alpha(ArrayView<float> alphaHat) => Softplus(alphaHat[0]);

    private static double Beta(ArrayView<float> betaHat, double alpha) => -alpha + Softplus(betaHat[0]);

    /// <summary>Radial.Radius: the positive root r of r² + (α + β − R)·r − αR = 0 without cancellation; s = √(B² + 4αR).</summary>
    private static double Radius(double bigR, double alpha, double beta, out double s)
    {
        double bb = alpha + beta - bigR;
        s = XMath.Sqrt(bb * bb + 4.0 * alpha * bigR);
        if (bb < 0) return 0.5 * (s - bb);
        double den = bb + s;
        return den > 0 ? 2.0 * alpha * bigR / den : 0.0;
    }

    /// <summary>
    /// The density direction (Radial.Forward) of row r of y [N, D]: R = ‖y − z₀‖, r its preimage radius, z = z₀ +
    /// (y − z₀)·ρ/(ρ + β) with ρ = α + r; logDet[r] += (D − 1)·log(ρ/(ρ + β)) − log(1 + αβ/ρ²); r, R and S into the state.
    /// </summary>
    public static void RadialForward(Index1D r, ArrayView<float> y, ArrayView<float> z0, ArrayView<float> alphaHat, ArrayView<float> betaHat,
        ArrayView<float> z, ArrayView<float> logDet, ArrayView<double> state, int d)
    {
        double alpha = Alpha(alphaHat), beta = Beta(betaHat, alpha);
        long o = (long)(int)r * d, st = (long)(int)r * RadialState;
        double bigR = 0;
        for (int j = 0; j < d; j++)
        {
            double e = y[o + j] - (double)z0[j];
            bigR += e * e;
        }
        bigR = XMath.Sqrt(bigR);
        double rr = Radius(bigR, alpha, beta, out double s);
        state[st] = rr; state[st + 1] = bigR; state[st + 2] = s;
        double rho = alpha + rr, k = rho / (rho + beta);
        for (int j = 0; j < d; j++) z[o + j] = (float)(z0[j] + k * (y[o + j] - (double)z0[j]));
        logDet[r] += (float)((d - 1) * XMath.Log(k) - Log1p(alpha * beta / (rho * rho)));
    }

    /// <summary>
    /// The sampling direction (Radial.Inverse) of row r of z [N, D]: y = z₀ + (z − z₀)·(1 + β/(α + r)), r = ‖z − z₀‖;
    /// with <paramref name="withLogDet"/> ≠ 0, logDet[r] += (D − 1)·log(1 + β/ρ) + log(1 + αβ/ρ²).
    /// </summary>
    public static void RadialInverse(Index1D r, ArrayView<float> z, ArrayView<float> z0, ArrayView<float> alphaHat, ArrayView<float> betaHat,
        ArrayView<float> y, ArrayView<float> logDet, int withLogDet, int d)
    {
        double alpha = Alpha(alphaHat), beta = Beta(betaHat, alpha);
        long o = (long)(int)r * d;
        double rr = 0;
        for (int j = 0; j < d; j++)
        {
            double e = z[o + j] - (double)z0[j];
            rr += e * e;
        }
        rr = XMath.Sqrt(rr);
        double rho = alpha + rr, c = 1.0 + beta / rho;
        for (int j = 0; j < d; j++) y[o + j] = (float)(z0[j] + c * (z[o + j] - (double)z0[j]));
        if (withLogDet != 0) logDet[r] += (float)((d - 1) * XMath.Log(c) + Log1p(alpha * beta / (rho * rho)));
    }

    /// <summary>
    /// Radial.Forward's backward for row r (after <see cref="RadialForward"/> on the same y), implicit in r
    /// (∂r/∂R = (r + α)/S, ∂r/∂α = (R − r)/S, ∂r/∂β = −r/S): gy = k·gz + (∂L/∂R / R)·(y − z₀) (assigned); the α and β
    /// terms and ∂L/∂R / R into the state for the parameters' sums.
    /// </summary>
    public static void RadialBackwardRows(Index1D r, ArrayView<float> y, ArrayView<float> z0, ArrayView<float> alphaHat, ArrayView<float> betaHat,
        ArrayView<float> gz, ArrayView<float> gld, ArrayView<float> gy, ArrayView<double> state, int d)
    {
        double alpha = Alpha(alphaHat), beta = Beta(betaHat, alpha);
        long o = (long)(int)r * d, st = (long)(int)r * RadialState;
        double rr = state[st], bigR = state[st + 1], s = state[st + 2], rho = alpha + rr, pb = rho + beta, k = rho / pb;
        double ee = 1.0 + alpha * beta / (rho * rho);
        double gl = gld[r];
        double gk = 0;
        for (int j = 0; j < d; j++) gk += gz[o + j] * (y[o + j] - (double)z0[j]);
        gk += gl * (d - 1) / k;
        double ge = -gl / ee;
        double grho = gk * beta / (pb * pb) + ge * (-2.0 * alpha * beta / (rho * rho * rho));
        double b1 = gk * (-rho / (pb * pb)) + ge * alpha / (rho * rho);
        double a1 = grho + ge * beta / (rho * rho);
        double a2 = 0, b2 = 0, gR = 0;
        if (s > 0)
        {
            gR = grho * (rr + alpha) / s;
            a2 = grho * (bigR - rr) / s;
            b2 = grho * (-rr / s);
        }
        double gRn = bigR > 0 ? gR / bigR : 0.0;
        state[st + 3] = a1; state[st + 4] = a2; state[st + 5] = b1; state[st + 6] = b2; state[st + 7] = gRn;
        for (int j = 0; j < d; j++) gy[o + j] = (float)(k * gz[o + j] + gRn * (y[o + j] - (double)z0[j]));
    }

    /// <summary>
    /// The parameters' gradients, summed over the <paramref name="rows"/> rows in row order (assigned): gz₀_j (i = j &lt; D),
    /// and (i = D) the α̂ and β̂ gradients through α = softplus(α̂), β = −α + softplus(β̂) (Radial.Finish).
    /// </summary>
    public static void RadialBackwardColumns(Index1D i, ArrayView<float> y, ArrayView<float> z0, ArrayView<float> alphaHat, ArrayView<float> betaHat,
        ArrayView<float> gz, ArrayView<double> state, ArrayView<float> gz0, ArrayView<float> gAlphaHat, ArrayView<float> gBetaHat, int d, int rows)
    {
        double alpha = Alpha(alphaHat), beta = Beta(betaHat, alpha);
        if (i < d)
        {
            double acc = 0, z0j = z0[i];
            for (int r = 0; r < rows; r++)
            {
                long st = (long)r * RadialState;
                double rho = alpha + state[st], k = rho / (rho + beta), g = gz[(long)r * d + i];
                double gej = k * g + state[st + 7] * (y[(long)r * d + i] - z0j);
                acc += g - gej;
            }
            gz0[i] = (float)acc;
            return;
        }
        double ga = 0, gbeta = 0;
        for (int r = 0; r < rows; r++)
        {
            long st = (long)r * RadialState;
            ga += state[st + 3];
            gbeta += state[st + 5];
            if (state[st + 2] > 0)
            {
                ga += state[st + 4];
                gbeta += state[st + 6];
            }
        }
        gAlphaHat[0] = (float)((ga - gbeta) * Sigmoid(alphaHat[0]));
        gBetaHat[0] = (float)(gbeta * Sigmoid(betaHat[0]));
    }
}
