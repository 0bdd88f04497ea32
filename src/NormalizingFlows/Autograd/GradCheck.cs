using NormalizingFlows.Tensors;

namespace NormalizingFlows.Autograd;

/// <summary>
/// Checks back-propagated gradients against central finite differences in double precision. The output is
/// projected onto fixed pseudo-random weights (L = Σ wᵢ·fᵢ) so that every output element's gradient is tested.
/// </summary>
public static class GradCheck
{
    /// <summary>
    /// Checks d(Σ w·f)/d(leaf) for every element of every leaf. <paramref name="f"/> must recompute its output from the
    /// current leaf values each call (leaves are perturbed in place and restored).
    /// </summary>
    public static GradCheckResult Check(Func<Var<double>> f, IReadOnlyList<Var<double>> leaves,
        double eps = 1e-6, double atol = 1e-6, double rtol = 1e-5)
    {
        foreach (var l in leaves)
        {
            if (!l.RequiresGrad) throw new ArgumentException($"leaf {l.Name ?? "(unnamed)"} does not require gradients");
            l.Grad?.Span.Clear();
        }
        var y = f();
        var w = Weights(y.Value.Length);
        var seed = Tensor<double>.From(w, y.Value.Shape.ToArray());
        y.Backward(seed);
        var result = new GradCheckResult(0, -1, -1, 0, 0);
        for (int li = 0; li < leaves.Count; li++)
        {
            var leaf = leaves[li];
            var v = leaf.Value.Span;
            var analytic = leaf.Grad?.ToArray() ?? new double[v.Length];
            for (int i = 0; i < v.Length; i++)
            {
                double orig = v[i];
                double h = eps * Math.Max(1.0, Math.Abs(orig));
                v[i] = orig + h;
                double plus = Project(f, w);
                v[i] = orig - h;
                double minus = Project(f, w);
                v[i] = orig;
                double numeric = (plus - minus) / (2 * h);
                double err = Math.Abs(analytic[i] - numeric) / (atol + rtol * Math.Abs(numeric));
                if (double.IsNaN(err)) err = double.PositiveInfinity;
                if (err > result.MaxError || result.Leaf < 0)
                    result = new GradCheckResult(err, li, i, analytic[i], numeric);
            }
        }
        return result;
    }

    /// <summary>Checks an op of fresh inputs: each tensor becomes a leaf requiring gradients.</summary>
    public static GradCheckResult Check(Func<Var<double>[], Var<double>> f, params Tensor<double>[] inputs)
    {
        var leaves = inputs.Select(t => new Var<double>(t, requiresGrad: true)).ToArray();
        return Check(() => f(leaves), leaves);
    }

    private static double Project(Func<Var<double>> f, double[] w)
    {
        using var _ = GradMode.Disable();
        var y = f().Value.ReadOnlySpan;
        double s = 0;
        for (int i = 0; i < y.Length; i++) s += w[i] * y[i];
        return s;
    }

    private static double[] Weights(int n)
    {
        var w = new double[n];
        ulong state = 0x9E3779B97F4A7C15UL;
        for (int i = 0; i < n; i++)
        {
            state = state * 6364136223846793005UL + 1442695040888963407UL;
            w[i] = 0.5 + (state >> 11) * (1.0 / (1UL << 53)); // in [0.5, 1.5): no cancellation to zero
        }
        return w;
    }
}
