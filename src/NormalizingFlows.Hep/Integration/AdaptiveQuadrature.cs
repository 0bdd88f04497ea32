namespace NormalizingFlows.Hep.Integration;

/// <summary>
/// Deterministic reference integrals: globally adaptive Gauss–Kronrod (7/15 points) quadrature on an interval, and
/// iterated (nested) quadrature over boxes in 2-D and 3-D. The error estimate of every interval is |K15 − G7|;
/// the interval with the largest error is bisected until the total estimate meets the tolerance. Kinks and jumps of
/// the integrand are handled by subdivision (convergence is slower there; pass breakpoints when they are known).
/// </summary>
public static class AdaptiveQuadrature
{
    private static readonly double[] Xk =
    [
        0.991455371120812639206854697526329, 0.949107912342758524526189684047851, 0.864864423359769072789712788640926,
        0.741531185599394439863864773280788, 0.586087235467691130294144845693013, 0.405845151377397166906606412076961,
        0.207784955007898467600689403773245, 0.000000000000000000000000000000000,
    ];
    private static readonly double[] Wk =
    [
        0.022935322010529224963732008058970, 0.063092092629978553290700663189204, 0.104790010322250183839876322541518,
        0.140653259715525918745189590510238, 0.169004726639267902826583426598550, 0.190350578064785409913256402421014,
        0.204432940075298892414161999234649, 0.209482141084727828012999174891714,
    ];
    private static readonly double[] Wg =
    [
        0.129484966168869693270611432679082, 0.279705391489276667901467771423780, 0.381830050505118944950369775488975,
        0.417959183673469387755102040816327,
    ];

    /// <summary>
    /// ∫_a^b f(x) dx to |error| ≤ max(<paramref name="absoluteTolerance"/>, <paramref name="relativeTolerance"/>·|I|),
    /// bisecting the worst interval at most <paramref name="maxIntervals"/> times (then returns the best estimate).
    /// <paramref name="breakpoints"/> inside (a, b) start the subdivision there.
    /// </summary>
    public static (double Value, double Error) Integrate(Func<double, double> f, double a, double b, double absoluteTolerance = 1e-12,
        double relativeTolerance = 1e-10, int maxIntervals = 20_000, IReadOnlyList<double>? breakpoints = null)
    {
        ArgumentNullException.ThrowIfNull(f);
        if (!(b > a) || !double.IsFinite(a) || !double.IsFinite(b)) throw new ArgumentException($"interval [{a}, {b}] is empty or not finite");
        var pts = new List<double> { a };
        if (breakpoints is not null) pts.AddRange(breakpoints.Where(p => p > a && p < b).Order());
        pts.Add(b);
        var heap = new PriorityQueue<(double A, double B, double V, double E), double>();
        double total = 0, error = 0;
        for (int i = 0; i + 1 < pts.Count; i++)
        {
            if (!(pts[i + 1] > pts[i])) continue;
            var (v, e) = Kronrod(f, pts[i], pts[i + 1]);
            total += v; error += e;
            heap.Enqueue((pts[i], pts[i + 1], v, e), -e);
        }
        int splits = 0;
        while (error > Math.Max(absoluteTolerance, relativeTolerance * Math.Abs(total)) && splits < maxIntervals && heap.Count > 0)
        {
            var (lo, hi, v, e) = heap.Dequeue();
            double mid = 0.5 * (lo + hi);
            if (!(mid > lo && mid < hi)) { heap.Enqueue((lo, hi, v, 0), 0); error -= e; continue; }
            var (v1, e1) = Kronrod(f, lo, mid);
            var (v2, e2) = Kronrod(f, mid, hi);
            total += v1 + v2 - v;
            error += e1 + e2 - e;
            heap.Enqueue((lo, mid, v1, e1), -e1);
            heap.Enqueue((mid, hi, v2, e2), -e2);
            splits++;
        }
        // re-sum to remove the drift of the running totals
        double sum = 0, err = 0;
        foreach (var item in heap.UnorderedItems) { sum += item.Element.V; err += item.Element.E; }
        return (sum, err);
    }

    /// <summary>∫∫ f(x, y) over [x0, x1] × [y0, y1] by nested adaptive quadrature (inner over x, outer over y).</summary>
    public static (double Value, double Error) Integrate2D(Func<double, double, double> f, double x0, double x1, double y0, double y1,
        double absoluteTolerance = 1e-11, double relativeTolerance = 1e-9)
    {
        ArgumentNullException.ThrowIfNull(f);
        return Nested(f, x0, x1, y0, y1, absoluteTolerance * 0.1, relativeTolerance * 0.1, absoluteTolerance, relativeTolerance);
    }

    /// <summary>
    /// ∫∫ f(x, y) over [x0, x1] × [y0, y1], inner over x (with <paramref name="innerBreakpoints"/>(y) where given), outer over
    /// y (with <paramref name="outerBreakpoints"/>); the error adds the largest inner error times the outer length.
    /// </summary>
    internal static (double Value, double Error) Nested(Func<double, double, double> f, double x0, double x1, double y0, double y1,
        double innerAbsolute, double innerRelative, double outerAbsolute, double outerRelative,
        Func<double, IReadOnlyList<double>>? innerBreakpoints = null, IReadOnlyList<double>? outerBreakpoints = null)
    {
        double innerError = 0;
        var (v, e) = Integrate(y =>
        {
            var (vi, ei) = Integrate(x => f(x, y), x0, x1, innerAbsolute, innerRelative, breakpoints: innerBreakpoints?.Invoke(y));
            innerError = Math.Max(innerError, ei);
            return vi;
        }, y0, y1, outerAbsolute, outerRelative, breakpoints: outerBreakpoints);
        return (v, e + innerError * (y1 - y0));
    }

    /// <summary>∫∫∫ f(x, y, z) over the box by nested adaptive quadrature.</summary>
    public static (double Value, double Error) Integrate3D(Func<double, double, double, double> f, double x0, double x1, double y0, double y1,
        double z0, double z1, double absoluteTolerance = 1e-10, double relativeTolerance = 1e-8)
    {
        ArgumentNullException.ThrowIfNull(f);
        double innerError = 0;
        var (v, e) = Integrate(z =>
        {
            var (vi, ei) = Integrate2D((x, y) => f(x, y, z), x0, x1, y0, y1, absoluteTolerance * 0.1, relativeTolerance * 0.1);
            innerError = Math.Max(innerError, ei);
            return vi;
        }, z0, z1, absoluteTolerance, relativeTolerance);
        return (v, e + innerError * (z1 - z0));
    }

    private static (double Value, double Error) Kronrod(Func<double, double> f, double a, double b)
    {
        double c = 0.5 * (a + b), h = 0.5 * (b - a);
        double fc = f(c);
        double k = Wk[7] * fc, g = Wg[3] * fc;
        for (int i = 0; i < 7; i++)
        {
            double dx = h * Xk[i];
            double s = f(c - dx) + f(c + dx);
            k += Wk[i] * s;
            if (i % 2 == 1) g += Wg[i / 2] * s;
        }
        return (k * h, Math.Abs((k - g) * h));
    }
}
