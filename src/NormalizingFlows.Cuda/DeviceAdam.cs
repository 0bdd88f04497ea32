namespace NormalizingFlows.Cuda;

/// <summary>The scalars of one Adam step exactly as Optim/Adam computes them (bias corrections in double, then float).</summary>
internal static class DeviceAdam
{
    /// <summary>
    /// Step <paramref name="step"/> (from 1) with learning rate <paramref name="lr"/> and weight decay
    /// <paramref name="weightDecay"/>: added to the gradient as L2 (Adam), or, <paramref name="decoupled"/>, the weights
    /// shrunk by 1 − lr·wd first (AdamW).
    /// </summary>
    public static AdamArgs Args(double lr, double beta1, double beta2, double eps, long step, double weightDecay = 0, bool decoupled = false)
    {
        double bc1 = 1 - Math.Pow(beta1, step), bc2 = 1 - Math.Pow(beta2, step);
        return new AdamArgs((float)beta1, (float)beta2, (float)(lr / bc1), (float)(1 / Math.Sqrt(bc2)), (float)eps,
            (float)(decoupled ? 0 : weightDecay), (float)(decoupled ? 1 - lr * weightDecay : 1));
    }
}
