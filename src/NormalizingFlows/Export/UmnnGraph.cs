using System.Numerics;
using NormalizingFlows.Nn;
using NormalizingFlows.Transforms.Monotonic;

namespace NormalizingFlows.Export;

/// <summary>
/// The UMNN update (<see cref="UmnnUpdate"/>) with its layer's integrand network, as the library evaluates it in the
/// model's precision: y = β·x·Σ_j (w_j/2)·g(x·c_j, h) + α, the Clenshaw–Curtis positions c_j and weights w_j/2 written
/// as constants, g = ELU(o) + 1 of the tanh network o, log dy/dx = log β + log g(x, h) at the end point. The density
/// direction is this closed form; the sampling direction inverts it with the library's safeguarded Newton
/// (<see cref="MonotonicGraph"/>, in double on the map's values, derivative β·g) to the library's tolerance.
/// </summary>
internal static class UmnnGraph
{
    /// <summary>The update (or its inverse) of [N, K] values <paramref name="x"/> with parameters [N, K·(2 + E)]: outputs and log|derivative| [N, K].</summary>
    public static (string Y, string LogDerivative) Apply<T>(OnnxGraph g, UmnnUpdate update, IntegrandNetwork<T> network, string x, string parameters, int k, bool inverse)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var weights = network.NamedParameters().ToDictionary(kv => kv.Key, kv => kv.Value.Value.ToDoubleArray());
        int e = update.Embedding, hidden = update.Hidden;
        var theta = g.Reshape(parameters, -1, 2 + e);
        var alpha = g.Slice(theta, 1, 0, 1);
        var beta = g.Add(g.Softplus(g.Slice(theta, 1, 1, 2)), g.Scalar(SigmoidalMap.MinSlope));
        var logBeta = g.Log(beta);
        // the first layer's embedding part, once per element: [N·K, H]
        var a = g.Linear(g.Slice(theta, 1, 2, 2 + e), weights["input.weight"], hidden, e, weights["input.bias"]);
        var (nodes, quadrature) = ClenshawCurtis.Rule(update.Nodes);
        var scales = nodes.Select(t => 0.5 * (1 + t)).ToArray();
        var halfWeights = quadrature.Select(w => 0.5 * w).ToArray();

        // o(x·c_j, h) [N·K, Q] at the positions c for x [N·K, 1]
        string Output(OnnxGraph b, string xr, double[] c)
        {
            var s = b.Mul(xr, b.Const(c, 1, c.Length));
            var pre = b.Add(b.Unsqueeze(a, 1), b.Mul(b.Unsqueeze(s, 2), b.Const(weights["position"], 1, 1, hidden)));
            var z = b.Reshape(b.Tanh(pre), -1, hidden);
            for (int i = 0; i < update.Layers - 1; i++) z = b.Tanh(b.Linear(z, weights[$"hidden{i}.weight"], hidden, hidden, weights[$"hidden{i}.bias"]));
            return b.Reshape(b.Linear(z, weights["output.weight"], 1, hidden, weights["output.bias"]), -1, c.Length);
        }
        // log β + log g at the end point, with log g = o below 0 and log1p(o) above
        string LogSlope(OnnxGraph b, string end) => b.Add(logBeta, b.Where(b.Less(end, b.Scalar(0)), end, b.Log1p(b.Relu(end))));
        (string Y, string LogDerivative) Evaluate(OnnxGraph b, string xr)
        {
            var o = Output(b, xr, scales);
            var integrand = b.Add(b.Where(b.Greater(o, b.Scalar(0)), o, b.Expm1(b.Min(o, b.Scalar(0)))), b.Scalar(1));
            var integral = b.Mul(b.MatMul(integrand, b.Const(halfWeights, halfWeights.Length, 1)), xr);
            return (b.Add(b.Mul(beta, integral), alpha), LogSlope(b, b.Slice(o, 1, 0, 1)));
        }
        string Shaped(string v) => g.Reshape(v, -1, k);
        var column = g.Reshape(x, -1, 1);
        if (!inverse)
        {
            var (y, ld) = Evaluate(g, column);
            return (Shaped(y), Shaped(ld));
        }
        var real = g.Real;
        var solution = MonotonicGraph.Solve(g, ToDouble(g, column), (b, v) =>
        {
            var r = b.WithReal(real);
            var (value, logDerivative) = Evaluate(r, r.Convert(v, OnnxGraph.Float64, real));
            return (ToDouble(r, value), b.Exp(ToDouble(r, logDerivative)));
        }, MonotonicSolver.EffectiveTolerance<T>(update.Tolerance));
        var xs = g.Convert(solution, OnnxGraph.Float64, real);
        return (Shaped(xs), Shaped(g.Neg(LogSlope(g, Output(g, xs, [1.0])))));
    }

    private static string ToDouble(OnnxGraph g, string v) => g.Convert(v, g.Real, OnnxGraph.Float64);
}
