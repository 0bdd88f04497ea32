using ILGPU.Algorithms;

namespace NormalizingFlows.Cuda;

/// <summary>
/// MonotonicSolver's rules for one element inside a kernel (the sigmoidal inverse's loop, UMNN's solver-step kernel):
/// the next point once the root is bracketed, and the answer from a bracket narrower than twice the tolerance.
/// </summary>
internal static class DeviceMonotonicStep
{
    /// <summary>Most Newton or bisection steps of one element (MonotonicSolver.MaxSteps).</summary>
    public const int MaxSteps = 200;

    /// <summary>Most doublings of one element's bracket (MonotonicSolver.MaxExpansions).</summary>
    public const int MaxExpansions = 1000;

    /// <summary>
    /// Newton's x − (f(x) − y)/f′(x) when it lands in [lo, hi] and its step is at most half <paramref name="older"/>
    /// (the step before last), else the midpoint; a step shorter than <paramref name="tol"/> is lengthened to it towards
    /// the root (f(x) &gt; y: below x); a point not strictly inside the bracket becomes the midpoint.
    /// </summary>
    public static double Next(double xs, double fx, double dfx, double target, double lo, double hi, double older, double tol)
    {
        double dx = -(fx - target) / dfx, newton = xs + dx;
        double next = newton >= lo && newton <= hi && XMath.Abs(dx) <= 0.5 * older ? newton : 0.5 * (lo + hi);
        if (XMath.Abs(next - xs) < tol) next = xs + (fx > target ? -tol : tol);
        return next > lo && next < hi ? next : 0.5 * (lo + hi);
    }

    /// <summary>The secant through the bracket's ends (the midpoint when the target lies outside their values).</summary>
    public static double Secant(double target, double lo, double hi, double flo, double fhi)
    {
        double t = (target - flo) / (fhi - flo);
        return t >= 0 && t <= 1 ? lo + t * (hi - lo) : 0.5 * (lo + hi);
    }
}
