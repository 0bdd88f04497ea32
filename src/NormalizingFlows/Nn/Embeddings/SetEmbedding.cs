using System.Numerics;
using NormalizingFlows.Autograd;
using NormalizingFlows.Tensors;

namespace NormalizingFlows.Nn.Embeddings;

/// <summary>
/// Deep-sets embedding ρ(Σₖ mₖ·φ(eₖ)) of a set of up to K elements (jets, hits): the input is [N, K·(F + 1)], each
/// element a presence flag mₖ ∈ {0, 1} followed by its F features (zeros when absent). Invariant under permutations
/// of the elements; absent elements contribute nothing; the input is read as data (no gradient flows back to it). φ and ρ are ReLU MLPs (registered as "phi" and "rho").
/// </summary>
public sealed class SetEmbedding<T> : ContextEmbedding<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly Mlp<T> _phi, _rho;
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
    }

    /// <summary>Features per element F.</summary>
    public int ElementFeatures { get; }

    /// <summary>Maximum number of elements K.</summary>
    public int Elements { get; }

    /// <inheritdoc/>
    public override Var<T> Forward(Var<T> x)
    {
        ArgumentNullException.ThrowIfNull(x);
        int n = x.Rows, k = Elements, f = ElementFeatures;
        if (x.Cols != k * (f + 1)) throw new ArgumentException($"the set embedding expects {k}×({f} + 1) = {k * (f + 1)} values per row, got {x.Cols}", nameof(x));
        // split flags from features (the flags are data: no gradient flows to them)
        var feats = Tensor<T>.Empty(n * k, f);
        var mask = Tensor<T>.Empty(n * k, 1);
        var src = x.Value.ReadOnlySpan;
        var dst = feats.Span;
        var m = mask.Span;
        bool anyMissing = false;
        for (int e = 0; e < n * k; e++)
        {
            m[e] = src[e * (f + 1)];
            anyMissing |= m[e] == T.Zero;
            src.Slice(e * (f + 1) + 1, f).CopyTo(dst.Slice(e * f, f));
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
