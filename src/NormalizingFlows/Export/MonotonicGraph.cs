using NormalizingFlows.Transforms.Monotonic;

namespace NormalizingFlows.Export;

/// <summary>
/// The library's inverse of an increasing elementwise map (<see cref="MonotonicSolver"/>) as two ONNX <c>Loop</c>s in
/// double, step for step: the bracket's expansion from x = y (widths 1, 2, 4, … times max(1, |y|), one probe per round
/// on the missing side, at most <see cref="MonotonicSolver.MaxExpansions"/> rounds), then safeguarded Newton (Newton's
/// step inside the bracket when the bracket halved over the last two steps, else the midpoint; a step shorter than the
/// tolerance lengthened to it; at most <see cref="MonotonicSolver.MaxSteps"/> steps) until the bracket is narrower
/// than twice the tolerance, and the secant through its ends. All elements step together, each with its own state and
/// "done" flag; where the library throws (no bracket, no convergence, a NaN of the map) the graph gives NaN.
/// </summary>
internal static class MonotonicGraph
{
    /// <summary>An increasing map evaluated in graph <c>g</c> (real type double) at the double value x: its values and derivatives.</summary>
    public delegate (string Value, string Derivative) Map(OnnxGraph g, string x);

    /// <summary>x with f(x) = <paramref name="y"/> (a double value of any shape), to <paramref name="tolerance"/> relative to max(1, |x|).</summary>
    public static string Solve(OnnxGraph graph, string y, Map f, double tolerance)
    {
        var g = graph.WithReal(OnnxGraph.Float64);
        var finite = g.IsFinite(y);
        var xs = g.Where(finite, y, g.Scalar(0));
        var done = g.Not(finite);
        var (f0, df0) = f(g, xs);
        var hit = g.And(g.Not(done), g.Equal(f0, y));
        var x = g.Where(hit, xs, y);
        done = g.Or(done, hit);
        var hasLo = g.Less(f0, y);
        var hasHi = g.Not(hasLo);
        var width = g.Max(g.Scalar(1), g.Abs(y));

        // bracket: state xs, fx, dfx, lo, flo, hasLo, hi, fhi, hasHi, width, done, x
        static string Missing(OnnxGraph b, string d, string lo, string hi) => b.And(b.Not(d), b.Not(b.And(lo, hi)));
        int R = OnnxGraph.Float64, B = OnnxGraph.Bool;
        var s = g.Loop(MonotonicSolver.MaxExpansions, g.Any(Missing(g, done, hasLo, hasHi)),
            [xs, f0, df0, xs, f0, hasLo, xs, f0, hasHi, width, done, x], [R, R, R, R, R, B, R, R, B, R, B, R], (b, v) =>
        {
            var (xs, fx, dfx, lo, flo, hasLo, hi, fhi, hasHi, width, done, x) = (v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9], v[10], v[11]);
            var need = Missing(b, done, hasLo, hasHi);
            // the library gives up where the width overflows: NaN, done
            var stuck = b.And(need, b.Not(b.IsFinite(width)));
            x = b.Where(stuck, b.Scalar(double.NaN), x);
            done = b.Or(done, stuck);
            need = b.And(need, b.Not(stuck));
            var probe = b.Where(need, b.Where(b.Not(hasHi), b.Add(lo, width), b.Sub(hi, width)), xs);
            width = b.Where(need, b.Mul(width, b.Scalar(2)), width);
            var (fp, dfp) = f(b, probe);
            var update = b.And(need, b.Not(b.Equal(probe, xs)));
            (x, done, update) = Settle(b, update, fp, probe, y, x, done);
            var below = b.And(update, b.Less(fp, y));
            var above = b.And(update, b.Not(b.Less(fp, y)));
            lo = b.Where(below, probe, lo); flo = b.Where(below, fp, flo); hasLo = b.Or(hasLo, below);
            hi = b.Where(above, probe, hi); fhi = b.Where(above, fp, fhi); hasHi = b.Or(hasHi, above);
            xs = b.Where(update, probe, xs); fx = b.Where(update, fp, fx); dfx = b.Where(update, dfp, dfx);
            return (b.Any(Missing(b, done, hasLo, hasHi)), [xs, fx, dfx, lo, flo, hasLo, hi, fhi, hasHi, width, done, x]);
        });
        (xs, var fx, var dfx, var lo0, var flo0, var hi0, var fhi0, done, x) = (s[0], s[1], s[2], s[3], s[4], s[6], s[7], s[10], s[11]);
        // still without a bracket after the last round: NaN
        var unbracketed = Missing(g, done, s[5], s[8]);
        x = g.Where(unbracketed, g.Scalar(double.NaN), x);
        done = g.Or(done, unbracketed);

        // safeguarded Newton: state xs, fx, dfx, lo, flo, hi, fhi, older, old, done, x
        var infinity = g.Fill(y, double.PositiveInfinity);
        var t = g.Loop(MonotonicSolver.MaxSteps + 1, g.Any(g.Not(done)),
            [xs, fx, dfx, lo0, flo0, hi0, fhi0, infinity, infinity, done, x], [R, R, R, R, R, R, R, R, R, B, R], (b, v) =>
        {
            var (xs, fx, dfx, lo, flo, hi, fhi, older, old, done, x) = (v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9], v[10]);
            var w = b.Sub(hi, lo);
            var tol = b.Mul(b.Scalar(tolerance), b.Max(b.Scalar(1), b.Abs(xs)));
            var mid = b.Mul(b.Scalar(0.5), b.Add(lo, hi));
            var narrow = b.And(b.Not(done), b.LessOrEqual(w, b.Mul(b.Scalar(2), tol)));
            // the secant through the bracket's ends
            var tt = b.Div(b.Sub(y, flo), b.Sub(fhi, flo));
            var secant = b.Where(b.And(b.GreaterOrEqual(tt, b.Scalar(0)), b.LessOrEqual(tt, b.Scalar(1))), b.Add(lo, b.Mul(tt, w)), mid);
            x = b.Where(narrow, secant, x);
            done = b.Or(done, narrow);
            var open = b.Not(done);
            var newton = b.Sub(xs, b.Div(b.Sub(fx, y), dfx));
            var useNewton = b.And(b.And(b.Greater(newton, lo), b.Less(newton, hi)), b.LessOrEqual(w, b.Mul(b.Scalar(0.5), older)));
            var next = b.Where(useNewton, newton, mid);
            var lengthened = b.Where(b.GreaterOrEqual(next, xs), b.Add(xs, tol), b.Sub(xs, tol));
            next = b.Where(b.Less(b.Abs(b.Sub(next, xs)), tol), lengthened, next);
            next = b.Where(b.And(b.Greater(next, lo), b.Less(next, hi)), next, mid);
            xs = b.Where(open, next, xs);
            older = b.Where(open, old, older);
            old = b.Where(open, w, old);
            var (fn, dfn) = f(b, xs);
            (x, done, var update) = Settle(b, open, fn, xs, y, x, done);
            var below = b.And(update, b.Less(fn, y));
            var above = b.And(update, b.Not(b.Less(fn, y)));
            lo = b.Where(below, xs, lo); flo = b.Where(below, fn, flo);
            hi = b.Where(above, xs, hi); fhi = b.Where(above, fn, fhi);
            fx = b.Where(open, fn, fx); dfx = b.Where(open, dfn, dfx);
            return (b.Any(open), [xs, fx, dfx, lo, flo, hi, fhi, older, old, done, x]);
        });
        // not converged in the steps the library allows: NaN
        return g.Where(t[9], t[10], g.Scalar(double.NaN));
    }

    /// <summary>
    /// Of the elements in <paramref name="update"/>, those where the map is NaN end as NaN and those where it hits
    /// <paramref name="y"/> exactly end at <paramref name="at"/>; the rest stay in the update.
    /// </summary>
    private static (string X, string Done, string Update) Settle(OnnxGraph b, string update, string value, string at, string y, string x, string done)
    {
        var nan = b.And(update, b.IsNaN(value));
        var hit = b.And(update, b.Equal(value, y));
        x = b.Where(nan, b.Scalar(double.NaN), b.Where(hit, at, x));
        done = b.Or(done, b.Or(nan, hit));
        return (x, done, b.And(update, b.Not(b.Or(nan, hit))));
    }
}
