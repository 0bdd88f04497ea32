using System.Numerics;
using NormalizingFlows.Autograd;
using NormalizingFlows.Tensors;

namespace NormalizingFlows.Distributions;

/// <summary>Uniform on the box [low, high] (per feature; not trainable). Outside the box the log-density is −∞.</summary>
public sealed class BoxUniform<T> : Distribution<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly double[] _low, _high;
    private readonly double _logVolume;

    /// <summary>Uniform on [low_j, high_j] for every feature j.</summary>
    public BoxUniform(double[] low, double[] high) : base(low.Length)
    {
        if (high.Length != low.Length) throw new ArgumentException($"low has {low.Length} entries, high {high.Length}");
        for (int j = 0; j < low.Length; j++)
            if (!(high[j] > low[j]) || !double.IsFinite(low[j]) || !double.IsFinite(high[j]))
                throw new ArgumentException($"feature {j}: box [{low[j]}, {high[j]}] is empty or not finite");
        _low = (double[])low.Clone();
        _high = (double[])high.Clone();
        _logVolume = Enumerable.Range(0, low.Length).Sum(j => Math.Log(high[j] - low[j]));
    }

    /// <summary>The lower corner of the box.</summary>
    public IReadOnlyList<double> Low => _low;

    /// <summary>The upper corner of the box.</summary>
    public IReadOnlyList<double> High => _high;

    /// <summary>The unit hypercube [0, 1]^d.</summary>
    public static BoxUniform<T> UnitCube(int features) => new(new double[features], Enumerable.Repeat(1.0, features).ToArray());

    /// <inheritdoc/>
    public override Var<T> LogProb(Var<T> x, Var<T>? context = null)
    {
        CheckInput(x, null);
        var v = x.Value;
        int n = v.Dim(0), d = Features;
        var y = Tensor<T>.Empty(n);
        var xs = v.ReadOnlySpan;
        for (int r = 0; r < n; r++)
        {
            bool inside = true;
            for (int j = 0; j < d && inside; j++)
            {
                double e = double.CreateTruncating(xs[r * d + j]);
                inside = e >= _low[j] && e <= _high[j];
            }
            y[r] = inside ? T.CreateTruncating(-_logVolume) : T.NegativeInfinity;
        }
        return new Var<T>(y); // constant in x almost everywhere: no gradient
    }

    /// <inheritdoc/>
    public override Var<T> Sample(int n, Rng rng, Var<T>? context = null)
    {
        CheckCount(n);
        var t = Tensor<T>.Empty(n, Features);
        var s = t.Span;
        for (int r = 0; r < n; r++)
            for (int j = 0; j < Features; j++)
            {
                double u = _low[j] + (_high[j] - _low[j]) * rng.NextDouble();
                s[r * Features + j] = T.CreateTruncating(u);
            }
        return new Var<T>(t);
    }
}
