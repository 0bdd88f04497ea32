using System.Numerics;
using NormalizingFlows.Transforms.Continuous;

namespace NormalizingFlows.Export;

/// <summary>
/// A continuous flow's velocity field (<see cref="VectorField{T}"/>) as an ONNX subgraph: v = tanh MLP of
/// [x, τ(t), c] with τ(t) = (t, sin 2πkt, cos 2πkt), the time rounded to the model's type and the time features
/// computed in double, as the library does; and the exact tr(∂v/∂x) by D forward-mode tangents, J·e_j through the
/// layers (tanh′ = 1 − a²), summing component j of the j-th.
/// </summary>
internal sealed class FieldGraph<T>(VectorField<T> vectorField, string? context) where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly Dictionary<string, double[]> _weights = vectorField.NamedParameters().ToDictionary(kv => kv.Key, kv => kv.Value.Value.ToDoubleArray());

    /// <summary>Data features D.</summary>
    public int Features => vectorField.Features;

    /// <summary>The field's right-hand side at the double scalar time <paramref name="t"/> for the state (x [N, D], trace [N]): [v, tr ∂v/∂x]; for the state (x) alone: [v].</summary>
    public string[] Evaluate(OnnxGraph g, string t, string[] state)
    {
        var x = state[0];
        int d = vectorField.Features, hidden = vectorField.Hidden, f = vectorField.TimeFrequencies, e = 1 + 2 * f;
        var dd = g.WithReal(OnnxGraph.Float64);
        var time = g.Convert(g.Convert(t, OnnxGraph.Float64, g.Real), g.Real, OnnxGraph.Float64);
        var features = dd.Reshape(time, 1);
        if (f > 0)
        {
            var angles = dd.Mul(time, dd.Const(Enumerable.Range(1, f).Select(k => 2 * Math.PI * k).ToArray(), f));
            var pairs = dd.Reshape(dd.Concat(1, dd.Unsqueeze(dd.Sin(angles), 1), dd.Unsqueeze(dd.Cos(angles), 1)), 2 * f);
            features = dd.Concat(0, features, pairs);
        }
        features = g.Convert(features, OnnxGraph.Float64, g.Real);
        var rows = g.Node("Expand", [g.Reshape(features, 1, e), g.Concat(0, g.Slice(g.Node("Shape", [x]), 0, 0, 1), g.Ints([e]))]);
        var input = context is null ? g.Concat(1, x, rows) : g.Concat(1, x, rows, context);
        int inputs = d + e + vectorField.ContextFeatures;

        // the hidden layers and the tangents [N, D, H] along e_1 … e_D
        var w0 = _weights["input.weight"];
        var h = g.Tanh(g.Linear(input, w0, hidden, inputs, _weights["input.bias"]));
        if (state.Length == 1)
        {
            for (int i = 1; i < vectorField.Layers; i++) h = g.Tanh(g.Linear(h, _weights[$"hidden{i}.weight"], hidden, hidden, _weights[$"hidden{i}.bias"]));
            return [g.Linear(h, _weights["output.weight"], d, hidden, _weights["output.bias"])];
        }
        var firstColumns = new double[d * hidden];
        for (int j = 0; j < d; j++)
            for (int u = 0; u < hidden; u++) firstColumns[j * hidden + u] = w0[u * inputs + j];
        var tangent = g.Mul(g.Unsqueeze(Slope(g, h), 1), g.Const(firstColumns, 1, d, hidden));
        for (int i = 1; i < vectorField.Layers; i++)
        {
            var w = _weights[$"hidden{i}.weight"];
            h = g.Tanh(g.Linear(h, w, hidden, hidden, _weights[$"hidden{i}.bias"]));
            tangent = g.Mul(g.Unsqueeze(Slope(g, h), 1), g.MatMul(tangent, g.Const(Transpose(w, hidden, hidden), hidden, hidden)));
        }
        var wo = _weights["output.weight"];
        var velocity = g.Linear(h, wo, d, hidden, _weights["output.bias"]);
        var jacobian = g.MatMul(tangent, g.Const(Transpose(wo, d, hidden), hidden, d)); // [N, D, D]: row j is J·e_j
        var identity = new double[d * d];
        for (int j = 0; j < d; j++) identity[j * d + j] = 1;
        var trace = g.Node("ReduceSum", [g.Mul(jacobian, g.Const(identity, 1, d, d)), g.Ints([1, 2])], null, ("keepdims", 0));
        return [velocity, trace];
    }

    // tanh′ = 1 − a²
    private static string Slope(OnnxGraph g, string a) => g.Sub(g.Scalar(1), g.Mul(a, a));

    // the [cols, rows] transpose of a row-major [rows, cols] matrix
    private static double[] Transpose(double[] w, int rows, int cols)
    {
        var t = new double[w.Length];
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < cols; c++) t[c * rows + r] = w[r * cols + c];
        return t;
    }
}
