using System.Numerics;
using NormalizingFlows.Autograd;
using NormalizingFlows.Tensors;
using NormalizingFlows.Transforms;

namespace NormalizingFlows.Data.Preprocessing;

/// <summary>
/// First step of a <see cref="PreprocessingPipeline{T}"/>: makes the density of points outside the pipeline's domain
/// exactly zero instead of NaN. A row is inside when lower[j] &lt; x[j] &lt; upper[j] for every column j (open
/// bounds; an unbounded side is stored as ∓ the largest finite value of T). Forward passes an inside row through unchanged
/// (log|det| 0) and replaces an outside row by the "anchor" row (a point inside the domain, so that every later step
/// stays finite) with log|det| = −∞, so a flow's log-probability of that row is −∞. Inverse is the identity (samples
/// come out of the later steps inside the domain). Gradients flow through inside rows only.
/// Buffers (saved and loaded): "lower", "upper", "anchor" [D].
/// </summary>
public sealed class DomainGuard<T> : Transform<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly Tensor<T> _lower, _upper, _anchor;

    /// <summary>
    /// Creates the guard for open bounds (<paramref name="lower"/>[j], <paramref name="upper"/>[j]) — infinities mean
    /// unbounded — and the anchor row (<paramref name="anchor"/>[j] must lie strictly inside).
    /// </summary>
    public DomainGuard(ReadOnlySpan<double> lower, ReadOnlySpan<double> upper, ReadOnlySpan<double> anchor) : base(lower.Length)
    {
        if (upper.Length != lower.Length || anchor.Length != lower.Length)
            throw new ArgumentException($"lower, upper and anchor need one entry per column: {lower.Length}, {upper.Length}, {anchor.Length}");
        double big = typeof(T) == typeof(float) ? float.MaxValue : double.MaxValue;
        var lo = new double[lower.Length];
        var hi = new double[lower.Length];
        for (int j = 0; j < lower.Length; j++)
        {
            lo[j] = Math.Max(lower[j], -big);
            hi[j] = Math.Min(upper[j], big);
            if (double.IsNaN(lower[j]) || double.IsNaN(upper[j]) || !(anchor[j] > lo[j] && anchor[j] < hi[j]))
                throw new ArgumentException($"column {j}: the anchor {anchor[j]} must lie strictly inside ({lower[j]}, {upper[j]})");
        }
        _lower = RegisterBuffer("lower", Tensor<T>.FromDoubles(lo, lo.Length));
        _upper = RegisterBuffer("upper", Tensor<T>.FromDoubles(hi, hi.Length));
        _anchor = RegisterBuffer("anchor", Tensor<T>.FromDoubles(anchor, anchor.Length));
    }

    /// <summary>Open lower bound per column (buffer "lower"; the most negative finite value: unbounded).</summary>
    public Tensor<T> Lower => _lower;

    /// <summary>Open upper bound per column (buffer "upper"; the largest finite value: unbounded).</summary>
    public Tensor<T> Upper => _upper;

    /// <summary>The in-domain row that replaces outside rows (buffer "anchor").</summary>
    public Tensor<T> Anchor => _anchor;

    /// <summary>Per row of a [N, D] tensor: true when every column lies strictly inside its bounds (NaN is outside).</summary>
    public bool[] Inside(Tensor<T> x)
    {
        ArgumentNullException.ThrowIfNull(x);
        if (x.Rank != 2 || x.Dim(1) != Features) throw new ArgumentException($"{nameof(DomainGuard<T>)}: input must be [batch, {Features}], got {x.ShapeString}");
        int n = x.Dim(0), d = Features;
        var inside = new bool[n];
        var xs = x.ReadOnlySpan; var lo = _lower.ReadOnlySpan; var hi = _upper.ReadOnlySpan;
        for (int r = 0; r < n; r++)
        {
            bool ok = true;
            for (int j = 0, k = r * d; j < d && ok; j++, k++) ok = xs[k] > lo[j] && xs[k] < hi[j];
            inside[r] = ok;
        }
        return inside;
    }

    /// <inheritdoc/>
    public override (Var<T> Y, Var<T> LogAbsDet) Forward(Var<T> x, Var<T>? context = null)
    {
        CheckShapes(x, context);
        var inside = Inside(x.Value);
        int n = inside.Length, d = Features;
        if (Array.TrueForAll(inside, b => b)) return (x, ZeroLogDet(n));
        var y = x.Value.Clone();
        var ld = Tensor<T>.Zeros(n);
        var ys = y.Span; var ls = ld.Span; var a = _anchor.ReadOnlySpan;
        for (int r = 0; r < n; r++)
            if (!inside[r])
            {
                a.CopyTo(ys.Slice(r * d, d));
                ls[r] = T.NegativeInfinity;
            }
        if (!(GradMode.IsEnabled && x.RequiresGrad)) return (new Var<T>(y), new Var<T>(ld));
        var yVar = new Var<T>(y, [x], o =>
        {
            var gy = o.Grad!.ReadOnlySpan; var gx = x.GradBuffer().Span;
            for (int r = 0; r < n; r++)
                if (inside[r])
                    for (int k = r * d; k < (r + 1) * d; k++) gx[k] += gy[k];
        });
        return (yVar, new Var<T>(ld));
    }

    /// <inheritdoc/>
    public override (Var<T> X, Var<T> LogAbsDet) Inverse(Var<T> y, Var<T>? context = null)
    {
        CheckShapes(y, context);
        return (y, ZeroLogDet(y.Value.Dim(0)));
    }
}
