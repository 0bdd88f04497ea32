using System.Numerics;
using NormalizingFlows.Autograd;
using NormalizingFlows.Nn;
using NormalizingFlows.Tensors;
using NormalizingFlows.Transforms;

namespace NormalizingFlows.Hep.Inference;

/// <summary>Kinds of summary (embedding) network in front of a posterior flow's context.</summary>
public enum SummaryKind
{
    /// <summary>No network: the standardised observation is the context.</summary>
    None,
    /// <summary>A ReLU MLP x → hidden → … → summary, for fixed-length high-dimensional observations.</summary>
    Mlp,
    /// <summary>
    /// A permutation-invariant deep-sets network for sets (jets, hits): the observation is K elements of F features
    /// laid out [e₀f₀ … e₀f_F−1, e₁f₀, …]; ρ(Σₖ φ(eₖ)) with ReLU MLPs φ and ρ. Absent elements of a smaller set are
    /// given as NaN in all F features and are left out of the sum.
    /// </summary>
    SumPooling,
}

/// <summary>The architecture of a summary network (stored with the model).</summary>
public sealed record SummarySpec
{
    /// <summary>Which network.</summary>
    public SummaryKind Kind { get; init; } = SummaryKind.None;

    /// <summary>Output features (the flow's context size); ignored for <see cref="SummaryKind.None"/>.</summary>
    public int Features { get; init; } = 16;

    /// <summary>Hidden units per layer.</summary>
    public int Hidden { get; init; } = 64;

    /// <summary>Hidden layers of each MLP (of φ and ρ for sum pooling).</summary>
    public int Layers { get; init; } = 2;

    /// <summary>Features per set element F (sum pooling only; the observation size must be a multiple of it).</summary>
    public int ElementFeatures { get; init; }

    /// <summary>Throws an <see cref="ArgumentException"/> naming the first invalid field for an observation of <paramref name="observationFeatures"/> values.</summary>
    public void Validate(int observationFeatures)
    {
        if (Kind == SummaryKind.None) return;
        if (Features < 1) throw new ArgumentException($"summary features must be ≥ 1, got {Features}");
        if (Hidden < 1) throw new ArgumentException($"summary hidden units must be ≥ 1, got {Hidden}");
        if (Layers < 1) throw new ArgumentException($"summary layers must be ≥ 1, got {Layers}");
        if (Kind == SummaryKind.SumPooling && (ElementFeatures < 1 || observationFeatures % ElementFeatures != 0))
            throw new ArgumentException($"sum pooling needs ElementFeatures ≥ 1 dividing the observation's {observationFeatures} values, got {ElementFeatures}");
    }

    /// <summary>The context size the flow sees: <see cref="Features"/>, or the observation size without a network.</summary>
    public int ContextFeatures(int observationFeatures) => Kind == SummaryKind.None ? observationFeatures : Features;

    /// <summary>The width of the standardised observation the network reads: K·(F + 1) for sum pooling (a presence flag per element), else m.</summary>
    public int InputFeatures(int observationFeatures) => Kind == SummaryKind.SumPooling ? observationFeatures / ElementFeatures * (ElementFeatures + 1) : observationFeatures;

    internal SummaryNetwork<T>? Build<T>(int observationFeatures, Rng rng) where T : unmanaged, IFloatingPointIeee754<T>
    {
        Validate(observationFeatures);
        var hidden = Enumerable.Repeat(Hidden, Layers).ToArray();
        return Kind switch
        {
            SummaryKind.None => null,
            SummaryKind.Mlp => new MlpSummary<T>(new Mlp<T>(observationFeatures, hidden, Features, rng)),
            SummaryKind.SumPooling => new SumPoolingSummary<T>(ElementFeatures, observationFeatures / ElementFeatures, Hidden, Layers, Features, rng),
            _ => throw new ArgumentException($"unknown summary kind {Kind}"),
        };
    }
}

/// <summary>A summary (embedding) network: standardised observation [N, in] → context [N, out], trained with the flow.</summary>
public abstract class SummaryNetwork<T> : Module<T>, ILayer<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <inheritdoc/>
    public abstract Var<T> Forward(Var<T> x);
}

/// <summary>An MLP summary (registered as "net").</summary>
public sealed class MlpSummary<T> : SummaryNetwork<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly Mlp<T> _net;

    /// <summary>Wraps <paramref name="net"/>.</summary>
    public MlpSummary(Mlp<T> net) => _net = RegisterModule("net", net);

    /// <inheritdoc/>
    public override Var<T> Forward(Var<T> x) => _net.Forward(x);
}

/// <summary>
/// Deep-sets summary ρ(Σₖ mₖ·φ(eₖ)) of a set of K elements: the input is [N, K·(F + 1)], each element a presence flag
/// mₖ ∈ {0, 1} followed by its F (standardised) features, zeros when absent. Invariant under permutations of the
/// elements; absent elements contribute nothing.
/// </summary>
public sealed class SumPoolingSummary<T> : SummaryNetwork<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly Mlp<T> _phi, _rho;
    private readonly int _hidden;
    private Tensor<T>? _sum;

    /// <summary>Creates φ: F → hidden (×layers) → hidden and ρ: hidden → hidden (×layers) → <paramref name="outFeatures"/>.</summary>
    public SumPoolingSummary(int elementFeatures, int elements, int hidden, int layers, int outFeatures, Rng rng)
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
        int n = x.Rows, k = Elements, f = ElementFeatures;
        if (x.Cols != k * (f + 1)) throw new ArgumentException($"sum pooling expects {k}×({f} + 1) = {k * (f + 1)} values per row, got {x.Cols}");
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

/// <summary>
/// A transform that runs a summary network on its context before passing it on: Forward(θ, x) = inner.Forward(θ,
/// summary(x)). Wrapping a builder's flow this way lets <see cref="NormalizingFlows.Training.MaximumLikelihoodTrainer{T}"/> train the
/// summary network jointly with the flow (its parameters are registered here as "summary").
/// </summary>
public sealed class SummarisedContextTransform<T> : Transform<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Wraps <paramref name="inner"/> (conditioned on the summary's output) behind <paramref name="summary"/> reading <paramref name="inputFeatures"/> values.</summary>
    public SummarisedContextTransform(Transform<T> inner, SummaryNetwork<T> summary, int inputFeatures) : base(inner.Features, inputFeatures)
    {
        Inner = RegisterModule("inner", inner);
        Summary = RegisterModule("summary", summary);
    }

    /// <summary>The flow's transform, conditioned on the summary.</summary>
    public Transform<T> Inner { get; }

    /// <summary>The summary network.</summary>
    public SummaryNetwork<T> Summary { get; }

    /// <inheritdoc/>
    public override (Var<T> Y, Var<T> LogAbsDet) Forward(Var<T> x, Var<T>? context = null)
    {
        CheckShapes(x, context);
        return Inner.Forward(x, Summary.Forward(context!));
    }

    /// <inheritdoc/>
    public override (Var<T> X, Var<T> LogAbsDet) Inverse(Var<T> y, Var<T>? context = null)
    {
        CheckShapes(y, context);
        return Inner.Inverse(y, Summary.Forward(context!));
    }
}
