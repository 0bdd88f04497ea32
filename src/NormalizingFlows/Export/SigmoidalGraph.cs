using System.Numerics;
using NormalizingFlows.Transforms.Monotonic;

namespace NormalizingFlows.Export;

/// <summary>
/// The deep sigmoidal map of the NAF update (<see cref="SigmoidalMap"/>) as the library evaluates it: in double for
/// float and double models, in log space, y = LSE_k(log w_k + log σ(z_k)) − LSE_k(log w_k + log σ(−z_k)) with
/// z_k = a_k x + b_k. The density direction is this closed form; the sampling direction inverts it with the library's
/// safeguarded Newton (<see cref="MonotonicGraph"/>) to the library's tolerance, and log|det| is minus the
/// log-derivative at the solution.
/// </summary>
internal static class SigmoidalGraph
{
    /// <summary>The map (or its inverse) of [N, K] values <paramref name="x"/> with parameters [N, K·3C]: outputs [N, K] and log|derivative| [N, K], in the graph's real type.</summary>
    public static (string Y, string LogDerivative) Apply<T>(OnnxGraph graph, SigmoidalMap map, string x, string parameters, int k, bool inverse)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var d = graph.WithReal(OnnxGraph.Float64);
        int c = map.Components;
        var p = d.Reshape(ToDouble(graph, parameters), 0, k, 3, c);
        string Part(int i) => d.Squeeze(d.Slice(p, 2, i, i + 1), 2);
        var a = d.Add(d.Scalar(SigmoidalMap.MinSlope), d.Softplus(Part(0)));
        var logA = d.Log(a);
        var b = Part(1);
        var logW = Part(2);
        logW = d.Sub(logW, LogSumExp(d, logW));
        (string, string) Evaluate(OnnxGraph g, string v)
        {
            var z = g.Add(g.Mul(a, g.Unsqueeze(v, 2)), b);
            var plus = g.Neg(g.Softplus(g.Neg(z))); var minus = g.Neg(g.Softplus(z));
            var sp = g.Squeeze(LogSumExp(g, g.Add(logW, plus)), 2);
            var sm = g.Squeeze(LogSumExp(g, g.Add(logW, minus)), 2);
            var sj = g.Squeeze(LogSumExp(g, g.Add(g.Add(g.Add(logW, logA), plus), minus)), 2);
            return (g.Sub(sp, sm), g.Sub(g.Sub(sj, sp), sm));
        }
        var xd = ToDouble(graph, x);
        if (!inverse)
        {
            var (y, ld) = Evaluate(d, xd);
            return (FromDouble(graph, y), FromDouble(graph, ld));
        }
        var solution = MonotonicGraph.Solve(d, xd, (g, v) =>
        {
            var (value, logDerivative) = Evaluate(g, v);
            return (value, g.Exp(logDerivative));
        }, MonotonicSolver.EffectiveTolerance<T>(map.Tolerance));
        return (FromDouble(graph, solution), FromDouble(graph, d.Neg(Evaluate(d, solution).Item2)));
    }

    /// <summary>log Σ exp over the last axis (kept), max-shifted; −∞ when every term is.</summary>
    private static string LogSumExp(OnnxGraph g, string v)
    {
        var max = g.ReduceMax(v, -1, keep: true);
        var sum = g.Log(g.ReduceSum(g.Exp(g.Sub(v, max)), -1, keep: true));
        return g.Where(g.Equal(max, g.Scalar(double.NegativeInfinity)), max, g.Add(max, sum));
    }

    private static string ToDouble(OnnxGraph g, string v) => g.Convert(v, g.Real, OnnxGraph.Float64);

    private static string FromDouble(OnnxGraph g, string v) => g.Convert(v, OnnxGraph.Float64, g.Real);
}
