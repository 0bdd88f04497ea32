using System.Numerics;
using NormalizingFlows.Autograd;
using NormalizingFlows.Tensors;

namespace NormalizingFlows.Distributions;

/// <summary>
/// The base of flows with periodic features (angles): standard normal on the ordinary features, uniform on the circle
/// [−B, B) on the periodic ones (log-density −log 2B each; −∞ outside [−B, B]). Not trainable; a context is ignored.
/// </summary>
public sealed class PeriodicNormal<T> : Distribution<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly int[] _periodic, _ordinary;

    /// <summary>N(0, 1) on every feature of <paramref name="features"/> except the <paramref name="periodic"/> ones, uniform on [−bound, bound) there.</summary>
    public PeriodicNormal(int features, int[] periodic, double bound = Math.PI) : base(features)
    {
        ArgumentNullException.ThrowIfNull(periodic);
        if (!(bound > 0) || !double.IsFinite(bound)) throw new ArgumentOutOfRangeException(nameof(bound), bound, "the circle's half-period must be positive and finite");
        Mask(features, periodic);
        _periodic = periodic.Order().ToArray();
        _ordinary = Enumerable.Range(0, features).Except(_periodic).ToArray();
        Bound = bound;
    }

    /// <summary>
    /// Per feature: whether <paramref name="periodic"/> lists it; throws when an index lies outside [0, features) or is
    /// listed twice.
    /// </summary>
    public static bool[] Mask(int features, IReadOnlyList<int> periodic)
    {
        ArgumentNullException.ThrowIfNull(periodic);
        var mask = new bool[features];
        foreach (int j in periodic)
        {
            if ((uint)j >= (uint)features) throw new ArgumentOutOfRangeException(nameof(periodic), $"periodic feature {j} outside [0, {features})");
            if (mask[j]) throw new ArgumentException($"periodic feature {j} is listed twice", nameof(periodic));
            mask[j] = true;
        }
        return mask;
    }

    /// <summary>The periodic features, ascending.</summary>
    public IReadOnlyList<int> Periodic => _periodic;

    /// <summary>Half-period B of the circle [−B, B).</summary>
    public double Bound { get; }

    /// <inheritdoc/>
    public override Var<T> LogProb(Var<T> x, Var<T>? context = null)
    {
        CheckInput(x, null);
        var v = x.Value;
        int n = v.Dim(0), d = Features;
        var constant = Tensor<T>.Empty(n);
        var xs = v.ReadOnlySpan;
        T b = T.CreateTruncating(Bound);
        T inside = T.CreateTruncating(-_periodic.Length * Math.Log(2 * Bound));
        for (int r = 0; r < n; r++)
        {
            bool ok = true;
            foreach (int j in _periodic) ok &= xs[r * d + j] >= -b && xs[r * d + j] <= b;
            constant[r] = ok ? inside : T.NegativeInfinity;
        }
        if (_ordinary.Length == 0) return new Var<T>(constant);
        var normal = StandardNormal<T>.LogProbOp(_ordinary.Length == d ? x : Ops.SelectColumns(x, _ordinary));
        return Ops.Add(normal, new Var<T>(constant));
    }

    /// <inheritdoc/>
    public override Var<T> Sample(int n, Rng rng, Var<T>? context = null)
    {
        CheckCount(n);
        var t = rng.Normal<T>(n, Features);
        var s = t.Span;
        for (int r = 0; r < n; r++)
            foreach (int j in _periodic)
                s[r * Features + j] = T.CreateTruncating(Bound * (2 * rng.NextDouble() - 1));
        return new Var<T>(t);
    }
}
