using ILGPU;
using ILGPU.Algorithms;

namespace NormalizingFlows.Cuda;

/// <summary>
/// The kernels of a flow-matching step (<see cref="DeviceFlow"/>'s MatchingStep), with Training/FlowMatchingLoss's
/// float arithmetic: the straight path's point and target, and the per-row squared error with its gradient.
/// </summary>
internal static class FlowMatchingKernels
{
    /// <summary>
    /// A step's draws on the device (FlowMatchingLoss.DeviceDraws): element e &lt; rows is time[e] ~ U[0, 1) (24 bits),
    /// the others are x₀[e − rows] ~ N(0, 1) (Box–Muller of two 24-bit uniforms, as DeviceKernels.NormalNoise), all from
    /// the counter-based hash of (seed, step, index); both are read from the device buffer key [6] (<see cref="DrawKey"/>),
    /// so the launch itself is the same every step (a captured graph replays it with fresh draws).
    /// </summary>
    public static void Draws(Index1D e, ArrayView<float> time, ArrayView<float> x0, ArrayView<float> key, int rows)
    {
        long s = (long)key[0] + ((long)key[1] << 24);
        ulong seed = (ulong)(long)key[2] | (ulong)(long)key[3] << 16 | (ulong)(long)key[4] << 32 | (ulong)(long)key[5] << 48;
        ulong stream = DeviceKernels.Mix(DeviceKernels.Mix(seed ^ 0x243F6A8885A308D3UL) ^ DeviceKernels.Mix((ulong)(2 * s + 1)));
        if (e < rows)
        {
            ulong h = DeviceKernels.Mix(stream ^ DeviceKernels.Mix((ulong)(4L * e + 1)));
            time[e] = (h >> 40) * (1.0f / 16777216.0f);
        }
        else
        {
            long i = e - rows;
            ulong h1 = DeviceKernels.Mix(stream ^ DeviceKernels.Mix((ulong)(4L * i + 3)));
            ulong h2 = DeviceKernels.Mix(h1 ^ 0x9E3779B97F4A7C15UL);
            float u1 = ((h1 >> 40) + 1) * (1.0f / 16777216.0f); // (0, 1]
            float u2 = (h2 >> 40) * (1.0f / 16777216.0f);       // [0, 1)
            x0[i] = XMath.Sqrt(-2 * XMath.Log(u1)) * XMath.Cos(6.28318530717958647692f * u2);
        }
    }

    /// <summary>
    /// The draws' key into key [6] (one thread): the step count as lo + 2²⁴·hi (both below 2²⁴) and the seed's four
    /// 16-bit parts, lowest first (all exact in float).
    /// </summary>
    public static void DrawKey(Index1D i, ArrayView<float> key, int lo, int hi, int s0, int s1, int s2, int s3)
    {
        key[0] = lo; key[1] = hi; key[2] = s0; key[3] = s1; key[4] = s2; key[5] = s3;
    }

    /// <summary>x_t = (1 − keep·t)·x₀ + t·x₁ and u = x₁ − keep·x₀ per element (keep = 1 − σ_min; t of the element's row).</summary>
    public static void Interpolate(Index1D e, ArrayView<float> x0, ArrayView<float> x1, ArrayView<float> time, ArrayView<float> xt, ArrayView<float> target, int cols, float keep)
    {
        float t = time[e / cols];
        float a = x0[e], b = x1[e];
        xt[e] = (1f - keep * t) * a + t * b;
        target[e] = b - keep * a;
    }

    /// <summary>
    /// Row r of the matching loss: with d = v − u, rowLoss[r] = scale·w[r]·Σ_j d² and the gradient g = 2·scale·w[r]·d
    /// (scale = 1/(N·D); w the loss weights, all 1 unweighted).
    /// </summary>
    public static void SquaredError(Index1D r, ArrayView<float> v, ArrayView<float> target, ArrayView<float> weights, ArrayView<float> gv, ArrayView<float> rowLoss, int cols, float scale)
    {
        float w = weights[r] * scale;
        float sum = 0;
        int o = r * cols;
        for (int j = 0; j < cols; j++)
        {
            float d = v[o + j] - target[o + j];
            sum += d * d;
            gv[o + j] = 2 * w * d;
        }
        rowLoss[r] = w * sum;
    }
}
