using NormalizingFlows.Transforms.Splines;

namespace NormalizingFlows.Export;

/// <summary>
/// The library's splines as ONNX subgraphs, element by element as the span functions compute them: softmax shares,
/// knots by cumulative sums (the last knot pinned to the interval's end), the bin found by counting the inner knots at
/// or below the value (comparisons and a sum, then GatherElements; no searchsorted), the bin-local map, and the tails
/// (identity or linear with the end derivative) chosen with Where. Values are [N, K] with parameters [N, K·m].
/// </summary>
internal static class SplineGraph
{
    /// <summary>y = s(u) (or s⁻¹ with <paramref name="inverse"/>) and the per-element log|derivative| [N, K].</summary>
    public static (string Y, string LogDet) Apply(OnnxGraph g, IElementwiseSpline spline, string u, string p, int k, bool inverse)
    {
        var P = g.Reshape(p, 0, k, spline.ParametersPerElement);
        return spline switch
        {
            RationalQuadraticSpline q => RationalQuadratic(g, q, u, P, inverse),
            CircularRationalQuadraticSpline c => Circular(g, c, u, P, inverse),
            PiecewiseLinearSpline l => PiecewiseLinear(g, l, u, P, inverse),
            PiecewiseQuadraticSpline q => PiecewiseQuadratic(g, q, u, P, inverse),
            _ => throw new NotSupportedException($"ONNX export: the spline {spline.GetType().Name} is not supported"),
        };
    }

    /// <summary>
    /// The circular spline: the value wrapped onto [−B, B), the rational-quadratic spline with linear tails whose last
    /// knot derivative repeats the first, then the learnable shift (forward: added after, wrapped; inverse: subtracted first).
    /// </summary>
    private static (string Y, string LogDet) Circular(OnnxGraph g, CircularRationalQuadraticSpline c, string u, string P, bool inverse)
    {
        int bins = c.Bins;
        var inner = g.Concat(2, g.Slice(P, 2, 0, 3 * bins), g.Slice(P, 2, 2 * bins, 2 * bins + 1));
        var shift = g.Squeeze(g.Slice(P, 2, 3 * bins, 3 * bins + 1), 2);
        var spline = new RationalQuadraticSpline(bins, c.Domain, c.MinBinWidth, c.MinBinHeight, c.MinDerivative);
        if (inverse) return RationalQuadratic(g, spline, Wrap(g, g.Sub(u, shift), c.Bound), inner, inverse: true);
        var (y, ld) = RationalQuadratic(g, spline, Wrap(g, u, c.Bound), inner, inverse: false);
        return (Wrap(g, g.Add(y, shift), c.Bound), ld);
    }

    /// <summary>v mapped onto [−B, B) by whole periods, as <see cref="CircularRationalQuadraticSpline.Wrap{T}"/>.</summary>
    private static string Wrap(OnnxGraph g, string v, double bound)
    {
        double period = 2 * bound;
        var w = g.Sub(v, g.Mul(g.Scalar(period), g.Floor(g.Div(g.Add(v, g.Scalar(bound)), g.Scalar(period)))));
        w = g.Where(g.GreaterOrEqual(w, g.Scalar(bound)), g.Sub(w, g.Scalar(period)), w);
        return g.Max(w, g.Scalar(-bound));
    }

    /// <summary>The piecewise-linear spline on [0, 1] (bin masses from a softmax with a minimum), continued linearly by its end bins.</summary>
    private static (string Y, string LogDet) PiecewiseLinear(OnnxGraph g, PiecewiseLinearSpline l, string u, string P, bool inverse)
    {
        int bins = l.Bins;
        var q = g.Add(g.Scalar(l.MinBinMass), g.Mul(g.Scalar(1 - bins * l.MinBinMass), g.Softmax(P)));
        var cum = g.CumSum(q, 2);
        var before = g.Sub(cum, q);
        var v = g.Unsqueeze(u, 2);
        var first = g.Slice(P, 2, 0, 1);
        string bin = inverse
            ? Bin(g, v, g.Concat(2, g.Fill(first, 0), cum), bins, first)
            : g.Cast(g.Clip(g.Floor(g.Mul(v, g.Scalar(bins))), 0, bins - 1), OnnxGraph.Int64);
        var c = g.GatherElements(before, bin, 2);
        var qb = g.GatherElements(q, bin, 2);
        var b = g.Cast(bin, g.Real);
        var ld = g.Log(g.Mul(g.Scalar(bins), qb));
        if (!inverse) return (g.Squeeze(g.Add(c, g.Mul(g.Sub(g.Mul(g.Scalar(bins), v), b), qb)), 2), g.Squeeze(ld, 2));
        var x = g.Div(g.Add(b, g.Div(g.Sub(v, c), qb)), g.Scalar(bins));
        return (g.Squeeze(x, 2), g.Squeeze(g.Neg(ld), 2));
    }

    private static (string Y, string LogDet) RationalQuadratic(OnnxGraph g, RationalQuadraticSpline s, string u, string P, bool inverse)
    {
        int bins = s.Bins, m = s.ParametersPerElement;
        var dom = s.Domain;
        var first = g.Slice(P, 2, 0, 1);
        var cw = Knots(g, g.Softmax(g.Slice(P, 2, 0, bins)), first, dom.Left, dom.Right, s.MinBinWidth, bins);
        var ch = Knots(g, g.Softmax(g.Slice(P, 2, bins, 2 * bins)), first, dom.Bottom, dom.Top, s.MinBinHeight, bins);
        var inner = g.Add(g.Scalar(s.MinDerivative), g.Softplus(g.Slice(P, 2, 2 * bins, m)));
        var d = dom.IdentityTails ? g.Concat(2, g.Fill(first, 1), inner, g.Fill(first, 1)) : inner;
        var v = g.Unsqueeze(u, 2);
        var bin = Bin(g, v, inverse ? ch : cw, bins, first);
        var next = g.Add(bin, g.IntScalar(1));
        string At(string knots, string index) => g.GatherElements(knots, index, 2);
        var xk = At(cw, bin); var wk = g.Sub(At(cw, next), xk);
        var yk = At(ch, bin); var hk = g.Sub(At(ch, next), yk);
        var dk = At(d, bin); var dk1 = At(d, next);
        var d0 = g.Slice(d, 2, 0, 1); var dK = g.Slice(d, 2, bins, bins + 1);
        string y, ld;
        if (!inverse)
        {
            (y, ld) = Local(g, v, xk, wk, yk, hk, dk, dk1);
            (y, ld) = Tails(g, v, y, ld, dom.Left, dom.Right, dom.IdentityTails,
                () => (g.Add(g.Scalar(dom.Bottom), g.Mul(d0, g.Sub(v, g.Scalar(dom.Left)))), g.Log(d0)),
                () => (g.Add(g.Scalar(dom.Top), g.Mul(dK, g.Sub(v, g.Scalar(dom.Right)))), g.Log(dK)));
        }
        else
        {
            var sl = g.Div(hk, wk);
            var dy = g.Sub(v, yk);
            var c2 = g.Sub(g.Add(dk1, dk), g.Mul(g.Scalar(2), sl));
            var a = g.Add(g.Mul(hk, g.Sub(sl, dk)), g.Mul(dy, c2));
            var b = g.Sub(g.Mul(hk, dk), g.Mul(dy, c2));
            var c = g.Neg(g.Mul(sl, dy));
            var disc = g.Max(g.Sub(g.Mul(b, b), g.Mul(g.Scalar(4), g.Mul(a, c))), g.Scalar(0));
            var denom = g.Sub(g.Neg(b), g.Sqrt(disc));
            var zero = g.Equal(denom, g.Scalar(0));
            var xi = g.Where(zero, g.Scalar(0), g.Div(g.Mul(g.Scalar(2), c), g.Where(zero, g.Scalar(1), denom)));
            var x = g.Add(xk, g.Mul(g.Clip(xi, 0, 1), wk));
            var (_, lf) = Local(g, x, xk, wk, yk, hk, dk, dk1);
            (y, ld) = Tails(g, v, x, g.Neg(lf), dom.Bottom, dom.Top, dom.IdentityTails,
                () => (g.Add(g.Scalar(dom.Left), g.Div(g.Sub(v, g.Scalar(dom.Bottom)), d0)), g.Neg(g.Log(d0))),
                () => (g.Add(g.Scalar(dom.Right), g.Div(g.Sub(v, g.Scalar(dom.Top)), dK)), g.Neg(g.Log(dK))));
        }
        return (g.Squeeze(y, 2), g.Squeeze(ld, 2));
    }

    /// <summary>Knots lo, lo + Σ (min + (1 − K·min)·share) …, hi: [N, K, bins + 1] (the last one pinned to hi, as the library does).</summary>
    private static string Knots(OnnxGraph g, string shares, string first, double lo, double hi, double min, int bins)
    {
        double span = hi - lo;
        return Pinned(g, g.Add(g.Scalar(span * min), g.Mul(g.Scalar(span * (1 - min * bins)), shares)), first, lo, hi, bins);
    }

    /// <summary>lo, lo + the running sums of <paramref name="steps"/> but the last, hi: [N, K, bins + 1].</summary>
    private static string Pinned(OnnxGraph g, string steps, string first, double lo, double hi, int bins)
    {
        if (bins == 1) return g.Concat(2, g.Fill(first, lo), g.Fill(first, hi));
        var cum = g.Add(g.Scalar(lo), g.CumSum(steps, 2));
        return g.Concat(2, g.Fill(first, lo), g.Slice(cum, 2, 0, bins - 1), g.Fill(first, hi));
    }

    /// <summary>
    /// The piecewise-quadratic spline on [0, 1] (Müller et al.): bin widths from a softmax with a minimum, a density
    /// linear in each bin through the normalised knot values, continued linearly with the end densities outside.
    /// </summary>
    private static (string Y, string LogDet) PiecewiseQuadratic(OnnxGraph g, PiecewiseQuadraticSpline q, string u, string P, bool inverse)
    {
        int bins = q.Bins;
        var first = g.Slice(P, 2, 0, 1);
        var w = g.Add(g.Scalar(q.MinBinWidth), g.Mul(g.Scalar(1 - bins * q.MinBinWidth), g.Softmax(g.Slice(P, 2, 0, bins))));
        var e = g.Softmax(g.Slice(P, 2, bins, 2 * bins + 1)); // a common factor cancels in the normalisation
        var half = g.Mul(g.Scalar(0.5), g.Add(g.Slice(e, 2, 0, bins), g.Slice(e, 2, 1, bins + 1)));
        var area = g.ReduceSum(g.Mul(half, w), 2, keep: true);
        var v = g.Add(g.Scalar(q.MinDensity), g.Mul(g.Scalar(1 - q.MinDensity), g.Div(e, area)));
        var mass = g.Mul(g.Mul(g.Scalar(0.5), g.Add(g.Slice(v, 2, 0, bins), g.Slice(v, 2, 1, bins + 1))), w);
        var xs = Pinned(g, w, first, 0, 1, bins);
        var cs = Pinned(g, mass, first, 0, 1, bins);
        var val = g.Unsqueeze(u, 2);
        var bin = Bin(g, val, inverse ? cs : xs, bins, first);
        var next = g.Add(bin, g.IntScalar(1));
        var xb = g.GatherElements(xs, bin, 2); var cb = g.GatherElements(cs, bin, 2); var wb = g.GatherElements(w, bin, 2);
        var vb = g.GatherElements(v, bin, 2); var dv = g.Sub(g.GatherElements(v, next, 2), vb);
        var v0 = g.Slice(v, 2, 0, 1); var vK = g.Slice(v, 2, bins, bins + 1);
        var under = g.Less(val, g.Scalar(0)); var over = g.Greater(val, g.Scalar(1));
        string x = val;
        if (inverse)
        {
            var r = g.Sub(val, cb);
            var disc = g.Max(g.Add(g.Mul(vb, vb), g.Div(g.Mul(g.Mul(g.Scalar(2), dv), r), wb)), g.Scalar(0));
            var d0 = g.Div(g.Mul(g.Scalar(2), r), g.Add(vb, g.Sqrt(disc)));
            x = g.Add(xb, g.Min(g.Max(d0, g.Scalar(0)), wb));
        }
        var d = g.Min(g.Max(g.Sub(x, xb), g.Scalar(0)), wb);
        var pdf = g.Where(under, v0, g.Where(over, vK, g.Add(vb, g.Div(g.Mul(d, dv), wb))));
        string y;
        if (!inverse)
        {
            var inside = g.Add(g.Add(cb, g.Mul(d, vb)), g.Mul(g.Div(g.Mul(d, d), g.Mul(g.Scalar(2), wb)), dv));
            y = g.Where(under, g.Mul(v0, val), g.Where(over, g.Add(g.Scalar(1), g.Mul(vK, g.Sub(val, g.Scalar(1)))), inside));
            return (g.Squeeze(y, 2), g.Squeeze(g.Log(pdf), 2));
        }
        y = g.Where(under, g.Div(val, v0), g.Where(over, g.Add(g.Scalar(1), g.Div(g.Sub(val, g.Scalar(1)), vK)), x));
        return (g.Squeeze(y, 2), g.Squeeze(g.Neg(g.Log(pdf)), 2));
    }

    /// <summary>The bin of v: the number of inner knots at or below it (int64 [N, K, 1]).</summary>
    private static string Bin(OnnxGraph g, string v, string knots, int bins, string first)
    {
        if (bins == 1) return g.Cast(g.Fill(first, 0), OnnxGraph.Int64);
        var below = g.Cast(g.GreaterOrEqual(v, g.Slice(knots, 2, 1, bins)), OnnxGraph.Int64);
        return g.ReduceSum(below, 2, keep: true);
    }

    /// <summary>The bin-local rational-quadratic map and its log-derivative (ξ clamped to [0, 1]).</summary>
    private static (string Y, string LogDet) Local(OnnxGraph g, string x, string xk, string wk, string yk, string hk, string dk, string dk1)
    {
        var xi = g.Clip(g.Div(g.Sub(x, xk), wk), 0, 1);
        var one = g.Scalar(1);
        var omx = g.Sub(one, xi);
        var s = g.Div(hk, wk);
        var t = g.Mul(xi, omx);
        var xi2 = g.Mul(xi, xi);
        var den = g.Add(s, g.Mul(g.Sub(g.Add(dk1, dk), g.Mul(g.Scalar(2), s)), t));
        var num = g.Mul(hk, g.Add(g.Mul(s, xi2), g.Mul(dk, t)));
        var pp = g.Add(g.Add(g.Mul(dk1, xi2), g.Mul(g.Mul(g.Scalar(2), s), t)), g.Mul(dk, g.Mul(omx, omx)));
        var y = g.Add(yk, g.Div(num, den));
        var ld = g.Sub(g.Add(g.Mul(g.Scalar(2), g.Log(s)), g.Log(pp)), g.Mul(g.Scalar(2), g.Log(den)));
        return (y, ld);
    }

    /// <summary>Outside [lo, hi]: the identity (log-derivative 0) or the linear tails below and above.</summary>
    private static (string Y, string LogDet) Tails(OnnxGraph g, string v, string y, string ld, double lo, double hi, bool identity,
        Func<(string, string)> below, Func<(string, string)> above)
    {
        var under = g.Less(v, g.Scalar(lo));
        var over = g.Greater(v, g.Scalar(hi));
        if (identity)
        {
            var outside = g.Or(under, over);
            return (g.Where(outside, v, y), g.Where(outside, g.Scalar(0), ld));
        }
        var (yb, lb) = below();
        var (ya, la) = above();
        return (g.Where(under, yb, g.Where(over, ya, y)), g.Where(under, lb, g.Where(over, la, ld)));
    }
}
