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
    public static (string Y, string LogDet) Apply(OnnxGraph g, IElementwiseSpline spline, string u, string p, int k, bool inverse) => spline switch
    {
        RationalQuadraticSpline q => RationalQuadratic(g, q, u, p, k, inverse),
        _ => throw new NotSupportedException($"ONNX export: the spline {spline.GetType().Name} is not supported (rational-quadratic splines are)"),
    };

    private static (string Y, string LogDet) RationalQuadratic(OnnxGraph g, RationalQuadraticSpline s, string u, string p, int k, bool inverse)
    {
        int bins = s.Bins, m = s.ParametersPerElement;
        var dom = s.Domain;
        var P = g.Reshape(p, 0, k, m);
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
        var steps = g.Add(g.Scalar(span * min), g.Mul(g.Scalar(span * (1 - min * bins)), shares));
        var cum = g.Add(g.Scalar(lo), g.CumSum(steps, 2));
        return bins == 1 ? g.Concat(2, g.Fill(first, lo), g.Fill(first, hi))
            : g.Concat(2, g.Fill(first, lo), g.Slice(cum, 2, 0, bins - 1), g.Fill(first, hi));
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
