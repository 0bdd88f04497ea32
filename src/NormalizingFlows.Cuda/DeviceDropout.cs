using ILGPU;
using ILGPU.Runtime;

namespace NormalizingFlows.Cuda;

/// <summary>
/// Kernels of inverted dropout on the device (Nn/Dropout in training mode). The mask of a step is drawn from the
/// counter-based hash of (the step count, the dropout site, the element): the step count is read from a device buffer
/// (<see cref="DropoutStep"/>), so a training step replayed from a captured graph draws fresh masks.
/// </summary>
internal static class DropoutKernels
{
    /// <summary>
    /// mask[e] = 0 with probability p, else <paramref name="scale"/> = 1/(1 − p) (24-bit uniform u &lt; p drops), and
    /// y[e] = h[e]·mask[e]; the stream is (step, site): the step count is step[0] + 2²⁴·step[1].
    /// </summary>
    public static void DropoutForward(Index1D e, ArrayView<float> h, ArrayView<float> mask, ArrayView<float> y, ArrayView<float> step, float p, float scale, int site)
    {
        long s = (long)step[0] + ((long)step[1] << 24);
        ulong stream = DeviceKernels.Mix(DeviceKernels.Mix((ulong)s ^ 0x5DEECE66DUL) ^ ((ulong)site * 0xD1B54A32D192ED03UL + 1));
        ulong hash = DeviceKernels.Mix(stream ^ DeviceKernels.Mix((ulong)(2L * e + 1)));
        float u = (hash >> 40) * (1.0f / 16777216.0f);
        float m = u < p ? 0f : scale;
        mask[e] = m;
        y[e] = h[e] * m;
    }

    /// <summary>The step count (lo + 2²⁴·hi, both below 2²⁴: exact in float) into the dropout step buffer (one thread).</summary>
    public static void DropoutStep(Index1D i, ArrayView<float> step, int lo, int hi)
    {
        step[0] = lo;
        step[1] = hi;
    }
}

/// <summary>
/// The dropout of one conditioner network on the device (Nn/Dropout between its hidden layers; the places are the
/// network's: <see cref="DeviceNetwork"/>, <see cref="DeviceResidualNetwork"/>): per dropout place its mask and its
/// dropped output [N, width], drawn in training steps only (<see cref="Step"/> set by the flow), the identity otherwise
/// (evaluation mode, as the CPU's). The backward multiplies the gradient by the same mask.
/// </summary>
internal sealed class DeviceDropout : IDisposable
{
    private readonly DeviceWorkspace _masks, _dropped;
    private readonly float _p, _scale;

    /// <summary>Dropout with probability <paramref name="p"/> in [0, 1] at places of the given widths; <paramref name="site"/> tells networks' masks apart.</summary>
    public DeviceDropout(ComputeDevice dev, double p, int site, int[] widths)
    {
        if (!(p >= 0 && p <= 1)) throw new ArgumentOutOfRangeException(nameof(p), p, "dropout probability must lie in [0, 1]");
        P = p;
        _p = (float)p;
        _scale = p >= 1 ? 0f : (float)(1.0 / (1.0 - p)); // as Dropout<float>: T.CreateTruncating(1.0 / (1.0 - P))
        Site = site;
        Places = widths.Length;
        _masks = new DeviceWorkspace(dev, widths);
        _dropped = new DeviceWorkspace(dev, widths);
    }

    /// <summary>The dropout places (hidden layers or residual blocks).</summary>
    public int Places { get; }

    /// <summary>The drop probability.</summary>
    public double P { get; }

    /// <summary>The network's index among the flow's dropout networks (part of the mask stream).</summary>
    public int Site { get; }

    /// <summary>The flow's step-count buffer (<see cref="DropoutKernels.DropoutStep"/>) in a training pass; null: evaluation mode (no dropout).</summary>
    public DeviceTensor? Step { get; set; }

    /// <summary>Whether the masks apply (a training pass).</summary>
    public bool Active => Step is not null;

    /// <summary>Makes the masks and dropped outputs [rows, width] (a training pass only).</summary>
    public void Prepare(int rows)
    {
        if (!Active) return;
        _masks.Prepare(rows);
        _dropped.Prepare(rows);
    }

    /// <summary>The mask of place <paramref name="i"/> from the last training pass (0 or 1/(1 − p); for tests).</summary>
    internal DeviceTensor Mask(int i) => _masks[i];

    /// <summary>What follows place <paramref name="i"/> reads in a training pass: its dropped output (<paramref name="h"/> in evaluation mode).</summary>
    public DeviceTensor Output(int i, DeviceTensor h) => Active ? _dropped[i] : h;

    /// <summary>Draws place <paramref name="i"/>'s mask and returns h∘mask (h itself in evaluation mode).</summary>
    public DeviceTensor Forward(int i, DeviceTensor h)
    {
        if (Step is not { } step) return h;
        var y = _dropped[i];
        if (h.Length != y.Length) throw new ArgumentException($"DeviceDropout: input of {h.Length} values for a place of {y.Length}");
        if (h.Length > 0) h.Device.Kernels.DropoutForward((int)h.Length, h.View, _masks[i].View, y.View, step.View, _p, _scale, Site);
        return y;
    }

    /// <summary>g ∘= mask of place <paramref name="i"/> (the gradient of h from that of h∘mask; nothing in evaluation mode).</summary>
    public void Backward(int i, DeviceTensor g)
    {
        if (Active) DeviceOps.Multiply(g, _masks[i]);
    }

    /// <summary>Writes the step count into <paramref name="step"/> [2] (one tiny launch, outside a captured graph).</summary>
    public static void WriteStep(DeviceTensor step, long count)
    {
        if (count < 0 || count >= 1L << 48) throw new ArgumentOutOfRangeException(nameof(count), count, "the step count must lie in [0, 2^48)");
        step.Device.Kernels.DropoutStep(1, step.View, (int)(count & 0xFFFFFF), (int)(count >> 24));
    }

    public void Dispose()
    {
        _masks.Dispose();
        _dropped.Dispose();
    }
}
