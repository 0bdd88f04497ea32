using ILGPU;
using ILGPU.Algorithms;

namespace NormalizingFlows.Cuda;

/// <summary>
/// The field input [x, τ(t), c] of a <see cref="DeviceVectorField"/>: D data features (the first D columns of a state
/// of Width columns), E = 1 + 2F time features, C context features; the time is one value for every row
/// (<paramref name="Time"/>) or read per row (<paramref name="PerRowTime"/> 1).
/// </summary>
internal readonly record struct FieldInputArgs(int Features, int Frequencies, int Context, int StateWidth, int PerRowTime, double Time)
{
    /// <summary>The input width D + 1 + 2F + C.</summary>
    public int Width => Features + 1 + 2 * Frequencies + Context;
}

/// <summary>dst = y + Σ_s C_s·K_s over up to 7 stages of Stride elements each (a zero coefficient is skipped, as the CPU's Combine does).</summary>
internal readonly record struct CombineArgs(float C0, float C1, float C2, float C3, float C4, float C5, float C6, int Count, int Stride)
{
    public static CombineArgs Of(float[] c, int stride)
    {
        float At(int i) => i < c.Length ? c[i] : 0f;
        return new(At(0), At(1), At(2), At(3), At(4), At(5), At(6), c.Length, stride);
    }
}

/// <summary>
/// A per-row RMS of v / (atol + rtol·size) over Width state entries: Mode 0 v = a, size |b|; Mode 1 v = a − c (in
/// float), size |b|; Mode 2 the Dormand–Prince error v = H·Σ E_j K_j (stages Stride apart), size max(|b|, |c|).
/// </summary>
internal readonly record struct RowNormArgs(int Mode, int Width, double Atol, double Rtol, double H, int Stride);

/// <summary>
/// The kernels of the continuous flows (<see cref="DeviceVectorField"/>, DeviceContinuous): the field
/// input with its time features (in double, as VectorField's), the forward-mode tangents of the divergence and their
/// backward, the Runge–Kutta stage combinations and the solver's per-row error norms (as OdeIntegrator's).
/// </summary>
internal static class DeviceContinuousKernels
{
    /// <summary>u[r, ·] = [state[r, 0..D), τ(t), context[r]] with τ(t) = (t, sin 2πkt, cos 2πkt) computed in double from t rounded to float.</summary>
    public static void FieldInput(Index1D i, ArrayView<float> u, ArrayView<float> state, ArrayView<float> time, ArrayView<float> context, FieldInputArgs a)
    {
        int width = a.Width, r = i / width, col = i % width, d = a.Features, e = 1 + 2 * a.Frequencies;
        if (col < d) { u[i] = state[r * a.StateWidth + col]; return; }
        if (col >= d + e) { u[i] = context[r * a.Context + col - d - e]; return; }
        float tf = a.PerRowTime != 0 ? time[r] : (float)a.Time;
        double t = tf;
        int f = col - d;
        if (f == 0) { u[i] = tf; return; }
        int k = (f + 1) / 2;
        double angle = 2 * Math.PI * k * t;
        u[i] = (float)(f % 2 == 1 ? XMath.Sin(angle) : XMath.Cos(angle));
    }

    /// <summary>
    /// The first layer's tangents along the probes P [N·k, D]: U[q, h] = Σ_j P[q, j]·W0[h, j] (W0's first D columns),
    /// T[q, h] = U[q, h]·(1 − a[q / k, h]²).
    /// </summary>
    public static void TangentSeed(Index1D i, ArrayView<float> tu, ArrayView<float> tt, ArrayView<float> probes, ArrayView<float> w0, ArrayView<float> a, int k, int hidden, int features, int inWidth)
    {
        int q = i / hidden, h = i % hidden;
        float u = 0;
        for (int j = 0; j < features; j++) u += probes[q * features + j] * w0[h * inWidth + j];
        tu[i] = u;
        float y = a[q / k * hidden + h];
        tt[i] = (1 - y * y) * u;
    }

    /// <summary>T[q, h] = U[q, h]·(1 − a[q / k, h]²) (a hidden layer's tangents).</summary>
    public static void TangentScale(Index1D i, ArrayView<float> tu, ArrayView<float> tt, ArrayView<float> a, int k, int hidden)
    {
        int q = i / hidden, h = i % hidden;
        float y = a[q / k * hidden + h];
        tt[i] = (1 - y * y) * tu[i];
    }

    /// <summary>
    /// Row r of the derivative K [N, W]: the velocity v[r] in its first D columns and, with W = D + 1, the divergence
    /// Σ_j Σ_d vDot[r·k + j, d]·P[r·k + j, d] in column D.
    /// </summary>
    public static void Pack(Index1D r, ArrayView<float> kOut, ArrayView<float> v, ArrayView<float> vDot, ArrayView<float> probes, int features, int width, int k)
    {
        for (int d = 0; d < features; d++) kOut[r * width + d] = v[r * features + d];
        if (width == features) return;
        float sum = 0;
        for (int j = 0; j < k; j++)
        {
            int q = r * k + j;
            float s = 0;
            for (int d = 0; d < features; d++) s += vDot[q * features + d] * probes[q * features + d];
            sum += s;
        }
        kOut[r * width + features] = sum;
    }

    /// <summary>dst = y + Σ_s C_s·K_s (the stages Stride elements apart in K), adding in stage order as the CPU does.</summary>
    public static void Combine(Index1D i, ArrayView<float> dst, ArrayView<float> y, ArrayView<float> k, CombineArgs a)
    {
        float v = y[i];
        if (a.Count > 0 && a.C0 != 0) v += a.C0 * k[i];
        if (a.Count > 1 && a.C1 != 0) v += a.C1 * k[a.Stride + i];
        if (a.Count > 2 && a.C2 != 0) v += a.C2 * k[2 * a.Stride + i];
        if (a.Count > 3 && a.C3 != 0) v += a.C3 * k[3 * a.Stride + i];
        if (a.Count > 4 && a.C4 != 0) v += a.C4 * k[4 * a.Stride + i];
        if (a.Count > 5 && a.C5 != 0) v += a.C5 * k[5 * a.Stride + i];
        if (a.Count > 6 && a.C6 != 0) v += a.C6 * k[6 * a.Stride + i];
        dst[i] = v;
    }

    /// <summary>dst += c·src.</summary>
    public static void AddScaled(Index1D i, ArrayView<float> dst, ArrayView<float> src, float c) => dst[i] += c * src[i];

    /// <summary>The per-row RMS of one row (<see cref="RowNormArgs"/>) into rms[r] (NaN stays NaN).</summary>
    public static void RowNorm(Index1D r, ArrayView<double> rms, ArrayView<float> a, ArrayView<float> b, ArrayView<float> c, ArrayView<float> k, RowNormArgs o)
    {
        double sum = 0;
        for (int j = 0; j < o.Width; j++)
        {
            int i = r * o.Width + j;
            double value, size;
            if (o.Mode == 0) { value = a[i]; size = XMath.Abs((double)b[i]); }
            else if (o.Mode == 1) { value = a[i] - c[i]; size = XMath.Abs((double)b[i]); }
            else
            {
                double e = 71.0 / 57600 * k[i];
                e += -71.0 / 16695 * k[2 * o.Stride + i];
                e += 71.0 / 1920 * k[3 * o.Stride + i];
                e += -17253.0 / 339200 * k[4 * o.Stride + i];
                e += 22.0 / 525 * k[5 * o.Stride + i];
                e += -1.0 / 40 * k[6 * o.Stride + i];
                value = o.H * e;
                size = XMath.Max(XMath.Abs((double)b[i]), XMath.Abs((double)c[i]));
            }
            double q = value / (o.Atol + o.Rtol * size);
            sum += q * q;
        }
        rms[r] = XMath.Sqrt(sum / o.Width);
    }

    /// <summary>result[0] = max over the rows of rms; +∞ when any row's is NaN (one thread).</summary>
    public static void MaxNorm(Index1D i, ArrayView<double> rms, ArrayView<double> result, int rows)
    {
        double worst = 0;
        for (int r = 0; r < rows; r++)
        {
            double v = rms[r];
            if (double.IsNaN(v)) { worst = double.PositiveInfinity; break; }
            if (v > worst) worst = v;
        }
        result[0] = worst;
    }

    /// <summary>The divergence's output gradient: gvDot[q, d] = gK[q / k, D]·P[q, d] (gK [N, W], its column D the divergence's gradient).</summary>
    public static void ProbeGradient(Index1D i, ArrayView<float> gvDot, ArrayView<float> gk, ArrayView<float> probes, int k, int features, int width)
    {
        int q = i / features;
        gvDot[i] = gk[q / k * width + features] * probes[i];
    }

    /// <summary>
    /// The tangent product's backward at a tanh layer: gU = gT·(1 − a²) per tangent row, and the activation's extra
    /// gradient ga[r, h] = −2a·Σ_j gT[r·k + j, h]·U[r·k + j, h] (assigned).
    /// </summary>
    public static void SlopeBackward(Index1D i, ArrayView<float> gt, ArrayView<float> tu, ArrayView<float> a, ArrayView<float> gu, ArrayView<float> ga, int k, int hidden)
    {
        int r = i / hidden, h = i % hidden;
        float y = a[i], slope = 1 - y * y, s = 0;
        for (int j = 0; j < k; j++)
        {
            int q = (r * k + j) * hidden + h;
            float g = gt[q];
            s += g * tu[q];
            gu[q] = g * slope;
        }
        ga[i] = -2 * y * s;
    }

    /// <summary>gw[h, j] += s[h, j] for the first <paramref name="features"/> columns of gw [H, inWidth] (s [H, D]).</summary>
    public static void AddLeadingColumns(Index1D i, ArrayView<float> gw, ArrayView<float> s, int features, int inWidth)
    {
        int h = i / features, j = i % features;
        gw[h * inWidth + j] += s[i];
    }

    /// <summary>v[r, d] = k[r, d]: the first D columns of a [N, W] state or derivative.</summary>
    public static void LeadingColumns(Index1D i, ArrayView<float> v, ArrayView<float> k, int features, int width) => v[i] = k[i / features * width + i % features];

    /// <summary>g[r, c] = gx[r, c] for c &lt; D, 0 in the other columns of the [N, W] g.</summary>
    public static void PadColumns(Index1D i, ArrayView<float> g, ArrayView<float> gx, int features, int width)
    {
        int r = i / width, c = i % width;
        g[i] = c < features ? gx[r * features + c] : 0;
    }

    /// <summary>Row r·k + j of P [N·D, D] is e_j (the exact trace's probes, k = D).</summary>
    public static void IdentityProbes(Index1D i, ArrayView<float> probes, int features)
    {
        int q = i / features, j = i % features;
        probes[i] = q % features == j ? 1 : 0;
    }
}
