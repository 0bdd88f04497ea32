using System.Numerics;
using NormalizingFlows.Transforms.Continuous;

namespace NormalizingFlows.Export;

/// <summary>
/// A continuous flow (<see cref="ContinuousTransform{T}"/>) as the library solves it: the state (x [N, D], the
/// integrated trace [N]) carried through an ONNX <c>Loop</c>. Dormand–Prince 5(4): Hairer's initial step before the
/// loop, one trial step per trip (seven stages, FSAL), the per-row RMS error scaled by atol + rtol·max(|y|, |y_new|)
/// with the largest row deciding for the batch, accept/reject with <c>Where</c>, the step factor 0.9·err^(−1/5)
/// clamped to [0.2, 10] (to [0.2, 1] after a rejection), at most <see cref="ContinuousFlowOptions.MaxSteps"/> trips;
/// RK4: <see cref="ContinuousFlowOptions.Steps"/> trips of the classical step. Time, step size and error are doubles,
/// the state is in the model's precision, as in the library. The trace is the exact one (D forward-mode tangents
/// through the tanh MLP of the <see cref="VectorField{T}"/>), also for a model trained with Hutchinson's estimator,
/// whose own log-density is stochastic. Where the library throws (too many steps, a step size that underflows) the
/// graph gives NaN.
/// </summary>
internal static class ContinuousGraph
{
    // Dormand–Prince 5(4): the library's tableau
    private static readonly double[] C = OdeIntegrator.C, E = OdeIntegrator.E;
    private static readonly double[][] A = OdeIntegrator.A;

    /// <summary>
    /// x(t1) and ∫ tr(∂v/∂x) dt for the flow of <paramref name="transform"/> from t0 = 1 to 0 (density) or 0 to 1
    /// (<paramref name="inverse"/>: sampling). Without <paramref name="trace"/> the state is x alone and the log-det
    /// null, as the library's <see cref="ContinuousTransform{T}.InverseWithoutLogDet"/> solves it.
    /// </summary>
    public static (string Y, string? LogDet) Apply<T>(OnnxGraph g, ContinuousTransform<T> transform, string x, string? context, bool inverse, bool trace = true)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var field = new FieldGraph<T>(transform.Field, context);
        double t0 = inverse ? 0 : 1, t1 = inverse ? 1 : 0;
        var y0 = trace ? new[] { x, g.Squeeze(g.Fill(g.Column(x, 0), 0), 1) } : [x];
        var o = transform.Options;
        var end = o.Solver == OdeSolver.RungeKutta4 ? Rk4(g, field, y0, t0, t1, o.Steps) : DormandPrince(g, field, y0, t0, t1, o);
        return (end[0], trace ? end[1] : null);
    }

    private static string[] Rk4<T>(OnnxGraph g, FieldGraph<T> f, string[] y0, double t0, double t1, int steps) where T : unmanaged, IFloatingPointIeee754<T>
    {
        double h = (t1 - t0) / steps;
        var d = g.WithReal(OnnxGraph.Float64);
        string[] Coefficient(double v) => [d.Scalar(v)];
        var end = g.Loop(steps, g.BoolScalar(true), [d.Scalar(0), .. y0], [OnnxGraph.Float64, .. y0.Select(_ => g.Real)], (b, v) =>
        {
            var bd = b.WithReal(OnnxGraph.Float64);
            var s = v[0]; string[] y = v[1..];
            var t = bd.Add(bd.Scalar(t0), bd.Mul(s, bd.Scalar(h)));
            var half = bd.Add(t, bd.Scalar(h / 2));
            var k1 = f.Evaluate(b, t, y);
            var k2 = f.Evaluate(b, half, Combine(b, y, Coefficient(h / 2), [k1]));
            var k3 = f.Evaluate(b, half, Combine(b, y, Coefficient(h / 2), [k2]));
            var k4 = f.Evaluate(b, bd.Add(t, bd.Scalar(h)), Combine(b, y, Coefficient(h), [k3]));
            var next = Combine(b, y, [bd.Scalar(h / 6), bd.Scalar(h / 3), bd.Scalar(h / 3), bd.Scalar(h / 6)], [k1, k2, k3, k4]);
            return (b.BoolScalar(true), [bd.Add(s, bd.Scalar(1)), .. next]);
        });
        return end[1..];
    }

    private static string[] DormandPrince<T>(OnnxGraph g, FieldGraph<T> f, string[] y0, double t0, double t1, ContinuousFlowOptions o)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        double span = t1 - t0, dir = Math.Sign(span);
        var d = g.WithReal(OnnxGraph.Float64);
        var k1 = f.Evaluate(g, d.Scalar(t0), y0);

        // Hairer, Nørsett & Wanner's starting step
        var size0 = y0.Select(v => d.Abs(ToDouble(g, v))).ToArray();
        var n0 = Norm(d, y0.Select(v => ToDouble(g, v)).ToArray(), size0, f.Features, o);
        var n1 = Norm(d, k1.Select(v => ToDouble(g, v)).ToArray(), size0, f.Features, o);
        var h0 = d.Where(d.Or(d.Less(n0, d.Scalar(1e-5)), d.Less(n1, d.Scalar(1e-5))), d.Scalar(1e-6), d.Div(d.Mul(d.Scalar(0.01), n0), n1));
        h0 = d.Min(h0, d.Scalar(Math.Abs(span)));
        var signedH0 = d.Mul(d.Scalar(dir), h0);
        var f1 = f.Evaluate(g, d.Add(d.Scalar(t0), signedH0), Combine(g, y0, [signedH0], [k1]));
        var n2 = d.Div(Norm(d, f1.Select((v, i) => ToDouble(g, g.Sub(v, k1[i]))).ToArray(), size0, f.Features, o), h0);
        var m = d.Max(n1, n2);
        var h1 = d.Where(d.LessOrEqual(m, d.Scalar(1e-15)), d.Max(d.Scalar(1e-6), d.Mul(h0, d.Scalar(1e-3))), d.Pow(d.Div(d.Scalar(0.01), m), d.Scalar(0.2)));
        var h = d.Mul(d.Scalar(dir), d.Min(d.Scalar(Math.Abs(span)), d.Min(d.Mul(d.Scalar(100), h0), h1)));

        int R = g.Real, D = OnnxGraph.Float64, parts = y0.Length; // the state: x, and the trace when there is one
        var end = g.Loop(o.MaxSteps, g.BoolScalar(true), [d.Scalar(t0), h, .. y0, .. k1], [D, D, .. Enumerable.Repeat(R, 2 * parts)], (b, v) =>
        {
            var bd = b.WithReal(OnnxGraph.Float64);
            var (t, step) = (v[0], v[1]);
            string[] y = v[2..(2 + parts)], first = v[(2 + parts)..];
            string Ahead(string time) => bd.Greater(bd.Mul(bd.Scalar(dir), time), bd.Scalar(0));
            step = bd.Where(Ahead(bd.Sub(bd.Add(t, step), bd.Scalar(t1))), bd.Sub(bd.Scalar(t1), t), step);
            var underflow = bd.LessOrEqual(bd.Abs(step), bd.Mul(bd.Scalar(1e-14), bd.Max(bd.Scalar(1), bd.Abs(t))));
            var k = new string[7][];
            k[0] = first;
            string[] yNew = y;
            for (int s = 1; s < 7; s++)
            {
                var stage = Combine(b, y, A[s].Select(a => a == 0 ? null : bd.Mul(step, bd.Scalar(a))).ToArray(), k[..s]);
                if (s == 6) yNew = stage;
                k[s] = f.Evaluate(b, bd.Add(t, bd.Mul(bd.Scalar(C[s]), step)), stage);
            }
            // the embedded error h·Σ eᵢkᵢ (in double) against atol + rtol·max(|y|, |y_new|)
            var errors = new string[parts]; var sizes = new string[parts];
            for (int s = 0; s < parts; s++)
            {
                string? e = null;
                for (int j = 0; j < 7; j++)
                    if (E[j] != 0)
                    {
                        var term = bd.Mul(bd.Scalar(E[j]), ToDouble(b, k[j][s]));
                        e = e is null ? term : bd.Add(e, term);
                    }
                errors[s] = bd.Mul(step, e!);
                sizes[s] = bd.Max(bd.Abs(ToDouble(b, y[s])), bd.Abs(ToDouble(b, yNew[s])));
            }
            var err = Norm(bd, errors, sizes, f.Features, o);
            var small = bd.LessOrEqual(err, bd.Scalar(1));
            var accept = bd.And(small, bd.Not(underflow));
            var tNext = bd.Where(accept, bd.Add(t, step), t);
            var factor = bd.Where(bd.Equal(err, bd.Scalar(0)), bd.Scalar(10), bd.Mul(bd.Scalar(0.9), bd.Pow(err, bd.Scalar(-0.2))));
            var hNext = bd.Mul(step, bd.Where(small, bd.Clip(factor, 0.2, 10), bd.Clip(factor, 0.2, 1)));
            var goOn = bd.And(Ahead(bd.Sub(bd.Scalar(t1), tNext)), bd.Not(underflow));
            return (goOn, [tNext, hNext, .. Enumerable.Range(0, parts).Select(s => b.Where(accept, yNew[s], y[s])), .. Enumerable.Range(0, parts).Select(s => b.Where(accept, k[6][s], first[s]))]);
        });
        // short of t1 (too many steps, or the step size underflowed): NaN, where the library throws
        var finished = d.LessOrEqual(d.Mul(d.Scalar(dir), d.Sub(d.Scalar(t1), end[0])), d.Scalar(0));
        var nan = g.Scalar(double.NaN);
        return [.. Enumerable.Range(0, parts).Select(s => g.Where(finished, end[2 + s], nan))];
    }

    /// <summary>yₛ + Σᵢ cᵢ·kᵢₛ per state tensor, cᵢ (double scalars; null for 0) rounded to the state's type.</summary>
    private static string[] Combine(OnnxGraph g, string[] y, string?[] c, string[][] k)
    {
        var result = new string[y.Length];
        for (int s = 0; s < y.Length; s++)
        {
            var acc = y[s];
            for (int i = 0; i < k.Length; i++)
                if (c[i] is { } ci) acc = g.Add(acc, g.Mul(g.Convert(ci, OnnxGraph.Float64, g.Real), k[i][s]));
            result[s] = acc;
        }
        return result;
    }

    /// <summary>max over rows of the RMS, over x's D entries (and the trace's one when the state has it), of value/(atol + rtol·size) (all double); +∞ when a row's is NaN.</summary>
    private static string Norm(OnnxGraph d, string[] values, string[] sizes, int features, ContinuousFlowOptions o)
    {
        string Squares(int s)
        {
            var q = d.Div(values[s], d.Add(d.Scalar(o.AbsoluteTolerance), d.Mul(d.Scalar(o.RelativeTolerance), sizes[s])));
            return d.Mul(q, q);
        }
        var sum = d.ReduceSum(Squares(0), 1);
        if (values.Length > 1) sum = d.Add(sum, Squares(1));
        var rms = d.Sqrt(d.Div(sum, d.Scalar(features + values.Length - 1)));
        var nan = d.IsNaN(rms);
        var worst = d.ReduceMax(d.Concat(0, d.Where(nan, d.Scalar(0), rms), d.Const([0], 1)), 0); // from 0, as the library's: no rows, no error
        return d.Where(d.Any(nan), d.Scalar(double.PositiveInfinity), worst);
    }

    private static string ToDouble(OnnxGraph g, string v) => g.Convert(v, g.Real, OnnxGraph.Float64);
}
