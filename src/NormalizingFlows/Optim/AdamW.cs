using System.Numerics;
using NormalizingFlows.Autograd;

namespace NormalizingFlows.Optim;

/// <summary>
/// AdamW (Loshchilov &amp; Hutter 2019): Adam with decoupled weight decay θ ← θ·(1 − lr·wd) applied before the
/// Adam update, independent of the gradient scale. Default weight decay 0.01 (as PyTorch).
/// </summary>
public sealed class AdamW<T> : Adam<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Creates the optimizer (PyTorch defaults).</summary>
    public AdamW(IEnumerable<Parameter<T>> parameters, double learningRate = 1e-3, double beta1 = 0.9, double beta2 = 0.999,
        double eps = 1e-8, double weightDecay = 0.01)
        : base(parameters, learningRate, beta1, beta2, eps, weightDecay, decoupled: true) { }
}
