using System.Numerics;
using NormalizingFlows.Autograd;
using NormalizingFlows.Tensors;

namespace NormalizingFlows.Transforms;

/// <summary>
/// Two elementwise updates chosen per feature by a mask: feature k runs <see cref="Selected"/> where
/// <see cref="Mask"/>[k] is true, <see cref="Others"/> elsewhere — e.g. circular splines on the periodic columns
/// (angles) and ordinary splines on the rest. Both read the first m_u of the m = max(m_selected, m_others) parameters
/// of their features, so their identity parameters must agree where they overlap (true of a circular and an
/// identity-tailed rational-quadratic spline with the same bins and minimum derivative).
/// </summary>
public sealed class MaskedUpdate : IElementwiseUpdate
{
    private readonly int[] _selected, _others;
    private readonly double[] _identity;

    /// <summary>Runs <paramref name="selected"/> on the features where <paramref name="mask"/> is true, <paramref name="others"/> on the rest.</summary>
    public MaskedUpdate(bool[] mask, IElementwiseUpdate selected, IElementwiseUpdate others)
    {
        ArgumentNullException.ThrowIfNull(mask);
        Selected = selected ?? throw new ArgumentNullException(nameof(selected));
        Others = others ?? throw new ArgumentNullException(nameof(others));
        if (mask.Length == 0) throw new ArgumentException("the mask needs at least one feature", nameof(mask));
        foreach (var (update, name) in new[] { (selected, nameof(selected)), (others, nameof(others)) })
            if (update.Bind<double>(new Rng(0)).Weights is not null)
                throw new NotSupportedException($"a masked update cannot hold {update.GetType().Name} (as {name}): its own weights belong to the layer that binds it; use it on every feature of the layer");
        Mask = Array.AsReadOnly((bool[])mask.Clone());
        _selected = Enumerable.Range(0, mask.Length).Where(k => mask[k]).ToArray();
        _others = Enumerable.Range(0, mask.Length).Where(k => !mask[k]).ToArray();
        ParametersPerFeature = Math.Max(selected.ParametersPerFeature, others.ParametersPerFeature);
        var a = selected.IdentityParameters();
        var b = others.IdentityParameters();
        _identity = a.Length >= b.Length ? a : b;
        var shorter = a.Length >= b.Length ? b : a;
        for (int j = 0; j < shorter.Length; j++)
            if (shorter[j] != _identity[j])
                throw new ArgumentException($"the two updates' identity parameters differ at parameter {j} ({shorter[j]} vs {_identity[j]}); they cannot share a conditioner output", nameof(others));
    }

    /// <summary>Per feature: true where <see cref="Selected"/> runs.</summary>
    public IReadOnlyList<bool> Mask { get; }

    /// <summary>The update of the selected features.</summary>
    public IElementwiseUpdate Selected { get; }

    /// <summary>The update of the other features.</summary>
    public IElementwiseUpdate Others { get; }

    /// <inheritdoc/>
    public int ParametersPerFeature { get; }

    /// <inheritdoc/>
    public double[] IdentityParameters() => (double[])_identity.Clone();

    /// <summary>The one-feature update of feature <paramref name="feature"/> (same parameters per feature).</summary>
    public IElementwiseUpdate ForFeature(int feature)
    {
        if ((uint)feature >= (uint)Mask.Count) throw new ArgumentOutOfRangeException(nameof(feature), $"feature {feature} outside [0, {Mask.Count})");
        return Mask[feature] ? _selectedOne ??= new MaskedUpdate([true], Selected, Others) : _othersOne ??= new MaskedUpdate([false], Selected, Others);
    }

    // the one-feature updates ForFeature hands out, built on first use (the incremental MADE inverse asks once per feature)
    private MaskedUpdate? _selectedOne, _othersOne;

    /// <inheritdoc/>
    public (Var<T> Output, Var<T> LogAbsDet) Apply<T>(Var<T> input, Var<T> parameters, bool inverse) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int k = input.Value.Rank == 2 ? input.Value.Dim(1) : -1;
        if (k != Mask.Count)
            throw new ArgumentException($"masked update: input must be [batch, {Mask.Count}] (the mask's features), got {input.Value.ShapeString}", nameof(input));
        if (_others.Length == 0) return Run(Selected, input, parameters, _selected, inverse);
        if (_selected.Length == 0) return Run(Others, input, parameters, _others, inverse);
        var (ys, lds) = Run(Selected, Ops.SelectColumns(input, _selected), parameters, _selected, inverse);
        var (yo, ldo) = Run(Others, Ops.SelectColumns(input, _others), parameters, _others, inverse);
        return (Ops.MergeColumns(ys, _selected, yo, _others, k), Ops.Add(lds, ldo));
    }

    /// <summary>Applies <paramref name="update"/> to <paramref name="features"/>, reading the first m_u parameters of each.</summary>
    private (Var<T>, Var<T>) Run<T>(IElementwiseUpdate update, Var<T> input, Var<T> parameters, int[] features, bool inverse) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int m = ParametersPerFeature, mu = update.ParametersPerFeature;
        if (mu == m && features.Length == Mask.Count) return update.Apply(input, parameters, inverse);
        var columns = new int[features.Length * mu];
        for (int a = 0; a < features.Length; a++)
            for (int j = 0; j < mu; j++) columns[a * mu + j] = features[a] * m + j;
        return update.Apply(input, Ops.SelectColumns(parameters, columns), inverse);
    }
}
