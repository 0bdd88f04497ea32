namespace NormalizingFlows.Cuda;

/// <summary>The scalars of one Adam step exactly as Optim/Adam computes them (bias corrections in double, then float).</summary>
internal static class DeviceAdam
{
    /// <summary>Step <paramref name="step"/> (from 1) with learning rate <paramref name="lr"/>, no weight decay.</summary>
    public static AdamArgs Args(double lr, double beta1, double beta2, double eps, long step)
    {
        double bc1 = 1 - Math.Pow(beta1, step), bc2 = 1 - Math.Pow(beta2, step);
        return new AdamArgs((float)beta1, (float)beta2, (float)(lr / bc1), (float)(1 / Math.Sqrt(bc2)), (float)eps);
    }
}
