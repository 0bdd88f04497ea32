using System.Numerics;
using NormalizingFlows.Tensors;
using NormalizingFlows.Tensors.Kernels;

namespace NormalizingFlows.Autograd;

public static partial class Ops
{
    /// <summary>Σ of all elements (rank-0 result, double accumulation).</summary>
    public static Var<T> Sum<T>(Var<T> x) where T : unmanaged, IFloatingPointIeee754<T>
        => ScaledSum(x, 1.0);

    /// <summary>Mean of all elements (rank-0 result). The mean of an empty tensor is an error.</summary>
    public static Var<T> Mean<T>(Var<T> x) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (x.Value.Length == 0) throw new ArgumentException("Mean of an empty tensor");
        return ScaledSum(x, 1.0 / x.Value.Length);
    }

    private static Var<T> ScaledSum<T>(Var<T> x, double scale) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var y = Tensor<T>.Scalar(T.CreateTruncating(Reductions.Sum(x.Value.ReadOnlySpan) * scale));
        if (!Record(x)) return ConstantNode<T>.Create(y);
        T s = T.CreateTruncating(scale);
        return StateNode<T, T>.Create(y, [x], s, static (s, o) =>
        {
            T g = o.Grad!.Span[0] * s;
            var gx = o.Inputs[0].GradBuffer().Span;
            for (int i = 0; i < gx.Length; i++) gx[i] += g;
        });
    }

    /// <summary>Per-row sums of a 2-D value: [N, C] → [N].</summary>
    public static Var<T> SumRows<T>(Var<T> x) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int n = x.Value.Rows, c = x.Value.Cols;
        if (x.Value.Rank != 2) throw new ArgumentException($"SumRows needs [N, C], got {x.Value.ShapeString}");
        var y = Tensor<T>.Empty(n);
        Reductions.SumRows(x.Value.ReadOnlySpan, n, c, y.Span);
        if (!Record(x)) return ConstantNode<T>.Create(y);
        return new Var<T>(y, [x], o =>
        {
            var gy = o.Grad!.ReadOnlySpan; var gx = x.GradBuffer().Span;
            for (int r = 0; r < n; r++)
            {
                T g = gy[r];
                var row = gx.Slice(r * c, c);
                for (int j = 0; j < c; j++) row[j] += g;
            }
        });
    }

    /// <summary>Per-column sums of a 2-D value: [N, C] → [C].</summary>
    public static Var<T> SumCols<T>(Var<T> x) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (x.Value.Rank != 2) throw new ArgumentException($"SumCols needs [N, C], got {x.Value.ShapeString}");
        int n = x.Value.Rows, c = x.Value.Cols;
        var y = Tensor<T>.Empty(c);
        Reductions.SumCols(x.Value.ReadOnlySpan, n, c, y.Span);
        if (!Record(x)) return ConstantNode<T>.Create(y);
        return new Var<T>(y, [x], o =>
        {
            var gy = o.Grad!.ReadOnlySpan; var gx = x.GradBuffer().Span;
            for (int r = 0; r < n; r++) Elementwise.Add(gx.Slice(r * c, c), gy, gx.Slice(r * c, c));
        });
    }

    /// <summary>Per-row log Σ exp of a 2-D value: [N, C] → [N], stable; the gradient is the row softmax.</summary>
    public static Var<T> LogSumExpRows<T>(Var<T> x) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (x.Value.Rank != 2) throw new ArgumentException($"LogSumExpRows needs [N, C], got {x.Value.ShapeString}");
        int n = x.Value.Rows, c = x.Value.Cols;
        var y = Tensor<T>.Empty(n);
        Reductions.LogSumExpRows(x.Value.ReadOnlySpan, n, c, y.Span);
        if (!Record(x)) return ConstantNode<T>.Create(y);
        return new Var<T>(y, [x], o =>
        {
            var gy = o.Grad!.ReadOnlySpan; var gx = x.GradBuffer().Span; var xv = x.Value.ReadOnlySpan; var yv = o.Value.ReadOnlySpan;
            for (int r = 0; r < n; r++)
            {
                T lse = yv[r], g = gy[r];
                if (T.IsNegativeInfinity(lse)) continue;
                for (int j = 0; j < c; j++) gx[r * c + j] += g * T.Exp(xv[r * c + j] - lse);
            }
        });
    }
}

public static partial class Ops
{
    /// <summary>Per-row maximum of a 2-D value: [N, C] → [N]; the gradient goes to the first arg-max of each row.</summary>
    public static Var<T> MaxRows<T>(Var<T> x) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (x.Value.Rank != 2) throw new ArgumentException($"MaxRows needs [N, C], got {x.Value.ShapeString}");
        int n = x.Value.Rows, c = x.Value.Cols;
        if (c == 0) throw new ArgumentException("MaxRows of rows with no columns");
        var y = Tensor<T>.Empty(n);
        Reductions.MaxRows(x.Value.ReadOnlySpan, n, c, y.Span);
        if (!Record(x)) return ConstantNode<T>.Create(y);
        return new Var<T>(y, [x], o =>
        {
            var gy = o.Grad!.ReadOnlySpan; var gx = x.GradBuffer().Span; var xv = x.Value.ReadOnlySpan; var yv = o.Value.ReadOnlySpan;
            for (int r = 0; r < n; r++)
            {
                int j = xv.Slice(r * c, c).IndexOf(yv[r]);
                if (j >= 0) gx[r * c + j] += gy[r];
            }
        });
    }
}
