namespace NormalizingFlows.Transforms.Monotonic;

/// <summary>Evaluates an increasing map at every element of <paramref name="x"/>: its values and derivatives.</summary>
internal delegate void MonotonicEvaluation(ReadOnlySpan<double> x, Span<double> value, Span<double> derivative);

/// <summary>
/// Inverts an increasing elementwise map f (one map per element) by safeguarded Newton: a bracket [lo, hi] with
/// f(lo) &lt; y &lt; f(hi) is found by expansion from the start x = y (widths 1, 2, 4, … times max(1, |y|)), then each
/// step takes Newton's x − (f(x) − y)/f′(x) when it lands inside the bracket and the bracket halved over the last two
/// steps, the midpoint otherwise, until the bracket is narrower than twice the tolerance; the answer is the secant through its ends. All elements are evaluated together (one call of the map per step).
/// </summary>
internal static class MonotonicSolver
{
    /// <summary>Most steps of the Newton phase (bisection at least every other step reaches 2⁻¹⁰⁰ of the bracket).</summary>
    public const int MaxSteps = 200;

    /// <summary>Most doublings of the bracket (2¹⁰⁰⁰ · max(1, |y|) exceeds the double range).</summary>
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
        var lo = new double[n]; var hi = new double[n]; var flo = new double[n]; var fhi = new double[n]; var fx = new double[n]; var dfx = new double[n];
        var width = new double[n];
        var done = new bool[n];
        var xs = new double[n];
        int open = 0;
        for (int i = 0; i < n; i++)
        {
            double yi = y[i];
            lo[i] = double.NaN; hi[i] = double.NaN;
            xs[i] = double.IsFinite(yi) ? yi : 0;
            if (!double.IsFinite(yi)) { x[i] = yi; done[i] = true; }
            else open++;
        }
        if (open == 0) return;

        // bracket: the start, then one probe per round on the missing side, doubling the distance
        f(xs, fx, dfx);
        for (int i = 0; i < n; i++)
        {
            if (done[i]) continue;
            if (fx[i] == y[i]) { x[i] = xs[i]; done[i] = true; continue; }
            if (fx[i] < y[i]) (lo[i], flo[i]) = (xs[i], fx[i]); else (hi[i], fhi[i]) = (xs[i], fx[i]);
            width[i] = Math.Max(1.0, Math.Abs(y[i]));
        }
        var probe = new double[n]; var fp = new double[n]; var dfp = new double[n];
        for (int round = 0; ; round++)
        {
            bool missing = false;
            for (int i = 0; i < n; i++)
            {
                probe[i] = xs[i];
                if (done[i] || (!double.IsNaN(lo[i]) && !double.IsNaN(hi[i]))) continue;
                missing = true;
                bool up = double.IsNaN(hi[i]);
                if (round == MaxExpansions || !double.IsFinite(width[i]))
                    throw new ArgumentException($"{what}: cannot bracket the inverse of y = {y[i]} (element {i}): the map stays {(up ? "below" : "above")} it up to x = {xs[i]:G6}; its range ends before y");
                probe[i] = up ? lo[i] + width[i] : hi[i] - width[i];
                width[i] *= 2;
            }
            if (!missing) break;
            f(probe, fp, dfp);
            for (int i = 0; i < n; i++)
            {
                if (done[i] || probe[i] == xs[i]) continue;
                double v = fp[i];
                if (double.IsNaN(v)) throw new ArgumentException($"{what}: the map is NaN at x = {probe[i]} (element {i})");
                if (v == y[i]) { x[i] = probe[i]; done[i] = true; continue; }
                if (v < y[i]) (lo[i], flo[i]) = (probe[i], v); else (hi[i], fhi[i]) = (probe[i], v);
                xs[i] = probe[i]; fx[i] = v; dfx[i] = dfp[i];
            }
        }

        // safeguarded Newton from the last point evaluated: bisection unless the bracket halved over the last two steps;
        // a step shorter than the tolerance is lengthened to it (Brent's rule), so the root ends up bracketed to the tolerance
        // even when the derivative is inexact (UMNN's exact derivative vs its quadrature)
        var older = new double[n]; var old = new double[n];
        for (int i = 0; i < n; i++) { older[i] = double.PositiveInfinity; old[i] = double.PositiveInfinity; }
        for (int step = 0; ; step++)
        {
            open = 0;
            for (int i = 0; i < n; i++)
            {
                if (done[i]) continue;
                double w = hi[i] - lo[i], tol = tolerance * Math.Max(1.0, Math.Abs(xs[i]));
                if (w <= 2 * tol)
                {
                    // the secant through the bracket's ends: exact to rounding for a bracket this narrow
                    double t = (y[i] - flo[i]) / (fhi[i] - flo[i]);
                    x[i] = t >= 0 && t <= 1 ? lo[i] + t * w : 0.5 * (lo[i] + hi[i]);
                    done[i] = true;
                    continue;
                }
                if (step == MaxSteps)
                    throw new ArgumentException($"{what}: the inverse of y = {y[i]} (element {i}) did not converge in {MaxSteps} steps (bracket [{lo[i]}, {hi[i]}])");
                double newton = xs[i] - (fx[i] - y[i]) / dfx[i];
                double next = newton > lo[i] && newton < hi[i] && w <= 0.5 * older[i] ? newton : 0.5 * (lo[i] + hi[i]);
                if (Math.Abs(next - xs[i]) < tol) next = xs[i] + (next >= xs[i] ? tol : -tol);
                if (!(next > lo[i] && next < hi[i])) next = 0.5 * (lo[i] + hi[i]);
                xs[i] = next;
                older[i] = old[i]; old[i] = w;
                open++;
            }
            if (open == 0) return;
            f(xs, fx, dfx);
            for (int i = 0; i < n; i++)
            {
                if (done[i]) continue;
                if (double.IsNaN(fx[i])) throw new ArgumentException($"{what}: the map is NaN at x = {xs[i]} (element {i})");
                if (fx[i] == y[i]) { x[i] = xs[i]; done[i] = true; }
                else if (fx[i] < y[i]) (lo[i], flo[i]) = (xs[i], fx[i]);
                else (hi[i], fhi[i]) = (xs[i], fx[i]);
            }
        }
    }
}
