using ILGPU;

namespace NormalizingFlows.Cuda;

/// <summary>
/// The kernels of a flow-matching step (<see cref="DeviceFlow"/>'s MatchingStep), with Training/FlowMatchingLoss's
/// float arithmetic: the straight path's point and target, and the per-row squared error with its gradient.
/// </summary>
internal static class FlowMatchingKernels
{
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
