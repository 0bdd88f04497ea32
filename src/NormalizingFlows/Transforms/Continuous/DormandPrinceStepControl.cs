namespace NormalizingFlows.Transforms.Continuous;

/// <summary>
/// The step-size rules of the adaptive Dormand–Prince solver, shared by every implementation of it (the library's,
/// the GPU's): Hairer, Nørsett &amp; Wanner's starting step, the step after an error estimate, and the errors a solve
/// that cannot finish throws. The error norms themselves (max over rows of the per-row RMS of value / (atol + rtol·|y|))
/// are the caller's, computed where its state lives.
/// </summary>
public static class DormandPrinceStepControl
{
    /// <summary>The trial step h₀ from the norms of y₀ (<paramref name="d0"/>) and f(t₀, y₀) (<paramref name="d1"/>), at most |span|.</summary>
    public static double TrialStep(double d0, double d1, double span)
        => Math.Min(d0 < 1e-5 || d1 < 1e-5 ? 1e-6 : 0.01 * d0 / d1, Math.Abs(span));

    /// <summary>The starting step size from the trial step <paramref name="h0"/>, <paramref name="d1"/> and the norm <paramref name="d2"/> of (f(t₀ + h₀, y₀ + h₀f₀) − f₀)/h₀.</summary>
    public static double InitialStep(double h0, double d1, double d2)
    {
        double m = Math.Max(d1, d2);
        double h1 = m <= 1e-15 ? Math.Max(1e-6, h0 * 1e-3) : Math.Pow(0.01 / m, 0.2);
        return Math.Min(100 * h0, h1);
    }

    /// <summary>The next step size after step <paramref name="h"/> with error norm <paramref name="error"/> (≤ 1: accepted; grows at most 10×, shrinks at most 5×, never grows after a rejection).</summary>
    public static double NextStep(double h, double error)
    {
        double factor = error == 0 ? 10 : 0.9 * Math.Pow(error, -0.2);
        return h * (error <= 1 ? Math.Clamp(factor, 0.2, 10) : Math.Clamp(factor, 0.2, 1));
    }

    /// <summary>
    /// Throws an <see cref="InvalidOperationException"/> naming the options when attempt <paramref name="attempt"/> is over
    /// <see cref="ContinuousFlowOptions.MaxSteps"/> or the step <paramref name="h"/> at <paramref name="t"/> has underflowed
    /// (<paramref name="precision"/>: the state's number type, for the message).
    /// </summary>
    public static void CheckStep(ContinuousFlowOptions options, double t0, double t1, double t, double h, int attempt, string precision)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (attempt > options.MaxSteps)
            throw new InvalidOperationException($"the ODE solve from t = {t0} to {t1} needed more than MaxSteps = {options.MaxSteps} steps (stuck at t = {t:G6}, step {h:G3}) with RelativeTolerance = {options.RelativeTolerance:G3} and AbsoluteTolerance = {options.AbsoluteTolerance:G3}: loosen the tolerances, raise MaxSteps, or use the fixed-step RK4 solver");
        if (Math.Abs(h) <= 1e-14 * Math.Max(1, Math.Abs(t)))
            throw new InvalidOperationException($"the ODE step size underflowed at t = {t:G6} (RelativeTolerance = {options.RelativeTolerance:G3}, AbsoluteTolerance = {options.AbsoluteTolerance:G3}): the field is too stiff for these tolerances, or they are below the precision of {precision}");
    }
}
