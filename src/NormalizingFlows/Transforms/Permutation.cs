using System.Numerics;
using NormalizingFlows.Autograd;
using NormalizingFlows.Tensors;

namespace NormalizingFlows.Transforms;

/// <summary>
/// Reorders the features: y[:, j] = x[:, Order[j]] (log|det| = 0). The order is a saved buffer ("order"), so a
/// random permutation is restored exactly on load.
/// </summary>
public sealed class Permutation<T> : Transform<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly Tensor<T> _orderBuffer;
    private int[] _order = [], _inverse = [];

    /// <summary>y[:, j] = x[:, order[j]]; <paramref name="order"/> must be a permutation of 0 … D−1.</summary>
    public Permutation(int[] order) : base(order.Length)
    {
        _orderBuffer = RegisterBuffer("order", Tensor<T>.Empty(order.Length));
        SetOrder(order);
    }

    /// <summary>Reverses the feature order.</summary>
    public static Permutation<T> Reverse(int features) => new(Enumerable.Range(0, features).Reverse().ToArray());

    /// <summary>A seeded random permutation.</summary>
    public static Permutation<T> Random(int features, Rng rng) => new(rng.Permutation(features));

    /// <summary>The permutation (y[:, j] = x[:, Order[j]]).</summary>
    public IReadOnlyList<int> Order => _order;

    private void SetOrder(int[] order)
    {
        var inv = new int[order.Length];
        Array.Fill(inv, -1);
        for (int j = 0; j < order.Length; j++)
        {
            if ((uint)order[j] >= (uint)order.Length || inv[order[j]] >= 0)
                throw new ArgumentException($"[{string.Join(", ", order)}] is not a permutation of 0 … {order.Length - 1}");
            inv[order[j]] = j;
        }
        _order = (int[])order.Clone();
        _inverse = inv;
        for (int j = 0; j < order.Length; j++) _orderBuffer[j] = T.CreateTruncating(order[j]);
    }

    /// <inheritdoc/>
    protected override void OnStateLoaded()
    {
        SetOrder(_orderBuffer.ToArray().Select(v => int.CreateTruncating(T.Round(v))).ToArray());
        base.OnStateLoaded();
    }

    /// <inheritdoc/>
    public override (Var<T> Y, Var<T> LogAbsDet) Forward(Var<T> x, Var<T>? context = null)
    {
        CheckShapes(x, context);
        return (Ops.SelectColumns(x, _order), ZeroLogDet(x.Value.Dim(0)));
    }

    /// <inheritdoc/>
    public override (Var<T> X, Var<T> LogAbsDet) Inverse(Var<T> y, Var<T>? context = null)
    {
        CheckShapes(y, context);
        return (Ops.SelectColumns(y, _inverse), ZeroLogDet(y.Value.Dim(0)));
    }
}
