using System.Numerics;
using NormalizingFlows.Autograd;
using NormalizingFlows.Transforms;

namespace NormalizingFlows.Data.Preprocessing;

/// <summary>
/// Applies an inner transform of k features to k chosen columns of [N, D] data and leaves the other columns unchanged;
/// log|det| is the inner one (the untouched columns contribute 0). Child module "inner" holds the inner state. Used by
/// <see cref="PreprocessingPipeline{T}"/> to run a per-column step (log, min-max, logit) on the columns that asked for it.
/// </summary>
public sealed class ColumnwiseTransform<T> : Transform<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly int[] _columns, _others, _inversePermutation;
    private readonly bool _identity;

    /// <summary>Runs <paramref name="inner"/> on <paramref name="columns"/> (distinct, in [0, <paramref name="features"/>)) of <paramref name="features"/>-column data.</summary>
    public ColumnwiseTransform(int features, int[] columns, Transform<T> inner) : base(features, inner?.ContextFeatures ?? 0)
    {
        ArgumentNullException.ThrowIfNull(columns);
        ArgumentNullException.ThrowIfNull(inner);
        if (columns.Length == 0) throw new ArgumentException("a columnwise transform needs at least one column", nameof(columns));
        if (inner.Features != columns.Length)
            throw new ArgumentException($"the inner transform has {inner.Features} features but {columns.Length} columns were chosen", nameof(inner));
        var seen = new bool[features];
        foreach (int c in columns)
        {
            if ((uint)c >= (uint)features) throw new ArgumentOutOfRangeException(nameof(columns), $"column {c} outside [0, {features})");
            if (seen[c]) throw new ArgumentException($"column {c} is chosen twice", nameof(columns));
            seen[c] = true;
        }
        _columns = (int[])columns.Clone();
        _others = Enumerable.Range(0, features).Where(c => !seen[c]).ToArray();
        _inversePermutation = new int[features];
        for (int j = 0; j < _columns.Length; j++) _inversePermutation[_columns[j]] = j;
        _identity = _others.Length == 0 && _columns.SequenceEqual(Enumerable.Range(0, features));
        Inner = RegisterModule("inner", inner);
    }

    /// <summary>The columns the inner transform acts on, in the inner transform's feature order.</summary>
    public IReadOnlyList<int> Columns => _columns;

    /// <summary>The transform applied to <see cref="Columns"/>.</summary>
    public Transform<T> Inner { get; }

    /// <inheritdoc/>
    public override (Var<T> Y, Var<T> LogAbsDet) Forward(Var<T> x, Var<T>? context = null)
    {
        CheckShapes(x, context);
        return Apply(x, context, inverse: false);
    }

    /// <inheritdoc/>
    public override (Var<T> X, Var<T> LogAbsDet) Inverse(Var<T> y, Var<T>? context = null)
    {
        CheckShapes(y, context);
        return Apply(y, context, inverse: true);
    }

    private (Var<T>, Var<T>) Apply(Var<T> x, Var<T>? context, bool inverse)
    {
        if (_identity) return inverse ? Inner.Inverse(x, context) : Inner.Forward(x, context);
        var part = Ops.SelectColumns(x, _columns);
        var (mapped, ld) = inverse ? Inner.Inverse(part, context) : Inner.Forward(part, context);
        if (_others.Length == 0) return (Ops.SelectColumns(mapped, _inversePermutation), ld);
        return (Ops.MergeColumns(mapped, _columns, Ops.SelectColumns(x, _others), _others, Features), ld);
    }
}
