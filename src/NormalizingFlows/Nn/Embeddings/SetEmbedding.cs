using System.Numerics;
using NormalizingFlows.Autograd;
using NormalizingFlows.Tensors;

namespace NormalizingFlows.Nn.Embeddings;

/// <summary>
/// Deep-sets embedding ρ(Σₖ mₖ·φ(eₖ)) of a set of up to K elements (jets, hits): the input is [N, K·(F + 1)], each
/// element a presence flag mₖ ∈ {0, 1} followed by its F features (<see cref="WithPresenceFlags"/> makes this layout
/// from sets with NaN marking absent elements). The features of a present element are first standardised with
/// per-feature constants shared by all elements (buffers "feature_mean", "feature_std" [F]; identity until
/// <see cref="SetStandardization"/>). Invariant under permutations of the elements; absent elements contribute
/// nothing; the input is read as data (no gradient flows back to it). φ and ρ are ReLU MLPs ("phi" and "rho").
/// </summary>
public sealed class SetEmbedding<T> : ContextEmbedding<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly Mlp<T> _phi, _rho;
    private readonly Tensor<T> _mean, _std;
    private readonly int _hidden;
    private Tensor<T>? _sum;

    /// <summary>Creates φ: F → hidden (×layers) → hidden and ρ: hidden → hidden (×layers) → <paramref name="outFeatures"/>.</summary>
    public SetEmbedding(int elementFeatures, int elements, int hidden, int layers, int outFeatures, Rng rng)
        : base(checked(Math.Max(1, elements) * (Math.Max(1, elementFeatures) + 1)), outFeatures)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(elementFeatures, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(elements, 1);
        ElementFeatures = elementFeatures;
        Elements = elements;
        _hidden = hidden;
        var h = Enumerable.Repeat(hidden, layers).ToArray();
        _phi = RegisterModule("phi", new Mlp<T>(elementFeatures, h, hidden, rng));
        _rho = RegisterModule("rho", new Mlp<T>(hidden, h, outFeatures, rng));
        _mean = RegisterBuffer("feature_mean", Tensor<T>.Zeros(elementFeatures));
        _std = RegisterBuffer("feature_std", Tensor<T>.Full(T.One, elementFeatures));
    }

    /// <summary>Features per element F.</summary>
    public int ElementFeatures { get; }

    /// <summary>Maximum number of elements K.</summary>
    public int Elements { get; }

    /// <summary>Sets the per-feature standardisation (x − mean)/std applied to every element (each std finite and positive).</summary>
    public void SetStandardization(ReadOnlySpan<double> mean, ReadOnlySpan<double> std)
    {
        if (mean.Length != ElementFeatures || std.Length != ElementFeatures)
            throw new ArgumentException($"the standardisation needs {ElementFeatures} means and standard deviations, got {mean.Length} and {std.Length}");
        for (int j = 0; j < ElementFeatures; j++)
        {
            if (!double.IsFinite(mean[j])) throw new ArgumentException($"mean[{j}] = {mean[j]} must be finite", nameof(mean));
            if (!(std[j] > 0) || !double.IsFinite(std[j])) throw new ArgumentException($"std[{j}] = {std[j]} must be finite and positive", nameof(std));
            _mean.Span[j] = T.CreateTruncating(mean[j]);
            _std.Span[j] = T.CreateTruncating(std[j]);
        }
    }

    /// <summary>
    /// The layout this embedding reads, [N, K·(F + 1)], from sets [N, K·F] whose absent elements have all F features
    /// NaN: each element becomes [1, its features], an absent one zeros. A partly NaN element or an infinite value
    /// throws an <see cref="ArgumentException"/> naming the row and element.
    /// </summary>
    public static Tensor<T> WithPresenceFlags(Tensor<T> sets, int elementFeatures)
    {
        ArgumentNullException.ThrowIfNull(sets);
        ArgumentOutOfRangeException.ThrowIfLessThan(elementFeatures, 1);
        int f = elementFeatures, m = sets.Cols, n = sets.Rows;
        if (sets.Rank != 2 || m % f != 0) throw new ArgumentException($"sets must be [N, K·{f}], got {sets.ShapeString}", nameof(sets));
        int k = m / f;
        var r = Tensor<T>.Empty(n, k * (f + 1));
        var s = sets.ReadOnlySpan;
        var d = r.Span;
        for (int i = 0; i < n; i++)
            for (int e = 0; e < k; e++)
            {
                int src = i * m + e * f, dst = (i * k + e) * (f + 1), nan = 0;
                for (int j = 0; j < f; j++)
                {
                    if (T.IsNaN(s[src + j])) nan++;
                    else if (!T.IsFinite(s[src + j])) throw new ArgumentException($"row {i}, column {e * f + j} is {s[src + j]}: values must be finite (NaN marks an absent set element)");
                }
                if (nan == f)
                {
                    d.Slice(dst, f + 1).Clear();
                    continue;
                }
                if (nan > 0) throw new ArgumentException($"row {i}, set element {e}: {nan} of {f} features are NaN; an absent element has all its features NaN");
                d[dst] = T.One;
                s.Slice(src, f).CopyTo(d.Slice(dst + 1, f));
            }
        return r;
    }

    /// <inheritdoc/>
    public override Var<T> Forward(Var<T> x)
    {
        ArgumentNullException.ThrowIfNull(x);
        int n = x.Rows, k = Elements, f = ElementFeatures;
        if (x.Cols != k * (f + 1)) throw new ArgumentException($"the set embedding expects {k}×({f} + 1) = {k * (f + 1)} values per row, got {x.Cols}", nameof(x));
        // presence flags and standardised features (data: no gradient flows to them)
        var feats = Tensor<T>.Empty(n * k, f);
        var mask = Tensor<T>.Empty(n * k, 1);
        var src = x.Value.ReadOnlySpan;
        var dst = feats.Span;
        var m = mask.Span;
        var mu = _mean.ReadOnlySpan;
        var sd = _std.ReadOnlySpan;
        bool anyMissing = false;
        for (int e = 0; e < n * k; e++)
        {
            m[e] = src[e * (f + 1)];
            if (m[e] == T.Zero)
            {
                anyMissing = true;
                dst.Slice(e * f, f).Clear();
                continue;
            }
            for (int j = 0; j < f; j++) dst[e * f + j] = (src[e * (f + 1) + 1 + j] - mu[j]) / sd[j];
        }
        var phi = _phi.Forward(new Var<T>(feats));
        if (anyMissing) phi = Ops.Mul(phi, new Var<T>(mask));
        // Σₖ: [N, K·H] · [I; I; …; I] (K stacked H×H identities) — one GEMM node on the tape
        _sum ??= StackedIdentity(k, _hidden);
        var pooled = Ops.MatMul(Ops.Reshape(phi, n, k * _hidden), new Var<T>(_sum));
        return _rho.Forward(pooled);
    }

    private static Tensor<T> StackedIdentity(int k, int h)
    {
        var s = Tensor<T>.Zeros(k * h, h).Untrack();
        var span = s.Span;
        for (int e = 0; e < k; e++)
            for (int i = 0; i < h; i++) span[(e * h + i) * h + i] = T.One;
        return s;
    }
}
