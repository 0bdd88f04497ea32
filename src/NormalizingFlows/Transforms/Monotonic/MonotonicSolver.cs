namespace NormalizingFlows.Transforms.Monotonic;

/// <summary>Evaluates an increasing map at every element of <paramref name="x"/>: its values and derivatives.</summary>
internal delegate void MonotonicEvaluation(ReadOnlySpan<double> x, Span<double> value, Span<double> derivative);

/// <summary>
/// Inverts an increasing elementwise map f (one map per element) by safeguarded Newton: a bracket [lo, hi] with
/// f(lo) &lt; y &lt; f(hi) is found by expansion from the start x = y (widths 1, 2, 4, … times max(1, |y|)), then each
/// step takes Newton's x − (f(x) − y)/f′(x) when it lands in the bracket and is at most half the step before last
/// (rtsafe's rule: the steps, not the bracket, must shrink, since Newton nears a root from one side), the midpoint
/// otherwise; a step shorter than the tolerance is lengthened to it towards the root, so the root ends up bracketed
/// to the tolerance, and the answer is the secant through the bracket's ends. All elements are evaluated together,
/// one call of the map per round, and each element takes its own next step in every round (an expansion while its
/// bracket is open, a Newton or bisection step after), so a solve costs as many calls as its slowest element needs.
/// </summary>
internal static class MonotonicSolver
{
    /// <summary>Most Newton or bisection steps of one element (bisection at least every other step reaches 2⁻¹⁰⁰ of the bracket).</summary>
    public const int MaxSteps = 200;

    /// <summary>Most doublings of one element's bracket (2¹⁰⁰⁰ · max(1, |y|) exceeds the double range).</summary>
    internal const int MaxExpansions = 1000;

    /// <summary>The tolerance a solve in element type <typeparamref name="T"/> can reach: at least 8 machine epsilons of T.</summary>
    public static double EffectiveTolerance<T>(double tolerance) where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
        => Math.Max(tolerance, 8 * double.CreateTruncating(MachineEpsilon<T>()));

    private static T MachineEpsilon<T>() where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
        => T.BitIncrement(T.One) - T.One;

    /// <summary>
    /// Solves f(x_i) = y_i for every i into <paramref name="x"/>, to a relative step or bracket width of
    /// <paramref name="tolerance"/> (relative to max(1, |x|)). NaN stays NaN and ±∞ maps to ±∞. Throws an
    /// <see cref="ArgumentException"/> naming <paramref name="what"/>, the element and y when the map's range ends before
    /// y (no bracket) or the steps run out.
    /// </summary>
    public static void Solve(ReadOnlySpan<double> y, Span<double> x, MonotonicEvaluation f, double tolerance, string what)
    {
        int n = y.Length;
        if (x.Length != n) throw new ArgumentException($"{what}: {n} targets but {x.Length} outputs");
        if (n == 0) return;
        var lo = new double[n]; var hi = new double[n]; var flo = new double[n]; var fhi = new double[n];
        var xs = new double[n]; var fx = new double[n]; var dfx = new double[n];
        var width = new double[n]; // the next expansion's distance while the bracket is open
        var older = new double[n]; var old = new double[n]; // the step before last and the last step, once bracketed
        var steps = new int[n]; // expansions while the bracket is open, then Newton or bisection steps
        var done = new bool[n];
        int open = 0;
        for (int i = 0; i < n; i++)
        {
            double yi = y[i];
            lo[i] = double.NaN; hi[i] = double.NaN;
            xs[i] = double.IsFinite(yi) ? yi : 0;
            width[i] = Math.Max(1.0, Math.Abs(yi));
            if (!double.IsFinite(yi)) { x[i] = yi; done[i] = true; }
            else open++;
        }
        if (open == 0) return;

        f(xs, fx, dfx); // the start x = y
        while (true)
        {
            open = 0;
            for (int i = 0; i < n; i++)
            {
                if (done[i]) continue;
                if (double.IsNaN(fx[i])) throw new ArgumentException($"{what}: the map is NaN at x = {xs[i]} (element {i})");
                if (fx[i] == y[i]) { x[i] = xs[i]; done[i] = true; continue; }
                bool bracketed = !double.IsNaN(lo[i]) && !double.IsNaN(hi[i]);
                if (fx[i] < y[i]) (lo[i], flo[i]) = (xs[i], fx[i]); else (hi[i], fhi[i]) = (xs[i], fx[i]);
                if (double.IsNaN(lo[i]) || double.IsNaN(hi[i]))
                {
                    // expansion: one probe on the missing side, doubling the distance
                    bool up = double.IsNaN(hi[i]);
                    if (steps[i] == MaxExpansions || !double.IsFinite(width[i]))
                        throw new ArgumentException($"{what}: cannot bracket the inverse of y = {y[i]} (element {i}): the map stays {(up ? "below" : "above")} it up to x = {xs[i]:G6}; its range ends before y");
                    xs[i] = up ? lo[i] + width[i] : hi[i] - width[i];
                    width[i] *= 2;
                    steps[i]++;
                    open++;
                    continue;
                }
                if (!bracketed)
                {
                    // the bracket just closed: the Newton phase starts, its first two steps measured against the bracket
                    older[i] = hi[i] - lo[i]; old[i] = older[i]; steps[i] = 0;
                }
                double w = hi[i] - lo[i], tol = tolerance * Math.Max(1.0, Math.Abs(xs[i]));
                if (w <= 2 * tol)
                {
                    // the secant through the bracket's ends: exact to rounding for a bracket this narrow
                    double t = (y[i] - flo[i]) / (fhi[i] - flo[i]);
                    x[i] = t >= 0 && t <= 1 ? lo[i] + t * w : 0.5 * (lo[i] + hi[i]);
                    done[i] = true;
                    continue;
                }
                if (steps[i] == MaxSteps)
                    throw new ArgumentException($"{what}: the inverse of y = {y[i]} (element {i}) did not converge in {MaxSteps} steps (bracket [{lo[i]}, {hi[i]}])");
                // Newton when it lands in the bracket and shrinks to at most half the step before last, else bisection;
                // a step shorter than the tolerance is lengthened to it towards the root (f(x) > y: the root lies below
                // x), so the root ends up bracketed to the tolerance, also when the derivative is inexact (UMNN's exact
                // derivative vs its quadrature)
                double dx = -(fx[i] - y[i]) / dfx[i], newton = xs[i] + dx;
                double next = newton >= lo[i] && newton <= hi[i] && Math.Abs(dx) <= 0.5 * older[i] ? newton : 0.5 * (lo[i] + hi[i]);
                if (Math.Abs(next - xs[i]) < tol) next = xs[i] + (fx[i] > y[i] ? -tol : tol);
                if (!(next > lo[i] && next < hi[i])) next = 0.5 * (lo[i] + hi[i]);
                older[i] = old[i]; old[i] = Math.Abs(next - xs[i]);
                xs[i] = next;
                steps[i]++;
                open++;
            }
            if (open == 0) return;
            f(xs, fx, dfx);
        }
    }
}
