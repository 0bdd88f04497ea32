using ILGPU;
using ILGPU.Algorithms;
using NormalizingFlows.Nn;

namespace NormalizingFlows.Cuda;

/// <summary>
/// The hidden activations of the device's networks as kernel codes: 0 none, else <see cref="Activation"/> + 1 (so
/// ReLU is 1, the code the fused bias kernels always took for it). The formulas are the CPU's (Nn/Activations over
/// Autograd/Ops, Tensors/Kernels/Elementwise): ELU with α = 1, LeakyReLU with slope 0.01. Every backward but SiLU's
/// and softplus's reads the activation's output; those two read the pre-activation, which the network keeps for them only.
/// </summary>
internal static class DeviceActivation
{
    /// <summary>No activation (the output layer).</summary>
    public const int None = 0;

    /// <summary>ReLU's code.</summary>
    public const int Relu = (int)Activation.Relu + 1;

    /// <summary>The kernel code of <paramref name="activation"/>; an unknown value throws a <see cref="NotSupportedException"/> naming it.</summary>
    public static int Code(Activation activation) => Enum.IsDefined(activation)
        ? (int)activation + 1
        : throw new NotSupportedException($"DeviceFlow: the activation {activation} is not supported");

    /// <summary>Whether the backward of <paramref name="code"/> needs the pre-activation (SiLU, softplus), not only the output.</summary>
    public static bool NeedsInput(int code) => code == (int)Activation.Silu + 1 || code == (int)Activation.Softplus + 1;
}

/// <summary>The activation kernels and the residual blocks' elementwise kernels (one thread per element).</summary>
internal static class DeviceActivationKernels
{
    private const float LeakySlope = 0.01f;

    /// <summary>activation(v) for the code (<see cref="DeviceActivation"/>).</summary>
    public static float Apply(int code, float v)
    {
        if (code == 1) return v < 0 ? 0 : v;                       // ReLU (NaN stays NaN)
        if (code == 2) return v > 0 ? v : (float)(XMath.Exp((double)v) - 1); // ELU: expm1 through double (no cancellation near 0)
        if (code == 3) return XMath.Tanh(v);
        if (code == 4) return v * Sigmoid(v);                       // SiLU
        if (code == 5) return v > 0 ? v : LeakySlope * v;           // LeakyReLU
        if (code == 6) return Sigmoid(v);
        if (code == 7) return XMath.Max(v, 0) + (float)XMath.Log(1 + (double)XMath.Exp(-XMath.Abs(v))); // softplus: log1p through double
        return v;                                                   // none, identity
    }

    /// <summary>d activation / dv from the output y and (SiLU, softplus) the input v.</summary>
    public static float Derivative(int code, float y, float v)
    {
        if (code == 1) return y > 0 ? 1 : 0;
        if (code == 2) return y > 0 ? 1 : y + 1;                    // x > 0 ⇔ y > 0; else y + α
        if (code == 3) return 1 - y * y;
        if (code == 4)
        {
            float s = Sigmoid(v);
            return s + v * s * (1 - s);
        }
        if (code == 5) return y > 0 ? 1 : LeakySlope;
        if (code == 6) return y * (1 - y);
        if (code == 7) return Sigmoid(v);
        return 1;
    }

    private static float Sigmoid(float v) => v >= 0 ? 1 / (1 + XMath.Exp(-v)) : XMath.Exp(v) / (1 + XMath.Exp(v));

    /// <summary>pre[r, j] = y[r, j] + bias[j]; y = activation(pre): the fused bias kernel keeping the pre-activation.</summary>
    public static void BiasActivationKeep(Index1D index, ArrayView<float> y, ArrayView<float> pre, ArrayView<float> bias, int cols, int code)
    {
        float v = y[index] + bias[index % cols];
        pre[index] = v;
        y[index] = Apply(code, v);
    }

    /// <summary>y = activation(x) (the residual blocks' activation of the stream).</summary>
    public static void Activate(Index1D index, ArrayView<float> x, ArrayView<float> y, int code) => y[index] = Apply(code, x[index]);

    /// <summary>g *= activation′, from the output y and the input x (x may be y where the code does not read it).</summary>
    public static void ActivationBackward(Index1D index, ArrayView<float> g, ArrayView<float> y, ArrayView<float> x, int code)
        => g[index] *= Derivative(code, y[index], x[index]);

    /// <summary>next = h + t·s (a gated block, <paramref name="gated"/> 1) or h + t.</summary>
    public static void ResidualAdd(Index1D index, ArrayView<float> next, ArrayView<float> h, ArrayView<float> t, ArrayView<float> s, int gated)
        => next[index] = h[index] + (gated != 0 ? t[index] * s[index] : t[index]);

    /// <summary>
    /// The gate's backward for u = t·s, s = sigmoid(z): gt = g·s, gz = g·t·s(1 − s).
    /// </summary>
    public static void GateBackward(Index1D index, ArrayView<float> g, ArrayView<float> t, ArrayView<float> s, ArrayView<float> gt, ArrayView<float> gz)
    {
        float gv = g[index], sv = s[index];
        gt[index] = gv * sv;
        gz[index] = gv * t[index] * sv * (1 - sv);
    }
}

/// <summary>The ops over <see cref="DeviceActivationKernels"/> (launch checks as <see cref="DeviceOps"/>).</summary>
internal static class DeviceActivationOps
{
    /// <summary>y[r, j] += bias[j], then the activation <paramref name="code"/>; the pre-activation into <paramref name="pre"/> when given.</summary>
    public static void BiasActivation(DeviceTensor y, DeviceTensor bias, int code, DeviceTensor? pre)
    {
        if (bias.Length != y.Cols) throw new ArgumentException($"bias of {bias.Length} for rows of {y.Cols}");
        if (pre is null) y.Device.Kernels.BiasActivation((int)y.Length, y.View, bias.View, y.Cols, code);
        else y.Device.Kernels.BiasActivationKeep((int)Same(y, pre), y.View, pre.View, bias.View, y.Cols, code);
    }

    /// <summary>y[r, j] += bias[r], then the activation <paramref name="code"/> (the incremental MADE's transposed hidden units).</summary>
    public static void BiasRows(DeviceTensor y, DeviceTensor bias, int code)
    {
        if (bias.Length != y.Rows) throw new ArgumentException($"bias of {bias.Length} for {y.Rows} rows");
        if (y.Length > 0) y.Device.Kernels.BiasRows((int)y.Length, y.View, bias.View, y.Cols, code);
    }

    /// <summary>y = activation(x).</summary>
    public static void Activate(DeviceTensor x, DeviceTensor y, int code) => x.Device.Kernels.Activate((int)Same(x, y), x.View, y.View, code);

    /// <summary>g *= activation′ at the output y (and the input x for SiLU and softplus); ReLU runs the ReLU kernel.</summary>
    public static void Backward(DeviceTensor g, DeviceTensor y, DeviceTensor? x, int code)
    {
        if (code == DeviceActivation.Relu) { DeviceOps.ReluBackward(g, y); return; }
        if (code == DeviceActivation.None || code == (int)Activation.Identity + 1) return;
        if (DeviceActivation.NeedsInput(code) && x is null) throw new ArgumentException("the activation's backward needs its input");
        g.Device.Kernels.ActivationBackward((int)Same(g, y), g.View, y.View, (x ?? y).View, code);
    }

    /// <summary>next = h + t·s (s given: a gated block) or h + t.</summary>
    public static void ResidualAdd(DeviceTensor next, DeviceTensor h, DeviceTensor t, DeviceTensor? s)
    {
        Same(next, h); Same(h, t);
        next.Device.Kernels.ResidualAdd((int)next.Length, next.View, h.View, t.View, (s ?? t).View, s is null ? 0 : 1);
    }

    /// <summary>gt = g·s, gz = g·t·s(1 − s) (the gate's backward).</summary>
    public static void GateBackward(DeviceTensor g, DeviceTensor t, DeviceTensor s, DeviceTensor gt, DeviceTensor gz)
    {
        Same(g, t); Same(t, s); Same(s, gt); Same(gt, gz);
        g.Device.Kernels.GateBackward((int)g.Length, g.View, t.View, s.View, gt.View, gz.View);
    }

    private static long Same(DeviceTensor a, DeviceTensor b)
    {
        if (a.Length != b.Length) throw new ArgumentException($"elementwise op on {a.Length} and {b.Length} elements");
        return a.Length;
    }
}
